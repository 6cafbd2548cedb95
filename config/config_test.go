package config

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		body    string // "" = no file
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "every profile's key variable, once", body: "profiles:\n  a:\n    model: openai/x\n    api_key_env: KEY_B\n  b:\n    model: anthropic/y\n    api_key_env: KEY_A\n  c:\n    model: openai/z\n    api_key_env: KEY_B\n  d:\n    model: signet/test\n",
			check: func(t *testing.T, c *Config) {
				if got := c.KeyEnvs(); !slices.Equal(got, []string{"KEY_A", "KEY_B"}) {
					t.Errorf("KeyEnvs = %v, want [KEY_A KEY_B]", got)
				}
			}},
		{name: "missing file is the empty config", check: func(t *testing.T, c *Config) {
			if c.KeyEnvs() != nil {
				t.Errorf("KeyEnvs of no config = %v", c.KeyEnvs())
			}
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
				if got := c.KeyEnvs(); !slices.Equal(got, []string{"OPENAI_API_KEY"}) {
					t.Errorf("KeyEnvs = %v", got)
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
		{name: "endpoint pool", body: poolConfig, check: checkPool},
		{name: "api_base beside endpoints", body: "profiles:\n  team:\n    model: openai/qwen\n    api_base: http://a/v1\n    endpoints:\n      - {api_base: http://b/v1}\n",
			wantErr: `profile "team": endpoints: give api_base and api_key_env per endpoint`},
		{name: "endpoints of a non-openai model", body: "profiles:\n  team:\n    model: anthropic/claude\n    endpoints:\n      - {api_base: http://b/v1}\n",
			wantErr: `profile "team": endpoints: only an OpenAI-compatible model`},
		{name: "endpoint without url", body: badEndpoint("{weight: 2}"), wantErr: `profile "team": endpoints[0]: api_base ""`},
		{name: "endpoint not http", body: badEndpoint("{api_base: gpu1:8000}"), wantErr: `endpoints[0]: api_base "gpu1:8000": want an http(s) URL`},
		{name: "endpoint weight", body: badEndpoint("{api_base: http://a/v1, weight: -1}"), wantErr: `endpoints[0]: weight -1`},
		{name: "endpoint concurrency", body: badEndpoint("{api_base: http://a/v1, max_concurrency: -2}"), wantErr: `endpoints[0]: max_concurrency -2`},
		{name: "endpoint rpm", body: badEndpoint("{api_base: http://a/v1, rpm: -5}"), wantErr: `endpoints[0]: rpm -5`},
		{name: "endpoint key value", body: badEndpoint("{api_base: http://a/v1, api_key_env: sk-123 456}"), wantErr: `endpoints[0]: api_key_env "sk-123 456": want the name`},
		{name: "endpoint twice", body: "profiles:\n  team:\n    model: openai/qwen\n    endpoints:\n      - {api_base: http://a/v1}\n      - {api_base: http://a/v1}\n",
			wantErr: `endpoints[1]: api_base "http://a/v1" is listed twice`},
		{name: "endpoint unknown field", body: badEndpoint("{api_base: http://a/v1, wieght: 2}"), wantErr: "field wieght not found"},
		{name: "local servers default", check: func(t *testing.T, c *Config) {
			if n := c.LocalServers(); n != 1 {
				t.Errorf("LocalServers with no local: = %d, want 1", n)
			}
		}},
		{name: "local servers", body: "local:\n  servers: 3\n", check: func(t *testing.T, c *Config) {
			if n := c.LocalServers(); n != 3 {
				t.Errorf("LocalServers = %d, want 3", n)
			}
		}},
		{name: "local servers auto", body: "local:\n  servers: auto\n", check: func(t *testing.T, c *Config) {
			if n, want := c.LocalServers(), autoLocalServers(runtime.NumCPU()); n != want || n < 1 || n > MaxLocalServers {
				t.Errorf("LocalServers auto = %d, want %d", n, want)
			}
		}},
		{name: "local servers zero", body: "local:\n  servers: 0\n", wantErr: `local: servers: "0": want a number from 1 to 8, or auto`},
		{name: "local servers too many", body: "local:\n  servers: 9\n", wantErr: `local: servers: "9": want a number from 1 to 8`},
		{name: "local servers word", body: "local:\n  servers: many\n", wantErr: `local: servers: "many"`},
		{name: "local unknown field", body: "local:\n  server: 2\n", wantErr: "field server not found"},
		{name: "cooldown of a pool and of the local model", body: "profiles:\n  team:\n    model: openai/q\n    cooldown: 2m\n    endpoints:\n      - {api_base: http://a/v1}\n" +
			"  mine:\n    model: signet/local\n    cooldown: 5s\n", check: func(t *testing.T, c *Config) {
			for name, want := range map[string]time.Duration{"team": 2 * time.Minute, "mine": 5 * time.Second, "local": 0} {
				if p, _ := c.Profile(name); p.CooldownOr() != want {
					t.Errorf("%s: CooldownOr = %s, want %s", name, p.CooldownOr(), want)
				}
			}
		}},
		{name: "cooldown not a duration", body: badEndpoint("{api_base: http://a/v1}") + "    cooldown: 30\n", wantErr: `profile "team": cooldown: "30" is not a duration from 1s to 1h`},
		{name: "cooldown too long", body: badEndpoint("{api_base: http://a/v1}") + "    cooldown: 2h\n", wantErr: `profile "team": cooldown: "2h" is not a duration`},
		{name: "cooldown too short", body: badEndpoint("{api_base: http://a/v1}") + "    cooldown: 10ms\n", wantErr: `profile "team": cooldown: "10ms"`},
		{name: "cooldown without endpoints", body: "profiles:\n  one:\n    model: openai/q\n    api_base: http://a/v1\n    cooldown: 30s\n",
			wantErr: `profile "one": cooldown: only a profile with endpoints`},
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

func TestConfigThemeAndKeys(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		files     map[string]string // written next to config.yaml
		wantErr   string
		wantTheme string // ThemeName
		wantFile  string // ThemeFile, relative to the config dir ("" = none)
		wantKeys  map[string][]string
	}{
		{name: "no theme is auto", body: "lm: test\n", wantTheme: "auto"},
		{name: "auto", body: "theme: auto\n", wantTheme: "auto"},
		{name: "dark", body: "theme: dark\n", wantTheme: "dark"},
		{name: "light", body: "theme: light\n", wantTheme: "light"},
		{name: "high-contrast", body: "theme: high-contrast\n", wantTheme: "high-contrast"},
		{name: "theme file relative to the config", body: "theme: mine.yaml\n",
			files: map[string]string{"mine.yaml": "extends: dark\naccent: \"#ff0000\"\n"}, wantTheme: "mine.yaml", wantFile: "mine.yaml"},
		{name: "theme file in a subdir", body: "theme: themes/mine.yaml\n",
			files: map[string]string{"themes/mine.yaml": "extends: light\n"}, wantTheme: "themes/mine.yaml", wantFile: "themes/mine.yaml"},
		{name: "unknown theme name", body: "theme: solarized\n", wantErr: `theme: "solarized" is neither a built-in theme (auto, dark, light, high-contrast) nor a theme file`},
		{name: "theme names a directory", body: "theme: themes\n", files: map[string]string{"themes/x.yaml": "extends: dark\n"}, wantErr: `theme: "themes"`},
		{name: "missing theme file", body: "theme: ./nope.yaml\n", wantErr: `theme: "./nope.yaml"`},
		{name: "keys", body: "keys:\n  quit: [x, ctrl+q]\n  filter: [ctrl+f]\n  help: []\n",
			wantTheme: "auto", wantKeys: map[string][]string{"quit": {"x", "ctrl+q"}, "filter": {"ctrl+f"}, "help": {}}},
		{name: "keys not a list", body: "keys:\n  quit: x\n", wantErr: "cannot unmarshal"},
		{name: "keys not a map", body: "keys: [q]\n", wantErr: "cannot unmarshal"},
		{name: "empty key name", body: "keys:\n  quit: [\"q\", \" \"]\n", wantErr: `keys: action "quit": empty key name`},
		{name: "theme is not a string", body: "theme: {name: dark}\n", wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			for name, body := range tt.files {
				f := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
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
			if tt.wantTheme != "" && c.ThemeName() != tt.wantTheme {
				t.Errorf("ThemeName = %q, want %q", c.ThemeName(), tt.wantTheme)
			}
			wantFile := ""
			if tt.wantFile != "" {
				wantFile = filepath.Join(dir, tt.wantFile)
			}
			if got := c.ThemeFile(); got != wantFile {
				t.Errorf("ThemeFile = %q, want %q", got, wantFile)
			}
			if tt.wantKeys != nil {
				if len(c.Keys) != len(tt.wantKeys) {
					t.Fatalf("Keys = %v, want %v", c.Keys, tt.wantKeys)
				}
				for action, ks := range tt.wantKeys {
					if got, ok := c.Keys[action]; !ok || strings.Join(got, ",") != strings.Join(ks, ",") {
						t.Errorf("Keys[%s] = %v, want %v", action, got, ks)
					}
				}
			}
		})
	}
}

func TestConfigThemeFileAbsoluteAndHome(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "abs.yaml")
	if err := os.WriteFile(abs, []byte("extends: dark\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("theme: "+abs+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfg)
	if err != nil || c.ThemeFile() != abs {
		t.Fatalf("absolute theme: %v, ThemeFile %q", err, c.ThemeFile())
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	c = &Config{Theme: "~/t.yaml", path: cfg}
	if got := c.ThemeFile(); got != filepath.Join(home, "t.yaml") {
		t.Errorf("~/ theme: ThemeFile = %q", got)
	}
}

func TestLimits(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (*Config, error) {
		p := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load("execution_timeout: 30s\nlimits:\n  import_line: 1MiB\n  span_payload: 4096\n  queue: 7\n")
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits()
	if l.ImportLine != 1<<20 || l.SpanPayload != 4096 || l.Queue != 7 || l.Input != DefaultInput || l.WorkerMemory != DefaultWorkerMemory {
		t.Errorf("limits %+v", l)
	}
	if c.ExecutionTimeoutOr() != 30*time.Second {
		t.Errorf("timeout %v", c.ExecutionTimeoutOr())
	}
	if d := (&Config{}).ExecutionTimeoutOr(); d != DefaultExecutionTimeout {
		t.Errorf("default timeout %v", d)
	}
	for body, want := range map[string]string{
		"execution_timeout: soon\n":           `execution_timeout: "soon" is not a positive duration`,
		"execution_timeout: -1s\n":            `execution_timeout: "-1s"`,
		"limits:\n  import_line: 3 parsecs\n": `"3 parsecs" is not a size`,
		"limits:\n  input: 0\n":               `"0" is not a size`,
		"limits:\n  queue: -1\n":              "limits: queue: -1 is negative",
		"workers: 10000\n":                    "workers: 10000 is out of range",
		"threads: -2\n":                       "threads: -2 is out of range",
		"limits:\n  nope: 1\n":                "nope",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", body, err, want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"16MiB": 16 << 20, "2GB": 2 << 30, "512k": 512 << 10, "1048576": 1 << 20, " 3 KiB ": 3 << 10} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1TiB", "1.5MiB", "99999999999999999999"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("%q: %v, want an error", in, got)
		}
	}
	if s := (16 << 20 * ByteSize(1)).String(); s != "16MiB" {
		t.Errorf("String %q", s)
	}
}

func TestRetrievalSection(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (*Config, error) {
		p := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load("retrieval:\n  cache_entries: 500\n  cache_ttl: 90m\n")
	if err != nil {
		t.Fatal(err)
	}
	if n, ttl := c.EmbedCache(); n != 500 || ttl != 90*time.Minute {
		t.Errorf("EmbedCache %d %v", n, ttl)
	}
	if n, ttl := (&Config{}).EmbedCache(); n != DefaultCacheEntries || ttl != DefaultCacheTTL {
		t.Errorf("defaults %d %v", n, ttl)
	}
	for body, want := range map[string]string{
		"retrieval:\n  cache_entries: -1\n":       "retrieval: cache_entries: -1 is out of range",
		"retrieval:\n  cache_entries: 99999999\n": "cache_entries: 99999999 is out of range",
		"retrieval:\n  cache_ttl: forever\n":      `retrieval: cache_ttl: "forever" is not a duration`,
		"retrieval:\n  cache_ttl: 0s\n":           `cache_ttl: "0s"`,
		"retrieval:\n  cache_size: 3\n":           "cache_size",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", body, err, want)
		}
	}
}

func TestOwnerSection(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (*Config, error) {
		p := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	t.Setenv("SIGNET_NO_WARM", "")
	t.Setenv("SIGNET_NO_PRIME", "")
	c, err := load("owner:\n  background: false\n  idle_exit: 90s\n  warm_local: false\n  prime_local: false\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.BackgroundOwner() || c.IdleExitOr() != 90*time.Second || c.WarmLocal() || c.PrimeLocal() {
		t.Errorf("background %v, idle exit %v, warm local %v, prime local %v", c.BackgroundOwner(), c.IdleExitOr(), c.WarmLocal(), c.PrimeLocal())
	}
	d := &Config{}
	if !d.BackgroundOwner() || d.IdleExitOr() != DefaultIdleExit || !d.WarmLocal() || !d.PrimeLocal() {
		t.Errorf("defaults: background %v, idle exit %v, warm local %v, prime local %v", d.BackgroundOwner(), d.IdleExitOr(), d.WarmLocal(), d.PrimeLocal())
	}
	t.Setenv("SIGNET_NO_WARM", "1")
	if d.WarmLocal() {
		t.Error("SIGNET_NO_WARM=1 did not turn warming off")
	}
	t.Setenv("SIGNET_NO_PRIME", "1")
	if d.PrimeLocal() {
		t.Error("SIGNET_NO_PRIME=1 did not turn priming off")
	}
	for body, want := range map[string]string{
		"owner:\n  idle_exit: soon\n":   `owner: idle_exit: "soon" is not a duration from 1s to 168h`,
		"owner:\n  idle_exit: 10ms\n":   `idle_exit: "10ms"`,
		"owner:\n  idle_exit: 200h\n":   `idle_exit: "200h"`,
		"owner:\n  background: maybe\n": "maybe",
		"owner:\n  idle_timeout: 10m\n": "idle_timeout",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", body, err, want)
		}
	}
}

func TestProfileUsesLiteLLM(t *testing.T) {
	c := &Config{Profiles: map[string]Profile{
		"vllm":   {Model: "openai/qwen", APIBase: "http://localhost:8000/v1"},
		"openai": {Model: "openai/gpt-4o-mini", APIKeyEnv: "OPENAI_API_KEY"},
		"claude": {Model: "anthropic/claude-3-5-haiku", APIKeyEnv: "ANTHROPIC_API_KEY"},
	}}
	for name, want := range map[string]bool{LocalProfile: false, TestProfile: false, "vllm": false, "openai": true, "claude": true} {
		p, err := c.Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.UsesLiteLLM(); got != want {
			t.Errorf("profile %s (%s): UsesLiteLLM %v, want %v", name, p.Model, got, want)
		}
	}
}

// "auto" gives each server LocalCoresPerServer cores, within 1 and MaxLocalServers.
func TestAutoLocalServers(t *testing.T) {
	for cores, want := range map[int]int{1: 1, 2: 1, 4: 1, 7: 1, 8: 2, 16: 4, 32: 8, 128: 8} {
		if got := autoLocalServers(cores); got != want {
			t.Errorf("auto on %d cores = %d servers, want %d", cores, got, want)
		}
	}
}
