package datafile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// qaJSONL writes n lines of DSPy-like question answering examples.
func qaJSONL(n int) []byte {
	var b bytes.Buffer
	ctx := strings.Repeat("Paris is the capital and most populous city of France. ", 3)
	for i := range n {
		fmt.Fprintf(&b, `{"id":%d,"question":"What is the capital of country number %d?","answer":"City %d","context":%q,"hops":%d,"score":0.%d}`+"\n",
			i, i, i, ctx, i%4, i%1000)
	}
	return b.Bytes()
}

// BenchmarkReadJSONL100k reads a 100,000-line JSONL file with Open/Next
// ("reader"), against the plain way of reading it whole line by line with
// bufio.Scanner and json.Unmarshal, which keeps no numbers exact and places
// no errors ("baseline").
func BenchmarkReadJSONL100k(b *testing.B) {
	const lines = 100_000
	data := qaJSONL(lines)
	path := filepath.Join(b.TempDir(), "qa.jsonl")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	}
	b.Run("reader", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, err := Open(path, JSONL)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			r.Close()
			if n != lines {
				b.Fatalf("%d records", n)
			}
		}
		report(b)
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			n := 0
			for sc.Scan() {
				var m map[string]any
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					b.Fatal(err)
				}
				n++
			}
			f.Close()
			if n != lines {
				b.Fatalf("%d records", n)
			}
		}
		report(b)
	})
}
