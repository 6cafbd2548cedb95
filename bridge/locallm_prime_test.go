package bridge

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/signet-dspy/signet/model"
)

// TestLocalLMPrimes: a server process, once it serves, is sent the primer's
// prompt for one token and shows "priming" until that ends; the next prompt
// that starts the same way is mostly taken from llama.cpp's prefix cache
// (the server's own count says so). A restarted process is primed again,
// and a primer's failure leaves it ready, unprimed.
func TestLocalLMPrimes(t *testing.T) {
	py, gguf := localModel(t)
	system := "You answer questions about geography. " + strings.Repeat("Answer with one word and no punctuation. ", 6)
	prompt := func(question string) []model.Message {
		return []model.Message{{Role: "system", Content: system}, {Role: "user", Content: "Question: " + question}}
	}
	release := make(chan struct{})
	var calls atomic.Int32
	prime := func(ctx context.Context) (string, []model.Message, error) {
		if calls.Add(1) > 1 {
			return "", nil, errors.New("no program to prime with")
		}
		select {
		case <-release:
		case <-ctx.Done():
			return "", nil, ctx.Err()
		}
		return "geo v3", prompt("{question}"), nil
	}
	l, log := startLocal(t, LocalLMConfig{Python: py, Model: gguf, Prime: prime})
	if st := l.Status(); st.State != StatePriming || st.Primed != "" {
		t.Fatalf("status while the primer runs: %+v", st)
	}
	close(release)
	st := awaitLocal(t, l, "the priming to end", func(st LocalLMStatus) bool { return st.State != StatePriming })
	if st.State != StateReady || st.Primed != "geo v3" {
		t.Fatalf("status after priming: %+v", st)
	}
	first := st.PID
	var msgs []map[string]string
	for _, m := range prompt("What is the capital of Peru?") {
		msgs = append(msgs, map[string]string{"role": m.Role, "content": m.Content})
	}
	r, err := chatCompletion(context.Background(), testClient(t), l.BaseURL(), l.ModelName(), msgs, 4)
	if err != nil {
		t.Fatal(err)
	}

	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = awaitLocal(t, l, "the restarted server's priming to end", func(st LocalLMStatus) bool {
		return st.PID != 0 && st.PID != first && st.State == StateReady
	})
	if st.Primed != "" || calls.Load() != 2 {
		t.Fatalf("after a failed priming of the restarted server: %+v, %d primer calls", st, calls.Load())
	}
	closeLocal(t, l) // drains the servers' output into the log
	out := log.String()
	contains(t, out, "pid "+strconv.Itoa(first)+": primed with the first prompt of geo v3 (")
	contains(t, out, "pid "+strconv.Itoa(st.PID)+": priming: no program to prime with")
	counts := regexp.MustCompile(`pid `+strconv.Itoa(first)+`: signet: prompt: (\d+) tokens reused, (\d+) evaluated`).FindAllStringSubmatch(out, -1)
	if len(counts) != 2 || counts[0][1] != "0" {
		t.Fatalf("want the priming's prompt (nothing reused) and the call's: %q\n%s", counts, out)
	}
	reused, _ := strconv.Atoi(counts[1][1])
	evaluated, _ := strconv.Atoi(counts[1][2])
	if reused+evaluated != r.Usage.PromptTokens || reused <= evaluated {
		t.Fatalf("the call's prompt (%d tokens): %d reused, %d evaluated; want most of it reused", r.Usage.PromptTokens, reused, evaluated)
	}
}
