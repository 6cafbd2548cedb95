package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestProfileEndpoints(t *testing.T) {
	const pool = "profiles:\n  team:\n    model: openai/qwen\n    endpoints:\n" +
		"      - {api_base: http://gpu1:8000/v1, weight: 2, max_concurrency: 8, rpm: 600}\n" +
		"      - {api_base: http://gpu2:8000/v1, api_key_env: GPU2_KEY}\n"
	bad := func(ep string) string {
		return "profiles:\n  team:\n    model: openai/qwen\n    endpoints:\n      - " + ep + "\n"
	}
	tests := []struct{ name, body, wantErr string }{
		{"a pool", pool, ""},
		{"api_base beside endpoints", "profiles:\n  team:\n    model: openai/qwen\n    api_base: http://a/v1\n    endpoints:\n      - {api_base: http://b/v1}\n",
			`profile "team": endpoints: give api_base and api_key_env per endpoint`},
		{"not an openai model", "profiles:\n  team:\n    model: anthropic/claude\n    endpoints:\n      - {api_base: http://b/v1}\n",
			`profile "team": endpoints: only an OpenAI-compatible model`},
		{"no url", bad("{weight: 2}"), `profile "team": endpoints[0]: api_base ""`},
		{"not http", bad("{api_base: gpu1:8000}"), `endpoints[0]: api_base "gpu1:8000": want an http(s) URL`},
		{"negative weight", bad("{api_base: http://a/v1, weight: -1}"), `endpoints[0]: weight -1`},
		{"negative concurrency", bad("{api_base: http://a/v1, max_concurrency: -2}"), `endpoints[0]: max_concurrency -2`},
		{"negative rpm", bad("{api_base: http://a/v1, rpm: -5}"), `endpoints[0]: rpm -5`},
		{"a key value, not a name", bad("{api_base: http://a/v1, api_key_env: sk-123 456}"), `endpoints[0]: api_key_env "sk-123 456": want the name`},
		{"twice", "profiles:\n  team:\n    model: openai/qwen\n    endpoints:\n      - {api_base: http://a/v1}\n      - {api_base: http://a/v1}\n",
			`endpoints[1]: api_base "http://a/v1" is listed twice`},
		{"unknown field", bad("{api_base: http://a/v1, wieght: 2}"), "field wieght not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("Load error = %v, want one naming %s and %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
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
		})
	}
}
