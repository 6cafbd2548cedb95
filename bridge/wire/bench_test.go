package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// spanLine is a typical span event: an LM span with its rendered prompt.
var spanLine = []byte(`{"id":7,"event":"span","data":{"id":"09052f91ec864899ae638a4d6d324b5b","parent":"27191d30bb5b40cb84bc59ba82323a4b","kind":"lm","name":"signet/test","module":"recall","start":"2026-11-25T08:46:40.189988792Z","end":"2026-11-25T08:46:40.192633885Z","messages":[{"role":"system","content":"` +
	strings.Repeat(`Your input fields are:\n1. question (str):\nYour output fields are:\n1. facts (list[str]):\n`, 12) +
	`"},{"role":"user","content":"[[ ## question ## ]]\nWhat is the capital of France?"}],"completion":"[[ ## facts ## ]]\n[\"capital\", \"France\"]\n\n[[ ## completed ## ]]","model":"signet/test","usage":{"prompt_tokens":120,"completion_tokens":8}}}`)

// BenchmarkDecode: the strict decoder on a typical span event, against a
// plain json.Unmarshal of the same line into a struct (which checks far
// less) in the same run. Fixed-size samples, so -benchtime=1x means the same.
func BenchmarkDecode(b *testing.B) {
	const frames = 20000
	var strict, plain time.Duration
	for range b.N {
		t0 := time.Now()
		for range frames {
			if _, err := Decode(spanLine); err != nil {
				b.Fatal(err)
			}
		}
		strict += time.Since(t0)
		t0 = time.Now()
		for range frames {
			var f struct {
				ID    uint64          `json:"id"`
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(spanLine, &f); err != nil {
				b.Fatal(err)
			}
		}
		plain += time.Since(t0)
	}
	n := float64(frames * b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(strict.Nanoseconds())/n, "ns/frame")
	b.ReportMetric(float64(plain.Nanoseconds())/n, "unmarshal-ns/frame")
	b.ReportMetric(float64(len(spanLine)), "bytes/frame")
}
