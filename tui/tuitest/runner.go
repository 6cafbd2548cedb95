package tuitest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// Runner is an in-memory Runner: executions, their spans (generated
// for the big traces) and the calls made.
type Runner struct {
	Mu        sync.Mutex
	Execs     map[model.ID]*model.Execution
	Traces    map[model.ID][]model.Span
	Generated map[model.ID]int // a generated flat trace of that many spans
	Submits   []app.RunRequest
	Saved     []*model.Program
	Cancels   []model.ID
	Pages     int // Spans calls
	// CostQueries are what the cost pane asked for.
	CostQueries []app.CostQuery
	// onSubmit builds the execution of a submit (default: pending).
	OnSubmit func(req app.RunRequest) (*model.Execution, []model.Span)
	// Profiles are the LM profiles listed (SampleProfiles by default).
	Profiles []app.LMProfile
}

// SampleProfiles are the goldens' LM profiles: the local default, the
// test LM, and one whose key is not set.
func SampleProfiles() []app.LMProfile {
	return []app.LMProfile{{Name: "local-smollm2", Model: "local/smollm2-360m", Default: true},
		{Name: "openai", Model: "openai/gpt-4o-mini", KeyUnset: "OPENAI_API_KEY"}, {Name: "test", Model: "signet/test"}}
}

func (f *Runner) LMProfiles(context.Context) ([]app.LMProfile, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return slices.Clone(f.Profiles), nil
}

func NewRunner() *Runner {
	return &Runner{Execs: map[model.ID]*model.Execution{}, Traces: map[model.ID][]model.Span{}, Generated: map[model.ID]int{},
		Profiles: SampleProfiles()}
}

var TraceT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func TraceID(n byte) model.ID { return model.ID{0x01, 0x93, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n} }

func (f *Runner) Run(ctx context.Context, req app.RunRequest) (*model.Execution, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Submits = append(f.Submits, req)
	x := &model.Execution{ID: TraceID(byte(100 + len(f.Submits))), Program: req.Program, Version: max(req.Version, 1),
		State: model.Pending, Inputs: req.Inputs, Variant: req.Variant, CreatedAt: TraceT0}
	var spans []model.Span
	if f.OnSubmit != nil {
		x, spans = f.OnSubmit(req)
		x.ID = TraceID(byte(100 + len(f.Submits)))
		for i := range spans {
			spans[i].Execution = x.ID
		}
	}
	f.Execs[x.ID] = x
	f.Traces[x.ID] = spans
	c := *x
	return &c, nil
}

func (f *Runner) CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Cancels = append(f.Cancels, id)
	x, ok := f.Execs[id]
	if !ok {
		return nil, fmt.Errorf("no execution %s", id)
	}
	c := *x
	return &c, nil
}

func (f *Runner) Execution(ctx context.Context, id model.ID) (*model.Execution, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	x, ok := f.Execs[id]
	if !ok {
		return nil, fmt.Errorf("no execution %s", id)
	}
	c := *x
	return &c, nil
}

func (f *Runner) Spans(ctx context.Context, id model.ID, after uint64, limit int) (*app.SpanPage, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Pages++
	var out []model.Span
	if n, ok := f.Generated[id]; ok {
		for seq := after + 1; seq <= uint64(n) && len(out) < limit; seq++ {
			out = append(out, GenSpan(id, seq))
		}
	} else {
		for _, s := range f.Traces[id] {
			if s.Seq > after && len(out) < limit {
				out = append(out, s)
			}
		}
	}
	pg := &app.SpanPage{Spans: out}
	if len(out) == limit {
		pg.Next = out[len(out)-1].Seq
	}
	return pg, nil
}

// GenSpan is span seq of a generated trace: a root, then LM calls under it.
func GenSpan(id model.ID, seq uint64) model.Span {
	s := model.Span{Execution: id, Seq: seq, ID: fmt.Sprint(seq), Kind: model.SpanLM, Name: "signet/test",
		Module: "answer", Start: TraceT0, End: TraceT0.Add(time.Millisecond), Usage: model.Usage{Calls: 1, PromptTokens: 10, CompletionTokens: 2}}
	if seq == 1 {
		s.Kind, s.Name, s.Module = model.SpanModule, "big", ""
		s.End = TraceT0.Add(time.Minute)
	} else {
		s.Parent = "1"
	}
	return s
}

func (f *Runner) Render(ctx context.Context, req app.RenderRequest) (*app.RenderResult, error) {
	return &app.RenderResult{Modules: []app.RenderedPrompt{{Module: "answer", Messages: []model.Message{{Role: "system", Content: "Your input fields are: question."},
		{Role: "user", Content: fmt.Sprint(req.Inputs["question"])}}}}}, nil
}

func (f *Runner) Program(ctx context.Context, name string, version int) (*model.Program, error) {
	return QAProgram(), nil
}

func (f *Runner) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Saved = append(f.Saved, p)
	c := *p
	c.Version = 1 + len(f.Saved)
	return &c, nil
}

// Cost is November 2026 as the owner reports it: the program asked for
// (two rows, as a report may have), another program, and the budgets.
func (f *Runner) Cost(ctx context.Context, q app.CostQuery) (*app.CostReport, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.CostQueries = append(f.CostQueries, q)
	return &app.CostReport{Month: "2026-11", Total: 0.0123 + 0.5,
		Programs: []app.CostRow{
			{Program: q.Program, Month: "2026-11", Cost: 0.01, Usage: model.Usage{PromptTokens: 4000, CompletionTokens: 67}},
			{Program: q.Program, Month: "2026-11", Cost: 0.0023, Usage: model.Usage{PromptTokens: 400, CompletionTokens: 100}},
			{Program: "other", Month: "2026-11", Cost: 0.5, Usage: model.Usage{PromptTokens: 90000}},
		},
		Budgets: map[string]float64{q.Program: 1, "": 20},
		Days:    []float64{0, 0.001, 0.002, 0, 0.004, 0.003, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0023}}, nil
}

func QAProgram() *model.Program {
	return &model.Program{Name: "qa", Version: 1, LM: "test", Modules: []model.Module{
		{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: "Answer the question."},
	}}
}

// QATrace is a finished two-call trace: program → module → format, LM,
// parse; then a second module call with its own LM call.
func QATrace(id model.ID) (*model.Execution, []model.Span) {
	x := &model.Execution{ID: id, Program: "qa", Version: 1, LM: "test", State: model.Completed,
		Inputs:  map[string]any{"question": "What is the capital of France?"},
		Outputs: map[string]any{"answer": "France"}, Cost: 0.00042, CreatedAt: TraceT0, Duration: 120 * time.Millisecond, Worker: "gpu1/2",
		Usage: map[string]model.Usage{"signet/test": {Calls: 2, PromptTokens: 120, CompletionTokens: 6}}}
	msgs := []model.Message{
		{Role: "system", Content: "Your input fields are:\n1. `question` (str)\nYour output fields are:\n1. `answer` (str)\nIn adhering to this structure, your objective is: Answer the question."},
		{Role: "user", Content: "[[ ## question ## ]]\nWho wrote Hamlet?"},
		{Role: "assistant", Content: "[[ ## answer ## ]]\nShakespeare"},
		{Role: "user", Content: "[[ ## question ## ]]\nWhat is the capital of France?"},
	}
	ms := func(n int) time.Time { return TraceT0.Add(time.Duration(n) * time.Millisecond) }
	spans := []model.Span{
		{Seq: 1, ID: "r", Kind: model.SpanModule, Name: "qa", Start: ms(0), End: ms(120), Inputs: x.Inputs, Outputs: x.Outputs},
		{Seq: 2, ID: "m1", Parent: "r", Kind: model.SpanModule, Name: "Predict", Module: "answer", Start: ms(1), End: ms(60), Inputs: x.Inputs, Outputs: x.Outputs},
		{Seq: 3, ID: "f1", Parent: "m1", Kind: model.SpanAdapter, Name: "ChatAdapter.format", Module: "answer", Start: ms(2), End: ms(3), Messages: msgs},
		{Seq: 4, ID: "l1", Parent: "m1", Kind: model.SpanLM, Name: "signet/test", Model: "signet/test", Module: "answer", Start: ms(3), End: ms(50), Messages: msgs,
			Completion: "[[ ## answer ## ]]\nFrance\n\n[[ ## completed ## ]]", Usage: model.Usage{Calls: 1, PromptTokens: 60, CompletionTokens: 3}, Cost: 0.00021},
		{Seq: 5, ID: "p1", Parent: "m1", Kind: model.SpanAdapter, Name: "ChatAdapter.parse", Module: "answer", Start: ms(50), End: ms(51), Outputs: x.Outputs},
		{Seq: 6, ID: "m2", Parent: "r", Kind: model.SpanModule, Name: "Predict", Module: "answer", Start: ms(61), End: ms(119), Inputs: x.Inputs, Outputs: x.Outputs},
		{Seq: 7, ID: "l2", Parent: "m2", Kind: model.SpanLM, Name: "signet/test", Model: "signet/test", Module: "answer", Start: ms(62), End: ms(118), Messages: msgs,
			Completion: "[[ ## answer ## ]]\nFrance", CacheHit: true},
	}
	for i := range spans {
		spans[i].Execution = id
	}
	return x, spans
}

func (f *Runner) WithQATrace(n byte) model.ID {
	id := TraceID(n)
	x, spans := QATrace(id)
	f.Execs[id], f.Traces[id] = x, spans
	return id
}

// IterateRunner answers submits with the test LM's behaviour for the rule
// the e2e test uses: "uppercase" in the instructions uppercases the answer.
func IterateRunner() *Runner {
	f := NewRunner()
	f.OnSubmit = func(req app.RunRequest) (*model.Execution, []model.Span) {
		p := QAProgram()
		if req.Variant != nil {
			p = req.Variant
		}
		ans := "France"
		if strings.Contains(strings.ToLower(p.Modules[0].Instructions), "uppercase") {
			ans = "FRANCE"
		}
		x := &model.Execution{Program: "qa", Version: 1, LM: "test", State: model.Completed, Inputs: req.Inputs,
			Outputs: map[string]any{"answer": ans}, Variant: req.Variant, CreatedAt: TraceT0, Duration: 80 * time.Millisecond,
			Usage: map[string]model.Usage{"signet/test": {Calls: 1, PromptTokens: 50, CompletionTokens: 3}}}
		sp := model.Span{Seq: 1, ID: "l", Kind: model.SpanLM, Name: "signet/test", Module: "answer", Start: TraceT0, End: TraceT0,
			Messages: []model.Message{{Role: "system", Content: "Your objective is: " + p.Modules[0].Instructions}, {Role: "user", Content: "What is the capital of France?"}}}
		return x, []model.Span{sp}
	}
	return f
}

// FailedTraceback is the traceback of WithFailedTrace's run.
const FailedTraceback = `Traceback (most recent call last):
  File "/work/qa/tools.py", line 12, in forward
    return self.lookup(question)
  File "/work/qa/tools.py", line 31, in lookup
    raise KeyError(f"no entry for {question!r} in the capital table (it has 194 countries, none named like this)")
KeyError: "no entry for 'What is the capital of Atlantis?' in the capital table (it has 194 countries, none named like this)"`

// WithFailedTrace is the QA trace of a run that failed in the user's code:
// a long error and its Python traceback.
func (f *Runner) WithFailedTrace(n byte) model.ID {
	id := TraceID(n)
	x, spans := QATrace(id)
	x.State, x.Outputs, x.ErrorCode = model.Failed, nil, "user_code"
	x.Error = "KeyError: \"no entry for 'What is the capital of Atlantis?' in the capital table (it has 194 countries, none named like this)\""
	x.Traceback = FailedTraceback
	spans[0].Error, spans[0].Outputs = x.Error, nil
	f.Execs[id], f.Traces[id] = x, spans
	return id
}

// RAGTrace is a finished retrieve → answer trace: the retrieve module's
// search of the index "corpus" (hybrid, k 3, an embedding cache miss), then
// the answer module's LM call. The second passage is long, to wrap.
func RAGTrace(id model.ID) (*model.Execution, []model.Span) {
	q := "Who painted the ceiling of the Sistine Chapel?"
	x := &model.Execution{ID: id, Program: "rag", Version: 1, LM: "test", State: model.Completed,
		Inputs: map[string]any{"question": q}, Outputs: map[string]any{"answer": "Michelangelo"}, Cost: 0.0001,
		CreatedAt: TraceT0, Duration: 90 * time.Millisecond, EmbedCache: model.EmbedCache{Misses: 1},
		Usage: map[string]model.Usage{"signet/test": {Calls: 1, PromptTokens: 80, CompletionTokens: 4}}}
	passages := []model.Passage{
		{ID: "p-017", Text: "Michelangelo painted the Sistine Chapel ceiling between 1508 and 1512.", Score: 0.0325},
		{ID: "p-112", Score: 0.0318, Text: "The Sistine Chapel, in Vatican City, is the chapel of the Apostolic Palace. Its ceiling frescoes, " +
			"commissioned by Pope Julius II, show nine scenes from the Book of Genesis, the best known of which is The Creation of Adam; " +
			"the Last Judgement on the altar wall came more than twenty years later."},
		{ID: "p-004", Text: "Raphael decorated the Stanze in the Apostolic Palace.", Score: 0.01639344},
	}
	ms := func(n int) time.Time { return TraceT0.Add(time.Duration(n) * time.Millisecond) }
	texts := make([]any, len(passages))
	for i, p := range passages {
		texts[i] = p.Text
	}
	spans := []model.Span{
		{Seq: 1, ID: "r", Kind: model.SpanModule, Name: "rag", Start: ms(0), End: ms(90), Inputs: x.Inputs, Outputs: x.Outputs},
		{Seq: 2, ID: "m1", Parent: "r", Kind: model.SpanModule, Name: "Retrieve", Module: "search", Start: ms(1), End: ms(14),
			Inputs: x.Inputs, Outputs: map[string]any{"passages": texts}},
		{Seq: 3, ID: "s1", Parent: "m1", Kind: model.SpanRetrieval, Name: "corpus", Module: "search", Start: ms(2), End: ms(13),
			Inputs: map[string]any{"query": q, "k": 3},
			Retrieval: &model.Retrieval{Index: "corpus", Search: model.RetrieverHybrid, Embedder: "minilm", Query: q, K: 3,
				Passages: passages, CacheMisses: 1}},
		{Seq: 4, ID: "m2", Parent: "r", Kind: model.SpanModule, Name: "ChainOfThought", Module: "answer", Start: ms(15), End: ms(89),
			Inputs: map[string]any{"question": q, "passages": texts}, Outputs: x.Outputs},
		{Seq: 5, ID: "l1", Parent: "m2", Kind: model.SpanLM, Name: "signet/test", Model: "signet/test", Module: "answer", Start: ms(16), End: ms(88),
			Messages:   []model.Message{{Role: "user", Content: "[[ ## question ## ]]\n" + q}},
			Completion: "[[ ## answer ## ]]\nMichelangelo", Usage: model.Usage{Calls: 1, PromptTokens: 80, CompletionTokens: 4}, Cost: 0.0001},
	}
	for i := range spans {
		spans[i].Execution = id
	}
	return x, spans
}

// WithRAGTrace stores RAGTrace under TraceID(n).
func (f *Runner) WithRAGTrace(n byte) model.ID {
	id := TraceID(n)
	x, spans := RAGTrace(id)
	f.Execs[id], f.Traces[id] = x, spans
	return id
}
