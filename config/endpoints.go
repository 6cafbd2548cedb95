package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Endpoint is one OpenAI-compatible server of a profile that lists several
// (a pool of vLLM or llama.cpp servers serving the same model). The worker
// sends each call to the least-loaded healthy one (signet_worker/lmpool.py).
type Endpoint struct {
	APIBase   string `yaml:"api_base"`
	APIKeyEnv string `yaml:"api_key_env,omitempty"` // the variable that holds its key
	// Weight is its share of the load (1 when unset): in-flight/weight decides.
	Weight float64 `yaml:"weight,omitempty"`
	// MaxConcurrency caps its calls in flight (per worker process); 0 is no cap.
	MaxConcurrency int `yaml:"max_concurrency,omitempty"`
	// RPM caps its requests per minute (per worker process); 0 is no cap.
	RPM int `yaml:"rpm,omitempty"`
}

// checkEndpoints validates a profile's endpoints list, naming the file,
// profile and field of what is wrong.
func (p Profile) checkEndpoints(path, name string) error {
	if len(p.Endpoints) == 0 {
		return nil
	}
	where := fmt.Sprintf("%s: profile %q", path, name)
	if p.APIBase != "" || p.APIKeyEnv != "" {
		return fmt.Errorf("%s: endpoints: give api_base and api_key_env per endpoint, not beside endpoints", where)
	}
	if !strings.HasPrefix(p.Model, "openai/") || p.IsLocal() {
		return fmt.Errorf("%s: endpoints: only an OpenAI-compatible model (openai/...) can list endpoints, got %q", where, p.Model)
	}
	seen := map[string]bool{}
	for i, e := range p.Endpoints {
		at := fmt.Sprintf("%s: endpoints[%d]", where, i)
		u, err := url.Parse(e.APIBase)
		if e.APIBase == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: api_base %q: want an http(s) URL such as http://gpu1:8000/v1", at, e.APIBase)
		}
		if seen[e.APIBase] {
			return fmt.Errorf("%s: api_base %q is listed twice", at, e.APIBase)
		}
		seen[e.APIBase] = true
		if e.Weight < 0 {
			return fmt.Errorf("%s: weight %g: want a positive number (1 when unset)", at, e.Weight)
		}
		if e.MaxConcurrency < 0 {
			return fmt.Errorf("%s: max_concurrency %d: want 0 (no cap) or more", at, e.MaxConcurrency)
		}
		if e.RPM < 0 {
			return fmt.Errorf("%s: rpm %d: want 0 (no cap) or more", at, e.RPM)
		}
		if strings.ContainsAny(e.APIKeyEnv, " =$") {
			return fmt.Errorf("%s: api_key_env %q: want the name of an environment variable, not its value", at, e.APIKeyEnv)
		}
	}
	return nil
}

// keyEnvs is every variable the profile names for a key: its own and its endpoints'.
func (p Profile) keyEnvs() []string {
	var out []string
	if p.APIKeyEnv != "" {
		out = append(out, p.APIKeyEnv)
	}
	for _, e := range p.Endpoints {
		if e.APIKeyEnv != "" {
			out = append(out, e.APIKeyEnv)
		}
	}
	return out
}

// Bounds of a profile's cooldown.
const (
	MinCooldown = time.Second
	MaxCooldown = time.Hour
)

// CooldownOr is the profile's cooldown, 0 when unset (the worker's default,
// 30s, applies).
func (p Profile) CooldownOr() time.Duration {
	d, _ := time.ParseDuration(p.Cooldown) // checked by Load
	return d
}

// checkCooldown validates a profile's cooldown, naming the file, profile
// and field.
func (p Profile) checkCooldown(path, name string) error {
	if p.Cooldown == "" {
		return nil
	}
	where := fmt.Sprintf("%s: profile %q: cooldown", path, name)
	if len(p.Endpoints) == 0 && !p.IsLocal() {
		return fmt.Errorf("%s: only a profile with endpoints (or the local model, model: %s, with local: servers above 1) ejects an endpoint for a cool-down", where, LocalModel)
	}
	if d, err := time.ParseDuration(p.Cooldown); err != nil || d < MinCooldown || d > MaxCooldown {
		return fmt.Errorf("%s: %q is not a duration from 1s to 1h, such as 30s or 2m", where, p.Cooldown)
	}
	return nil
}
