package bridge

import (
	"strings"
	"sync"
	"testing"

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
