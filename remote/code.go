package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// User code a program names: "path/to/file.py:Name" in a module's source
// (several names after one path: "tools.py:a,b"), its config's tools, and
// custom metrics' source. Paths are relative to the program's BaseDir
// unless absolute (signet_worker/userload.py reads them the same way).

// codePaths is every distinct file path those references name, as written.
func codePaths(p *model.Program, metrics []*bridge.MetricSpec) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ref string) {
		path, _, ok := cutRef(ref)
		if ok && !seen[path] {
			seen[path] = true
			out = append(out, path)
		}
	}
	for _, m := range p.Modules {
		add(m.Source)
		for _, t := range tools(m.Config) {
			add(t)
		}
	}
	for _, m := range metrics {
		if m != nil && m.Kind == string(model.MetricCustom) {
			add(m.Source)
		}
	}
	return out
}

// cutRef splits "path:Name" at its last colon.
func cutRef(ref string) (path, name string, ok bool) {
	i := strings.LastIndex(ref, ":")
	if i <= 0 {
		return "", "", false
	}
	return strings.TrimSpace(ref[:i]), ref[i:], true
}

// tools is a module config's tools: a string or a list of strings.
func tools(config map[string]any) []string {
	switch t := config["tools"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return t
	}
	return nil
}

// rewriteCode points every reference of p and metrics at to(path as
// written), in place (p is the pool's own decoded copy).
func rewriteCode(p *model.Program, metrics []*bridge.MetricSpec, to func(string) string) {
	re := func(ref string) string {
		path, name, ok := cutRef(ref)
		if !ok {
			return ref
		}
		return to(path) + name
	}
	for i := range p.Modules {
		m := &p.Modules[i]
		if m.Source != "" {
			m.Source = re(m.Source)
		}
		if ts := tools(m.Config); ts != nil {
			out := make([]any, len(ts))
			for j, t := range ts {
				out[j] = re(t)
			}
			cfg := make(map[string]any, len(m.Config))
			for k, v := range m.Config {
				cfg[k] = v
			}
			cfg["tools"] = out
			m.Config = cfg
		}
	}
	for _, m := range metrics {
		if m != nil && m.Kind == string(model.MetricCustom) {
			m.Source = re(m.Source)
		}
	}
}

// shipper puts the owner's user code into the code bucket, once per
// content.
type shipper struct {
	obs jetstream.ObjectStore
	mu  sync.Mutex
	// shipped are the digests of file versions in the bucket, by path, size
	// and modification time (as the worker's userload keys its imports): a
	// file is read and hashed once per version, not once per job.
	shipped map[fileVersion]string
}

type fileVersion struct {
	path  string
	size  int64
	mtime time.Time
}

// ship uploads the files the references of p and metrics name and says
// which digest each path (as written) has.
func (s *shipper) ship(ctx context.Context, p *model.Program, metrics []*bridge.MetricSpec) (map[string]string, error) {
	paths := codePaths(p, metrics)
	if len(paths) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	code := make(map[string]string, len(paths))
	for _, path := range paths {
		abs := path
		if !filepath.IsAbs(abs) {
			// Without a directory of its own, the owner's: where the owner's
			// own workers would resolve it.
			base := p.BaseDir
			if base == "" {
				var err error
				if base, err = os.Getwd(); err != nil {
					return nil, fmt.Errorf("program %s: resolving its code %s: %w", p.Name, path, err)
				}
			}
			abs = filepath.Join(base, path)
		}
		digest, err := s.put(ctx, abs)
		if err != nil {
			return nil, fmt.Errorf("program %s: shipping its code %s: %w", p.Name, path, err)
		}
		code[path] = digest
	}
	return code, nil
}

// put puts the file at abs into the bucket unless this version of it is
// there, and says its digest.
func (s *shipper) put(ctx context.Context, abs string) (string, error) {
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	v := fileVersion{abs, fi.Size(), fi.ModTime()}
	s.mu.Lock()
	digest, ok := s.shipped[v]
	s.mu.Unlock()
	if ok {
		return digest, nil
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	digest = hex.EncodeToString(sum[:])
	if _, err := s.obs.GetInfo(ctx, digest); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := s.obs.PutBytes(ctx, digest, b); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.shipped[v] = digest
	s.mu.Unlock()
	return digest, nil
}

// codeCache is a pool's copy of shipped code: dir/<digest>/<file name>, so
// that tracebacks name the user's file.
type codeCache struct {
	dir string
	js  jetstream.JetStream
	mu  sync.Mutex // one download at a time
}

// localize fetches what code names and rewrites the references of p and
// metrics to the local copies.
func (c *codeCache) localize(ctx context.Context, p *model.Program, metrics []*bridge.MetricSpec, code map[string]string) error {
	local := make(map[string]string, len(code))
	for path, digest := range code {
		f, err := c.fetch(ctx, path, digest)
		if err != nil {
			return err
		}
		local[path] = f
	}
	rewriteCode(p, metrics, func(path string) string {
		if f, ok := local[path]; ok {
			return f
		}
		return path
	})
	return nil
}

func (c *codeCache) fetch(ctx context.Context, path, digest string) (string, error) {
	if len(digest) != 64 || strings.ContainsAny(digest, "/.\\") {
		return "", fmt.Errorf("shipped code %s: bad digest %q", path, digest)
	}
	f := filepath.Join(c.dir, digest, filepath.Base(path))
	if _, err := os.Stat(f); err == nil {
		return f, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(f); err == nil {
		return f, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	obs, err := c.js.ObjectStore(ctx, CodeBucket)
	if err != nil {
		return "", fmt.Errorf("shipped code %s: the code bucket: %w", path, err)
	}
	b, err := obs.GetBytes(ctx, digest)
	if err != nil {
		return "", fmt.Errorf("shipped code %s (%s): %w", path, digest[:12], err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != digest {
		return "", fmt.Errorf("shipped code %s: its bytes do not hash to %s", path, digest[:12])
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return "", fmt.Errorf("shipped code %s: %w", path, err)
	}
	tmp := f + ".part"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("shipped code %s: %w", path, err)
	}
	if err := os.Rename(tmp, f); err != nil {
		return "", fmt.Errorf("shipped code %s: %w", path, err)
	}
	return f, nil
}
