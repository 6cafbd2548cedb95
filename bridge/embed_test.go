package bridge

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestEmbedHasEveryWorkerSource catches a worker source file that the
// embed patterns miss (a new sub-package needs its own pattern).
func TestEmbedHasEveryWorkerSource(t *testing.T) {
	var onDisk []string
	err := filepath.WalkDir(workerRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "__pycache__" || d.Name() == "tests") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".py") || strings.Contains(filepath.ToSlash(path), "/data/")) {
			onDisk = append(onDisk, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := workerFiles()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(onDisk)
	if !slices.Equal(onDisk, embedded) {
		t.Fatalf("worker sources on disk %v, embedded %v: adjust the go:embed patterns in embed.go", onDisk, embedded)
	}
	for _, name := range []string{"__init__.py", "__main__.py", "retrieval/index.py", "retrieval/data/minilm-tokenizer.json",
		"retrieval/data/NOTICE.md", "retrieval/data/LICENSE-Apache-2.0.txt"} {
		if !slices.Contains(embedded, workerRoot+"/"+name) {
			t.Fatalf("%s is not embedded", name)
		}
	}
	for _, name := range embedded {
		if strings.Contains(name, "__pycache__") || strings.Contains(name, "/tests/") {
			t.Fatalf("%s should not be embedded", name)
		}
	}
}

func TestWriteWorker(t *testing.T) {
	root := t.TempDir()
	hash, err := workerHash()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(hash) {
		t.Fatalf("hash %q", hash)
	}
	// Concurrent writers (two Signets starting at once) agree on one copy.
	dirs := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range dirs {
		wg.Go(func() { dirs[i], errs[i] = writeWorker(root) })
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if dirs[i] != filepath.Join(root, hash) {
			t.Fatalf("writer %d got %s", i, dirs[i])
		}
	}
	files, _ := workerFiles()
	for _, name := range files {
		want, _ := workerFS.ReadFile(name)
		rel := strings.TrimPrefix(name, workerRoot+"/") // sub-packages and data keep their directories
		got, err := os.ReadFile(filepath.Join(dirs[0], "signet_worker", filepath.FromSlash(rel)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s in the cache differs from the embedded one (%v)", name, err)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Fatalf("the cache holds %d entries, want only %s (temporary directories left?)", len(entries), hash)
	}
	// A present copy is reused, not rewritten.
	marker := filepath.Join(dirs[0], "signet_worker", "marker")
	os.WriteFile(marker, nil, 0o644)
	if dir, err := writeWorker(root); err != nil || dir != dirs[0] {
		t.Fatalf("second write: %s, %v", dir, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the present copy was replaced")
	}

	t.Setenv("XDG_CACHE_HOME", root)
	dir, err := WorkerDir()
	if err != nil || dir != filepath.Join(root, "signet", "worker", hash) {
		t.Fatalf("WorkerDir() = %s, %v", dir, err)
	}
}
