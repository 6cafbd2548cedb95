package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		body    string // "" = no file
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "missing file is the empty config", check: func(t *testing.T, c *Config) {
			if c.DefaultLM() != LocalProfile || c.Python != "" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "profiles and defaults", body: "python: /opt/py/bin/python\nworkers: 3\nlm: gpt\nprofiles:\n  gpt:\n    model: openai/gpt-4o-mini\n    api_key_env: OPENAI_API_KEY\n    price_in: 0.15\n    price_out: 0.6\n",
			check: func(t *testing.T, c *Config) {
				p, err := c.Profile("gpt")
				if err != nil || p.Model != "openai/gpt-4o-mini" || p.APIKeyEnv != "OPENAI_API_KEY" || p.PriceOut != 0.6 {
					t.Errorf("profile gpt = %+v, %v", p, err)
				}
				if c.DefaultLM() != "gpt" || c.Workers != 3 || c.Python != "/opt/py/bin/python" {
					t.Errorf("config %+v", c)
				}
				if got := strings.Join(c.ProfileNames(), ","); got != "gpt,local,test" {
					t.Errorf("ProfileNames = %s", got)
				}
			}},
		{name: "unknown key names its line", body: "python: x\nworkres: 2\n", wantErr: "line 2: field workres not found"},
		{name: "profile without model", body: "profiles:\n  broken:\n    api_base: http://127.0.0.1:1\n", wantErr: `profile "broken": model is required`},
		{name: "bad adapter", body: "profiles:\n  p:\n    model: openai/x\n    adapter: xml\n", wantErr: `adapter "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if tt.body != "" {
				if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
					t.Fatal(err)
				}
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
			tt.check(t, c)
		})
	}
}

func TestUnknownProfileListsKnownOnes(t *testing.T) {
	c, _ := Load(filepath.Join(t.TempDir(), "none.yaml"))
	_, err := c.Profile("gpt5")
	if err == nil || !strings.Contains(err.Error(), `no LM profile "gpt5"`) || !strings.Contains(err.Error(), "test") {
		t.Errorf("err = %v", err)
	}
}
