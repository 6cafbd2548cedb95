package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/app/owner"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
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

// BenchmarkImportJSONL100k imports a 100k-line JSONL file into a workspace
// on disk through the service, as `signet dataset import` does; the baseline is only reading the
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
			o, err := owner.Open(ctx, owner.Options{Dir: b.TempDir(), Create: true, Command: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			res, err := o.ImportDataset(ctx, app.ImportDatasetRequest{Name: "big", File: path, Split: model.Train,
				Inputs: []string{"question", "context"}, Data: f})
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			if res.Dataset.Size() != lines {
				b.Fatalf("imported %d", res.Dataset.Size())
			}
			o.Close(ctx, true)
		}
		b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
