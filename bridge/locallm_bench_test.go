package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The local LM benchmarks send the same chat completions through the
// server (HTTP + JSON, as DSPy's OpenAI path does) and to llama.cpp called
// in a Python process of its own (directLlamaScript), with the same model,
// threads, context, environment and AMX fix. Calls alternate between the
// two, so both meet the same background load on a shared machine. The
// llama-cpp-python server does not return llama.cpp's timings, so rates
// are measured per call.

// directLlamaScript is the baseline: llama_cpp.Llama in-process, timing
// create_chat_completion for each call read from stdin (one JSON object per
// line) and writing its timing as one JSON line.
const directLlamaScript = llamaAMXFix + `
import json, os, time
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # whatever llama_cpp prints must not reach the answers
import llama_cpp
spec = json.loads(sys.argv[1])
llm = llama_cpp.Llama(spec["model"], n_ctx=spec["ctx"], n_threads=spec["threads"],
                      n_threads_batch=spec["threads"], verbose=False)
for line in sys.stdin:
    c = json.loads(line)
    t = time.perf_counter()
    # repeat_penalty: the server's default (Llama's own is 1.0), so both
    # sides generate the same tokens.
    r = llm.create_chat_completion(messages=c["messages"], max_tokens=c["max_tokens"], temperature=0,
                                   repeat_penalty=1.1)
    d = time.perf_counter() - t
    out.write(json.dumps({"seconds": d, "prompt_tokens": r["usage"]["prompt_tokens"],
                          "completion_tokens": r["usage"]["completion_tokens"]}) + "\n")
    out.flush()
`

type benchCall struct {
	Messages  []map[string]string `json:"messages"`
	MaxTokens int                 `json:"max_tokens"`
}

type callTiming struct {
	Seconds          float64 `json:"seconds"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
}

// directLlama is a running directLlamaScript.
type directLlama struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func startDirect(b *testing.B, py, model string, threads int) *directLlama {
	spec, err := json.Marshal(map[string]any{"model": model, "ctx": DefaultLocalLMCtx, "threads": threads})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(py, "-I", "-u", "-c", directLlamaScript, string(spec))
	cmd.Env = serverEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close() // its loop ends, and it exits
		if err := cmd.Wait(); err != nil {
			b.Errorf("direct llama.cpp baseline: %v\n%s", err, stderr.String())
		}
	})
	return &directLlama{in: in, out: bufio.NewReader(out)}
}

func (d *directLlama) call(b *testing.B, c benchCall) callTiming {
	line, err := json.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.in.Write(append(line, '\n')); err != nil {
		b.Fatalf("direct llama.cpp baseline: %v", err)
	}
	ans, err := d.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("direct llama.cpp baseline: %v", err)
	}
	var t callTiming
	if err := json.Unmarshal(ans, &t); err != nil {
		b.Fatalf("direct llama.cpp baseline answered %q: %v", ans, err)
	}
	return t
}

// serverCall sends one call to the server and times it end to end.
func serverCall(b *testing.B, c *http.Client, l *LocalLM, call benchCall) callTiming {
	t0 := time.Now()
	r, err := chatCompletion(context.Background(), c, l.BaseURL(), l.ModelName(), call.Messages, call.MaxTokens)
	if err != nil {
		b.Fatal(err)
	}
	return callTiming{time.Since(t0).Seconds(), r.Usage.PromptTokens, r.Usage.CompletionTokens}
}

// longPrompt is about 400 prompt tokens. Each call starts with its own run
// number, so llama-cpp-python's prefix reuse cannot skip the prompt.
func longPrompt(i int) benchCall {
	var text strings.Builder
	for j := range 28 {
		fmt.Fprintf(&text, "The quick brown fox number %d jumps over the lazy dog. ", j)
	}
	return benchCall{MaxTokens: 1, Messages: []map[string]string{
		{"role": "system", "content": fmt.Sprintf("Run %d. Summarize the text.", i)},
		{"role": "user", "content": text.String()}}}
}

// storyPrompt is a short prompt that generates its 64 tokens in full.
// Runs numbered alike (1000 to 1999) tokenize alike, so a story and its
// max_tokens=1 twin cost the same prompt time.
func storyPrompt(i, maxTokens int) benchCall {
	return benchCall{MaxTokens: maxTokens, Messages: []map[string]string{
		{"role": "system", "content": fmt.Sprintf("Run %d.", 1000+i%1000)},
		{"role": "user", "content": "Write a long story about a cat who travels the world."}}}
}

// sampleCalls is one sample of BenchmarkLocalLMTokens: a long prompt for
// one token (prompt rate), then a story prompt for one token and a twin of
// it for 64 (generation rate: the 63 tokens more over the time more, which
// leaves out the prompt and the HTTP exchange).
func sampleCalls(i int) []benchCall {
	return []benchCall{longPrompt(i), storyPrompt(2*i, 1), storyPrompt(2*i+1, 64)}
}

// tokenRates turns the timings of samples (sampleCalls) into the medians
// of prompt tokens/s and generated tokens/s.
func tokenRates(b *testing.B, t []callTiming) (prompt, gen float64) {
	var ps, gs []float64
	for i := 0; i+2 < len(t); i += 3 {
		long, one, story := t[i], t[i+1], t[i+2]
		if one.PromptTokens != story.PromptTokens || story.CompletionTokens < 32 {
			b.Fatalf("story twins of %d and %d prompt tokens, %d generated: not comparable", one.PromptTokens, story.PromptTokens, story.CompletionTokens)
		}
		ps = append(ps, float64(long.PromptTokens)/long.Seconds)
		gs = append(gs, float64(story.CompletionTokens-one.CompletionTokens)/(story.Seconds-one.Seconds))
	}
	median := func(x []float64) float64 {
		slices.Sort(x)
		if n := len(x); n%2 == 0 {
			return (x[n/2-1] + x[n/2]) / 2
		}
		return x[len(x)/2]
	}
	return median(ps), median(gs)
}

// BenchmarkLocalLMTokens: prompt processing and generation rates of the
// local model through the server, against llama.cpp called directly
// (medians of the samples).
func BenchmarkLocalLMTokens(b *testing.B) {
	py, model := localModel(b)
	const samples = 3 // per iteration
	threads := runtime.NumCPU()
	l, _ := startLocal(b, LocalLMConfig{Python: py, Model: model, Threads: threads})
	d := startDirect(b, py, model, threads)
	c := testClient(b)
	for _, call := range sampleCalls(999) { // warm up both
		serverCall(b, c, l, call)
		d.call(b, call)
	}
	var server, direct []callTiming
	b.ResetTimer()
	for n := range b.N {
		for i := n * samples; i < (n+1)*samples; i++ {
			for _, call := range sampleCalls(i) {
				server = append(server, serverCall(b, c, l, call))
				direct = append(direct, d.call(b, call))
			}
		}
	}
	b.StopTimer()
	sp, sg := tokenRates(b, server)
	dp, dg := tokenRates(b, direct)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(sp, "prompt-tok/s")
	b.ReportMetric(sg, "gen-tok/s")
	b.ReportMetric(dp, "direct-prompt-tok/s")
	b.ReportMetric(dg, "direct-gen-tok/s")
	b.ReportMetric(float64(server[0].PromptTokens), "long-prompt-tokens")
}

// overheadCall is a DSPy-sized request: a ChatAdapter-like system prompt
// (the same in every call, as in a real program, so both sides reuse its
// cached prefix) and a question of its own.
func overheadCall(i int) benchCall {
	system := "Your input fields are:\n1. `question` (str):\nYour output fields are:\n1. `answer` (str):\n" +
		"All interactions will be structured in the following way, with the appropriate values filled in.\n\n" +
		"[[ ## question ## ]]\n{question}\n\n[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]\n" +
		"In adhering to this structure, your objective is: \n        Given the fields `question`, produce the fields `answer`."
	user := fmt.Sprintf("[[ ## question ## ]]\nWhat is the capital of Country%d?\n\n"+
		"Respond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`, "+
		"and then ending with the marker for `[[ ## completed ## ]]`.", i)
	return benchCall{MaxTokens: 16, Messages: []map[string]string{
		{"role": "system", "content": system}, {"role": "user", "content": user}}}
}

// BenchmarkLocalLMOverhead: what the server (HTTP, JSON, FastAPI, its
// threadpool) adds to a small chat completion, against the same calls to
// llama.cpp in one Python process.
func BenchmarkLocalLMOverhead(b *testing.B) {
	py, model := localModel(b)
	const samples, warmups = 20, 3
	threads := runtime.NumCPU()
	l, _ := startLocal(b, LocalLMConfig{Python: py, Model: model, Threads: threads})
	d := startDirect(b, py, model, threads)
	c := testClient(b)
	for i := range warmups {
		serverCall(b, c, l, overheadCall(-1-i))
		d.call(b, overheadCall(-1-i))
	}
	var server, direct []time.Duration
	tokens := 0
	b.ResetTimer()
	for n := range b.N {
		for i := n * samples; i < (n+1)*samples; i++ {
			st, dt := serverCall(b, c, l, overheadCall(i)), d.call(b, overheadCall(i))
			if st.CompletionTokens != dt.CompletionTokens || st.PromptTokens != dt.PromptTokens {
				b.Fatalf("call %d: the server and llama.cpp did different work: %+v, %+v", i, st, dt)
			}
			server = append(server, time.Duration(st.Seconds*float64(time.Second)))
			direct = append(direct, time.Duration(dt.Seconds*float64(time.Second)))
			tokens += st.CompletionTokens
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	mean := func(ds []time.Duration) time.Duration {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return sum / time.Duration(len(ds))
	}
	sm, dm := mean(server), mean(direct)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(sm), "server-ms/call")
	b.ReportMetric(ms(dm), "direct-ms/call")
	b.ReportMetric(ms(percentile(server, 0.5)), "server-p50-ms")
	b.ReportMetric(ms(percentile(direct, 0.5)), "direct-p50-ms")
	b.ReportMetric(ms(sm-dm), "overhead-ms/call")
	b.ReportMetric(float64(sm)/float64(dm), "server/direct")
	b.ReportMetric(float64(tokens)/float64(len(server)), "tokens/call")
}
