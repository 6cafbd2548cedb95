package bridge

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
)

// The worker package, sources only: explicit patterns keep tests,
// __pycache__ and editor droppings out of the binary. A sub-package needs
// its own pattern here (TestEmbedHasEveryWorkerSource catches a missing one).
// The retrieval package ships data: MiniLM's tokenizer and its licence.
//
//go:embed worker/signet_worker/*.py worker/signet_worker/retrieval/*.py
//go:embed worker/signet_worker/retrieval/data/*.json worker/signet_worker/retrieval/data/*.md
//go:embed worker/signet_worker/retrieval/data/*.txt
var workerFS embed.FS

const workerRoot = "worker/signet_worker"

var workerHash = sync.OnceValues(func() (string, error) {
	files, err := workerFiles()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range files { // sorted, so the hash is the content's alone
		b, err := workerFS.ReadFile(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
})

// workerFiles lists the embedded files in lexical order.
func workerFiles() ([]string, error) {
	var files []string
	err := fs.WalkDir(workerFS, workerRoot, func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, name)
		}
		return err
	})
	return files, err
}

// WorkerDir writes the embedded worker package to
// $XDG_CACHE_HOME/signet/worker/<hash>/signet_worker (once per content: a
// present copy is reused) and returns the directory to put on PYTHONPATH.
func WorkerDir() (string, error) {
	root := os.Getenv("XDG_CACHE_HOME")
	if root == "" {
		var err error
		if root, err = os.UserCacheDir(); err != nil {
			return "", fmt.Errorf("finding a cache directory for the worker package: %w", err)
		}
	}
	return writeWorker(filepath.Join(root, "signet", "worker"))
}

// writeWorker writes the package under root/<hash>. It writes a temporary
// directory and renames it into place, so a concurrent Signet sees either
// no copy or a whole one.
func writeWorker(root string) (string, error) {
	hash, err := workerHash()
	if err != nil {
		return "", fmt.Errorf("hashing the embedded worker package: %w", err)
	}
	final := filepath.Join(root, hash)
	if _, err := os.Stat(filepath.Join(final, "signet_worker", "__init__.py")); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating the worker cache %s: %w", root, err)
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+hash+"-")
	if err != nil {
		return "", fmt.Errorf("creating a directory in the worker cache %s: %w", root, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	files, err := workerFiles()
	if err != nil {
		return "", err
	}
	for _, name := range files {
		rel, _ := filepath.Rel(path.Dir(workerRoot), filepath.FromSlash(name)) // signet_worker/...
		dst := filepath.Join(tmp, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("writing the worker package: %w", err)
		}
		b, _ := workerFS.ReadFile(name)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", fmt.Errorf("writing the worker package: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process may have put its copy there first: same content.
		if _, serr := os.Stat(filepath.Join(final, "signet_worker", "__init__.py")); serr == nil {
			return final, nil
		}
		return "", fmt.Errorf("moving the worker package into %s: %w", final, err)
	}
	return final, nil
}
