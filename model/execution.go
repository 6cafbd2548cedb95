package model

import "time"

// MaxAttempts bounds how often a retryable failure is tried in all.
const MaxAttempts = 3

// Usage counts the tokens of LM calls to one model.
type Usage struct {
	Calls            int `json:"calls,omitempty"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Add sums two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{Calls: u.Calls + o.Calls, PromptTokens: u.PromptTokens + o.PromptTokens, CompletionTokens: u.CompletionTokens + o.CompletionTokens}
}

// Execution is one run of one program version on one input.
type Execution struct {
	ID          ID               `json:"id"`
	Program     string           `json:"program"`
	Version     int              `json:"version"`
	LM          string           `json:"lm,omitempty"`
	State       RunState         `json:"state"`
	Attempts    int              `json:"attempts"`
	Inputs      map[string]any   `json:"inputs"`
	Outputs     map[string]any   `json:"outputs,omitempty"`
	Usage       map[string]Usage `json:"usage,omitempty"` // by model string
	Cost        float64          `json:"cost"`
	CostUnknown bool             `json:"cost_unknown,omitempty"`
	Duration    time.Duration    `json:"duration_ns,omitempty"`
	// EmbedCache is what the embedding cache answered for the run's
	// retrieval queries (the worker's count; summed in the cost rollups).
	EmbedCache EmbedCache `json:"embed_cache,omitzero"`
	ErrorCode  string     `json:"error_code,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Traceback is the Python traceback of the failure, when the worker
	// sent one (redacted like every frame a worker sends).
	Traceback string `json:"traceback,omitempty"`
	CacheHit  bool   `json:"cache_hit,omitempty"`
	CacheOf   ID     `json:"cache_of,omitzero"` // a cache hit: the execution whose outputs it returned
	Batch     string `json:"batch,omitempty"`   // groups the executions of one dataset run
	// User is the user who created the execution (a token's holder), whose
	// credits pay its cost; empty for the workspace's own local user.
	User string `json:"user,omitempty"`
	// Routed says the program's traffic split chose Version (the run named
	// none): the executions the traffic report compares.
	Routed bool `json:"routed,omitempty"`
	// Worker is the pool and worker that ran the last attempt, "NAME/2":
	// "local/…" for the owner's own workers, a remote pool's name for one
	// that joined over NATS (signet worker --join).
	Worker string `json:"worker,omitempty"`
	// Feedback is the score a caller gave the execution once it ended.
	Feedback *Feedback `json:"feedback,omitempty"`
	// Variant is the unsaved program this execution ran instead of the stored
	// version Program/Version (which it was derived from): a prompt iteration
	// or a one-module replay from the TUI. Nil for ordinary runs.
	Variant *Program  `json:"variant,omitempty"`
	Eval    *ExecEval `json:"eval,omitempty"` // one example of an evaluation, which the worker scores
	// Timeout is the run's own bound (signet run --timeout); 0 leaves it to
	// the program's timeout, else the workspace's execution_timeout.
	Timeout    time.Duration `json:"timeout_ns,omitempty"`
	CreatedAt  time.Time     `json:"created_at"`
	StartedAt  time.Time     `json:"started_at,omitzero"`
	FinishedAt time.Time     `json:"finished_at,omitzero"`
}

// Move applies a state transition, stamping times and counting attempts.
// An illegal transition is an error and leaves e as it was.
func (e *Execution) Move(to RunState, now time.Time) error {
	if !e.State.CanMove(to) {
		return &TransitionError{Kind: "execution", From: string(e.State), To: string(to)}
	}
	switch to {
	case Running:
		e.Attempts++
		e.StartedAt = now
	case Completed, Failed, Cancelled:
		e.FinishedAt = now
		if !e.StartedAt.IsZero() {
			e.Duration = now.Sub(e.StartedAt)
		}
	}
	e.State = to
	return nil
}

// TotalUsage sums usage over every model.
func (e *Execution) TotalUsage() Usage {
	var t Usage
	for _, u := range e.Usage {
		t = t.Add(u)
	}
	return t
}
