package model

import (
	"fmt"
	"time"
)

// SpanKind says which DSPy hook produced a span.
type SpanKind string

const (
	SpanModule  SpanKind = "module"
	SpanAdapter SpanKind = "adapter"
	SpanLM      SpanKind = "lm"
	SpanTool    SpanKind = "tool"
	// SpanRetrieval is a retrieve module's search of an index; its
	// Retrieval says what it found. A hosted embedder's call is counted on
	// it like an LM call (Model, Usage, Cost).
	SpanRetrieval SpanKind = "retrieval"
)

// Message is one chat message of a rendered prompt.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// DemoLabels marks the few-shot demos of a chat prompt: the user/assistant
// pairs before the last user message are demos, labelled " · demo N"; other
// messages get "".
func DemoLabels(ms []Message) []string {
	out := make([]string, len(ms))
	last := -1
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Role == "user" {
			last = i
			break
		}
	}
	d := 0
	for i, m := range ms {
		if i == last || m.Role == "system" {
			continue
		}
		if i < last && m.Role == "user" {
			d++
		}
		if i < last && d > 0 {
			out[i] = fmt.Sprintf(" · demo %d", d)
		}
	}
	return out
}

// Span is one node of an execution's trace tree. Seq orders spans within an
// execution by arrival; ID and Parent are DSPy's call ids.
type Span struct {
	Execution  ID             `json:"execution"`
	Seq        uint64         `json:"seq"`
	ID         string         `json:"id"`
	Parent     string         `json:"parent,omitempty"`
	Kind       SpanKind       `json:"kind"`
	Name       string         `json:"name"`
	Module     string         `json:"module,omitempty"` // program module the span belongs to
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end,omitzero"`
	Inputs     map[string]any `json:"inputs,omitempty"`
	Outputs    map[string]any `json:"outputs,omitempty"`
	Messages   []Message      `json:"messages,omitempty"`
	Completion string         `json:"completion,omitempty"`
	Model      string         `json:"model,omitempty"`
	Usage      Usage          `json:"usage,omitzero"`
	Cost       float64        `json:"cost,omitempty"`
	// CostUnknown marks an LM call whose cost nobody reported (no price in
	// its profile, none from the provider).
	CostUnknown bool   `json:"cost_unknown,omitempty"`
	CacheHit    bool   `json:"cache_hit,omitempty"`
	Error       string `json:"error,omitempty"`
	// Retrieval is set on retrieval spans.
	Retrieval *Retrieval `json:"retrieval,omitempty"`
}

// Latency is End − Start, or zero for a span still open.
func (s *Span) Latency() time.Duration {
	if s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}
