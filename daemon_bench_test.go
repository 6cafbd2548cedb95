//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plainQA is the plain DSPy script a one-off `signet run qa` is compared
// with: import DSPy, build the qa program's module (its instructions and
// demos), call it once with the same test LM.
const plainQA = `import dspy
from signet_worker.testlm import make_lm
dspy.configure(lm=make_lm())
sig = dspy.Signature("question -> answer", "Answer the question with a short factual answer, a few words at most.")
qa = dspy.Predict(sig)
qa.demos = [dspy.Example(question=q, answer=a) for q, a in [("What is the capital of Germany?", "Berlin"),
    ("How many days are in a week?", "7"), ("What color is grass?", "green"),
    ("Which planet is known as the Red Planet?", "Mars")]]
print("answer:", qa(question="What is the capital of France?").answer)
`

// BenchmarkOneOffRunVsPlainDSPy is issue 19's instant CLI: a one-off
// `signet run qa --input ...` (the real binary, test LM) once a first run
// has left the background owner running, against a plain DSPy script doing
// the same in a fresh interpreter; the two alternate, process start to
// exit, medians.
func BenchmarkOneOffRunVsPlainDSPy(b *testing.B) {
	const samples = 15
	env, _ := daemonEnv(b, "")
	py := os.Getenv("SIGNET_PYTHON")
	home := b.TempDir()
	args := []string{"run", "qa", "--lm", "fast", "--input", "question=What is the capital of France?"}
	timedRun(b, env, home, args...) // leaves the background owner
	worker, err := filepath.Abs(filepath.Join("bridge", "worker"))
	if err != nil {
		b.Fatal(err)
	}
	plain := func() (string, time.Duration) {
		cmd := exec.Command(py, "-c", plainQA)
		cmd.Env = append(testEnv(home), "PYTHONPATH="+worker, "DSPY_CACHEDIR="+filepath.Join(home, "dspy-cache"))
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(t0)
		if err != nil {
			b.Fatalf("plain DSPy: %v\n%s", err, out)
		}
		return string(out), d
	}
	for b.Loop() {
		var viaOwner, direct []time.Duration
		for i := range samples {
			// Alternating which goes first.
			a, pa := func() (string, time.Duration) { return timedRun(b, env, home, args...) }, plain
			if i%2 == 1 {
				a, pa = pa, a
			}
			o1, d1 := a()
			o2, d2 := pa()
			if i%2 == 1 {
				o1, d1, o2, d2 = o2, d2, o1, d1
			}
			if !strings.Contains(o1, "answer: France") || !strings.Contains(o2, "answer: France") {
				b.Fatalf("answers differ:\nsignet: %s\nplain: %s", o1, o2)
			}
			viaOwner, direct = append(viaOwner, d1), append(direct, d2)
		}
		o, d := median(viaOwner), median(direct)
		b.ReportMetric(float64(o.Microseconds())/1000, "signet-run-ms")
		b.ReportMetric(float64(d.Microseconds())/1000, "plain-dspy-ms")
		b.ReportMetric(float64(o)/float64(d), "signet/plain")
	}
}
