package bridge

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
)

// A child's stderr reaches the log with secrets redacted, whatever wrote
// it (here a shell, as user code writing to fd 2 would), also in a line
// far longer than the reader's buffer with the secret at its end.
func TestStderrIsRedacted(t *testing.T) {
	const secret = "value-of-a-configured-key"
	script := `echo "short: ` + secret + ` and sk-abcdefghijklmnopqrstuvwxyz0123456789" >&2
head -c 100000 /dev/zero | tr '\0' a >&2; echo " tail: ` + secret + `" >&2`
	var mu sync.Mutex
	var lines []string
	f := newForker()
	defer f.close()
	c := newChild(childSpec{path: "/bin/sh", args: []string{"-c", script},
		line: func(s string) bool {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, s)
			return true
		},
		logf:   func(string, ...any) {},
		redact: redact.New(secret),
	})
	if err := c.start(f); err != nil {
		t.Fatal(err)
	}
	<-c.exited
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (the long one whole)", len(lines))
	}
	if lines[0] != "short: [redacted] and [redacted]" {
		t.Errorf("line 1 = %q", lines[0])
	}
	if !strings.HasSuffix(lines[1], "a tail: [redacted]") || len(lines[1]) != 100000+len(" tail: [redacted]") {
		t.Errorf("the long line ends %q (%d bytes)", lines[1][max(0, len(lines[1])-40):], len(lines[1]))
	}
}

// A worker's frames reach the pool's caller with every secret redacted, by
// Go alone (the worker leaves its frames to Go's reader): a configured
// key's value, in an input as written, JSON-escaped (quote, backslash) and
// non-ASCII, in the spans' inputs, messages and completion and in the
// result's outputs (the test LM echoes it, as a provider echoing a key
// would), and a key shape no variable holds.
func TestFramesAreRedactedByGo(t *testing.T) {
	const (
		secret = `quoted"secret\value-ü-9c41e7`
		shape  = "sk-proj-T3stOnlyShapeKey0123456789abcdefXYZ"
	)
	env := map[string]string{"SIGNET_T_FRAME_KEY": secret}
	cfg := realConfig(t, 1)
	cfg.Env = []string{"SIGNET_T_FRAME_KEY=" + secret}
	cfg.Redact = redact.FromEnv(func(k string) string { return env[k] }, "SIGNET_T_FRAME_KEY")
	p, _ := startPool(t, cfg)
	var spans []model.Span
	res, err := p.Execute(context.Background(), ExecuteRequest{Program: qaProgram,
		Inputs: map[string]any{"question": "Is " + secret + " or " + shape + " a key?"},
		LM:     testLM(map[string]any{"echo_env": "SIGNET_T_FRAME_KEY", "cache": false}), Trace: true},
		func(s model.Span) { spans = append(spans, s) })
	if err != nil {
		t.Fatal(err)
	}
	all, err := json.Marshal(map[string]any{"outputs": res.Outputs, "spans": spans})
	if err != nil {
		t.Fatal(err)
	}
	text := string(all)
	for _, key := range []string{secret, shape, `quoted\"secret\\value`, "T3stOnlyShapeKey"} {
		if strings.Contains(text, key) {
			t.Errorf("a frame's %q reached the caller: %s", key, text)
		}
	}
	// What the test is about did travel: the echo in the answer, the input
	// in the LM span's prompt, each with the secrets replaced.
	if a, _ := res.Outputs["answer"].(string); !strings.HasSuffix(a, redact.Replacement) {
		t.Errorf("answer %q does not end with the echoed key, redacted", a)
	}
	var lm *model.Span
	for i := range spans {
		if spans[i].Kind == model.SpanLM && !spans[i].End.IsZero() {
			lm = &spans[i]
		}
	}
	if lm == nil || len(lm.Messages) == 0 {
		t.Fatalf("no ended LM span with its messages among %d spans", len(spans))
	}
	want := "Is " + redact.Replacement + " or " + redact.Replacement + " a key?"
	if !strings.Contains(lm.Messages[len(lm.Messages)-1].Content, want) || !strings.Contains(lm.Completion, redact.Replacement) {
		t.Errorf("LM span: prompt %q, completion %q; want the input as %q and the echo redacted",
			lm.Messages[len(lm.Messages)-1].Content, lm.Completion, want)
	}
}
