package config

import (
	"slices"
	"testing"
)

// poolConfig is a profile with two endpoints (TestLoad).
const poolConfig = "profiles:\n  team:\n    model: openai/qwen\n    endpoints:\n" +
	"      - {api_base: http://gpu1:8000/v1, weight: 2, max_concurrency: 8, rpm: 600}\n" +
	"      - {api_base: http://gpu2:8000/v1, api_key_env: GPU2_KEY}\n"

// badEndpoint is a profile whose one endpoint is ep.
func badEndpoint(ep string) string {
	return "profiles:\n  team:\n    model: openai/qwen\n    endpoints:\n      - " + ep + "\n"
}

func checkPool(t *testing.T, c *Config) {
	p, _ := c.Profile("team")
	want := []Endpoint{{APIBase: "http://gpu1:8000/v1", Weight: 2, MaxConcurrency: 8, RPM: 600},
		{APIBase: "http://gpu2:8000/v1", APIKeyEnv: "GPU2_KEY"}}
	if !slices.Equal(p.Endpoints, want) {
		t.Errorf("endpoints = %+v, want %+v", p.Endpoints, want)
	}
	// An endpoint's key variable is a secret to redact, and one to check before a run.
	if got := c.KeyEnvs(); !slices.Equal(got, []string{"GPU2_KEY"}) {
		t.Errorf("KeyEnvs = %v, want [GPU2_KEY]", got)
	}
	t.Setenv("GPU2_KEY", "")
	if got := p.UnsetKey(); got != "GPU2_KEY" {
		t.Errorf("UnsetKey = %q, want GPU2_KEY", got)
	}
	t.Setenv("GPU2_KEY", "secret")
	if got := p.UnsetKey(); got != "" {
		t.Errorf("UnsetKey with the key set = %q", got)
	}
	if p.UsesLiteLLM() {
		t.Error("an openai/ pool goes through the worker's own OpenAI-compatible LM, not LiteLLM")
	}
}
