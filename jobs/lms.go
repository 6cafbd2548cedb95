package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// lmChoice is a profile name and what it resolved to.
type lmChoice struct {
	profile string
	spec    bridge.LMSpec
}

// lmSet is the LM of a run: the program's and the per-module overrides,
// with the indexes its retrieve modules search (resolved with them: they
// decide the outputs too, so they are part of the cache key).
type lmSet struct {
	main    lmChoice
	modules map[string]lmChoice // by module name
	indexes map[string]bridge.IndexSpec
}

func (s lmSet) moduleSpecs() map[string]bridge.LMSpec {
	if len(s.modules) == 0 {
		return nil
	}
	out := make(map[string]bridge.LMSpec, len(s.modules))
	for m, c := range s.modules {
		out[m] = c.spec
	}
	return out
}

// resolveLMs resolves the run's profile, every module override and the
// program's indexes (a missing one is an attemptError "bad_input"). An
// error that is not a *bridge.Error is an attemptError "lm_profile", not
// retryable; a *bridge.Error keeps its own code and retryability.
func (k *Kernel) resolveLMs(ctx context.Context, prog *model.Program, profile string) (lmSet, error) {
	byName := map[string]bridge.LMSpec{}
	spec := func(name, where string) (bridge.LMSpec, error) {
		if s, ok := byName[name]; ok {
			return s, nil
		}
		s, err := k.lmSpec(ctx, name, where)
		if err == nil {
			byName[name] = s
		}
		return s, err
	}
	var set lmSet
	s, err := spec(profile, "")
	if err != nil {
		return set, err
	}
	set.main = lmChoice{profile, s}
	for _, m := range prog.Modules {
		if m.LM == "" {
			continue
		}
		s, err := spec(m.LM, "module "+m.Name+": ")
		if err != nil {
			return set, err
		}
		if set.modules == nil {
			set.modules = map[string]lmChoice{}
		}
		set.modules[m.Name] = lmChoice{m.LM, s}
	}
	if ix := prog.Indexes(); len(ix) > 0 {
		if k.o.Indexes == nil {
			return set, &attemptError{code: CodeBadInput, err: fmt.Errorf("no index resolves here (%s)", strings.Join(ix, ", "))}
		}
		if set.indexes, err = k.o.Indexes(ctx, prog); err != nil {
			return set, &attemptError{code: CodeBadInput, err: err}
		}
	}
	return set, nil
}

// lmSpec resolves one profile; where prefixes the error ("module m: ").
// An error that is not a *bridge.Error is an attemptError "lm_profile",
// not retryable.
func (k *Kernel) lmSpec(ctx context.Context, name, where string) (bridge.LMSpec, error) {
	s, err := k.o.LMs.Spec(ctx, name)
	if err != nil {
		var be *bridge.Error
		if errors.As(err, &be) {
			return s, err
		}
		return s, &attemptError{code: CodeLMProfile, err: fmt.Errorf("%sLM profile %q: %w", where, name, err)}
	}
	return s, nil
}

// cacheLM is what of an LM choice decides its outputs. Never the API base
// or the key's variable: the same model behind another endpoint answers
// the same, and nothing secret goes into a key, even hashed.
type cacheLM struct {
	Profile     string         `json:"profile"`
	Model       string         `json:"model"`
	Temperature *float64       `json:"temperature"`
	MaxTokens   int            `json:"max_tokens"`
	Adapter     string         `json:"adapter"`
	Kwargs      map[string]any `json:"kwargs,omitempty"`
}

func toCacheLM(c lmChoice) cacheLM {
	return cacheLM{Profile: c.profile, Model: c.spec.Model, Temperature: c.spec.Temperature,
		MaxTokens: c.spec.MaxTokens, Adapter: c.spec.Adapter, Kwargs: c.spec.Kwargs}
}

// cacheKey is sha256 over canonical JSON (encoding/json writes map keys
// sorted) of the program version, the inputs and the LM choices.
func cacheKey(prog *model.Program, inputs map[string]any, lms lmSet) ([]byte, error) {
	mods := map[string]cacheLM{}
	for m, c := range lms.modules {
		mods[m] = toCacheLM(c)
	}
	b, err := json.Marshal(struct {
		Format  string             `json:"format"`
		Program string             `json:"program"`
		Version int                `json:"version"`
		Inputs  map[string]any     `json:"inputs"`
		LM      cacheLM            `json:"lm"`
		Modules map[string]cacheLM `json:"modules,omitempty"`
		Indexes map[string]string  `json:"indexes,omitempty"` // name → directory: content-addressed
	}{"signet-exec-cache/1", prog.Name, prog.Version, inputs, toCacheLM(lms.main), mods, indexDirs(lms.indexes)})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

func indexDirs(ix map[string]bridge.IndexSpec) map[string]string {
	if len(ix) == 0 {
		return nil
	}
	out := make(map[string]string, len(ix))
	for name, s := range ix {
		out[name] = s.Dir
	}
	return out
}
