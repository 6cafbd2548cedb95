package model

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// legalMoves is the whole transition table, written out so that a change to
// runTransitions has to be made here too.
var legalMoves = map[[2]RunState]bool{
	{Pending, Running}:   true,
	{Pending, Cancelled}: true,
	{Pending, Failed}:    true, // refused before start: budget, out of attempts
	{Running, Completed}: true,
	{Running, Failed}:    true,
	{Running, Cancelled}: true,
	{Running, Pending}:   true, // retryable failure, queued again
}

// allStates adds an unknown state to the known ones: nothing leaves or
// enters it.
var allStates = append(append([]RunState{}, RunStates...), RunState("bogus"), RunState(""))

func TestRunStateCanMove(t *testing.T) {
	for _, from := range allStates {
		for _, to := range allStates {
			want := legalMoves[[2]RunState{from, to}]
			if got := from.CanMove(to); got != want {
				t.Errorf("%q.CanMove(%q) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestRunStateTerminalAndValid(t *testing.T) {
	cases := []struct {
		s               RunState
		valid, terminal bool
	}{
		{Pending, true, false},
		{Running, true, false},
		{Completed, true, true},
		{Failed, true, true},
		{Cancelled, true, true},
		{"bogus", false, false},
		{"", false, false},
	}
	for _, tc := range cases {
		if got := tc.s.Valid(); got != tc.valid {
			t.Errorf("%q.Valid() = %v, want %v", tc.s, got, tc.valid)
		}
		if got := tc.s.Terminal(); got != tc.terminal {
			t.Errorf("%q.Terminal() = %v, want %v", tc.s, got, tc.terminal)
		}
		// A terminal state has no way out; a live one has at least one.
		out := false
		for _, to := range RunStates {
			out = out || tc.s.CanMove(to)
		}
		if tc.valid && out == tc.terminal {
			t.Errorf("%q: terminal=%v but has moves out=%v", tc.s, tc.terminal, out)
		}
	}
}

func TestParseRunState(t *testing.T) {
	for _, s := range RunStates {
		got, err := ParseRunState(string(s))
		if err != nil || got != s {
			t.Errorf("ParseRunState(%q) = %q, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "Pending", "done", "running "} {
		if got, err := ParseRunState(bad); err == nil {
			t.Errorf("ParseRunState(%q) = %q, want an error", bad, got)
		}
	}
}

var (
	t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(2 * time.Second)
	t2 = t0.Add(5 * time.Second)
)

func TestExecutionMoveEveryPair(t *testing.T) {
	for _, from := range allStates {
		for _, to := range allStates {
			e := &Execution{ID: NewIDAt(t0), Program: "qa", State: from, Attempts: 1, CreatedAt: t0, StartedAt: t0}
			before := *e
			err := e.Move(to, t1)
			if legalMoves[[2]RunState{from, to}] {
				if err != nil {
					t.Errorf("%s → %s: %v", from, to, err)
				}
				if e.State != to {
					t.Errorf("%s → %s: state is %s", from, to, e.State)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) {
				t.Errorf("%s → %s: error %v, want a *TransitionError", from, to, err)
				continue
			}
			if te.Kind != "execution" || te.From != string(from) || te.To != string(to) {
				t.Errorf("%s → %s: error %+v", from, to, te)
			}
			if !reflect.DeepEqual(*e, before) {
				t.Errorf("%s → %s: illegal move changed the record:\n%+v\nwas\n%+v", from, to, *e, before)
			}
		}
	}
}

func TestExecutionMoveStamps(t *testing.T) {
	type step struct {
		to       RunState
		at       time.Time
		attempts int
		started  time.Time
		finished time.Time
		duration time.Duration
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"run to completion", []step{
			{Running, t1, 1, t1, time.Time{}, 0},
			{Completed, t2, 1, t1, t2, 3 * time.Second},
		}},
		{"failure", []step{
			{Running, t0, 1, t0, time.Time{}, 0},
			{Failed, t2, 1, t0, t2, 5 * time.Second},
		}},
		{"cancelled while running", []step{
			{Running, t0, 1, t0, time.Time{}, 0},
			{Cancelled, t1, 1, t0, t1, 2 * time.Second},
		}},
		{"cancelled before start has no duration", []step{
			{Cancelled, t1, 0, time.Time{}, t1, 0},
		}},
		{"refused before start", []step{
			{Failed, t1, 0, time.Time{}, t1, 0},
		}},
		{"retried, then completed", []step{
			{Running, t0, 1, t0, time.Time{}, 0},
			{Pending, t1, 1, t0, time.Time{}, 0},
			{Running, t1, 2, t1, time.Time{}, 0},
			{Pending, t1, 2, t1, time.Time{}, 0},
			{Running, t1, 3, t1, time.Time{}, 0},
			{Completed, t2, 3, t1, t2, 3 * time.Second},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &Execution{State: Pending, CreatedAt: t0}
			for i, s := range tc.steps {
				if err := e.Move(s.to, s.at); err != nil {
					t.Fatalf("step %d (→ %s): %v", i, s.to, err)
				}
				if e.State != s.to || e.Attempts != s.attempts || !e.StartedAt.Equal(s.started) ||
					!e.FinishedAt.Equal(s.finished) || e.Duration != s.duration {
					t.Fatalf("step %d (→ %s): state %s attempts %d started %v finished %v duration %v; want attempts %d started %v finished %v duration %v",
						i, s.to, e.State, e.Attempts, e.StartedAt, e.FinishedAt, e.Duration, s.attempts, s.started, s.finished, s.duration)
				}
			}
			// Once finished, nothing moves it.
			for _, to := range RunStates {
				if e.Move(to, t2) == nil {
					t.Errorf("moved from terminal %s to %s", tc.steps[len(tc.steps)-1].to, to)
				}
			}
		})
	}
}

func TestOptimizationMove(t *testing.T) {
	for _, from := range allStates {
		for _, to := range allStates {
			o := &Optimization{Program: "qa", Optimizer: "MIPROv2", State: from, CreatedAt: t0}
			before := *o
			err := o.Move(to, t1)
			legal := legalMoves[[2]RunState{from, to}]
			if legal != (err == nil) {
				t.Errorf("%s → %s: err %v, legal %v", from, to, err, legal)
				continue
			}
			if !legal {
				var te *TransitionError
				if !errors.As(err, &te) || te.Kind != "optimization" || te.From != string(from) || te.To != string(to) {
					t.Errorf("%s → %s: error %v", from, to, err)
				}
				if !reflect.DeepEqual(*o, before) {
					t.Errorf("%s → %s: illegal move changed the record", from, to)
				}
				continue
			}
			wantStarted, wantFinished := time.Time{}, time.Time{}
			switch to {
			case Running:
				wantStarted = t1
			case Completed, Failed, Cancelled:
				wantFinished = t1
			}
			if o.State != to || !o.StartedAt.Equal(wantStarted) || !o.FinishedAt.Equal(wantFinished) {
				t.Errorf("%s → %s: state %s started %v finished %v", from, to, o.State, o.StartedAt, o.FinishedAt)
			}
		}
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	e := &Execution{State: Completed}
	err := e.Move(Running, t0)
	if err == nil || err.Error() != "execution: illegal transition completed → running" {
		t.Errorf("error = %v", err)
	}
}

func TestParseSplit(t *testing.T) {
	cases := []struct {
		in   string
		want Split
		ok   bool
	}{
		{"train", Train, true},
		{"validation", Validation, true},
		{"val", Validation, true},
		{"dev", Validation, true},
		{"test", Test, true},
		{"", "", false},
		{"Train", "", false},
		{"training", "", false},
		{" test", "", false},
	}
	for _, tc := range cases {
		got, err := ParseSplit(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSplit(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseProgramStatus(t *testing.T) {
	cases := []struct {
		in   string
		want ProgramStatus
		ok   bool
	}{
		{"draft", Draft, true},
		{"testing", Testing, true},
		{"production", Production, true},
		{"", "", false},
		{"prod", "", false},
		{"Draft", "", false},
	}
	for _, tc := range cases {
		got, err := ParseProgramStatus(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseProgramStatus(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestUsage(t *testing.T) {
	e := &Execution{Usage: map[string]Usage{
		"openai/gpt-4o-mini": {Calls: 2, PromptTokens: 100, CompletionTokens: 20},
		"ollama_chat/llama3": {Calls: 1, PromptTokens: 50, CompletionTokens: 5},
	}}
	got := e.TotalUsage()
	if want := (Usage{Calls: 3, PromptTokens: 150, CompletionTokens: 25}); got != want {
		t.Errorf("TotalUsage() = %+v, want %+v", got, want)
	}
	if got.Total() != 175 {
		t.Errorf("Total() = %d, want 175", got.Total())
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]string{"mipro": "mipro_v2", "MIPROv2": "mipro_v2", "bootstrap": "bootstrap_fewshot",
		"labeled": "labeled_fewshot", "random_search": "bootstrap_random_search", "copro": "copro", "simba": "simba", "gepa": "gepa",
		"bootstrap-fewshot": "bootstrap_fewshot"} {
		if got, err := ParseOptimizer(in); err != nil || got != want {
			t.Errorf("ParseOptimizer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseOptimizer("sgd"); err == nil {
		t.Error("sgd accepted")
	}
	for in, kind := range map[string]MetricKind{"f1": MetricBuiltin, "metrics/m.py:score": MetricCustom,
		"judge:question, answer, prediction -> correct: bool": MetricJudge} {
		if m, err := ParseMetric(in, ""); err != nil || m.Kind != kind {
			t.Errorf("ParseMetric(%q) = %+v, %v", in, m, err)
		}
	}
	for _, bad := range []string{"bleu", "m.txt:x", "judge:->"} {
		if _, err := ParseMetric(bad, ""); err == nil {
			t.Errorf("ParseMetric(%q) accepted", bad)
		}
	}
	if r, err := ParseDataRef("caps:val"); err != nil || r.Split != Validation {
		t.Errorf("ParseDataRef: %+v %v", r, err)
	}
	if _, err := ParseDataRef("caps:dev2"); err == nil {
		t.Error("bad split accepted")
	}
}
