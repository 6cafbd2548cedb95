package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
	"github.com/signet-dspy/signet/store"
)

func writeQAJSONL(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "big.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(f, "{\"question\": \"What is item number %d of the benchmark set?\", \"context\": \"Items are numbered from zero; this one is %d.\", \"answer\": \"%d\"}\n", i, i, i)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkImportJSONL100k imports a 100k-line JSONL file into a store on
// disk, as `signet dataset import` does; the baseline is only reading the
// file, so the ratio is what staging and committing in Badger adds.
func BenchmarkImportJSONL100k(b *testing.B) {
	const lines = 100_000
	path := writeQAJSONL(b, lines)
	b.Run("baseline-read-only", func(b *testing.B) {
		for b.Loop() {
			r, err := datafile.Open(path, datafile.JSONL)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				if _, err := r.Next(); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				n++
			}
			r.Close()
			if n != lines {
				b.Fatalf("read %d lines", n)
			}
		}
		b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("import", func(b *testing.B) {
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			st, err := store.Open(ctx, store.Options{Dir: filepath.Join(b.TempDir(), "db")})
			if err != nil {
				b.Fatal(err)
			}
			d, err := importFile(ctx, st, path, path, "", &model.Dataset{Name: "big"}, model.Train, importOptions{inputs: "question,context"})
			if err != nil {
				b.Fatal(err)
			}
			if d.Size() != lines {
				b.Fatalf("imported %d", d.Size())
			}
			st.Close()
		}
		b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
