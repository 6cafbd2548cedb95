// Package config reads the user's Signet configuration: the Python
// interpreter, the worker pool size, the LM profiles and the workbench's
// theme and keys. It holds names of
// environment variables for API keys, never the keys.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the content of config.yaml; every field is optional.
type Config struct {
	Python  string `yaml:"python,omitempty"`  // interpreter for the workers
	Workers int    `yaml:"workers,omitempty"` // pool size
	Threads int    `yaml:"threads,omitempty"` // concurrent requests per worker
	// Concurrency bounds the executions in flight at once (default 8).
	Concurrency int `yaml:"concurrency,omitempty"`
	// Cache is the execution cache's TTL as a Go duration ("10m", "1h");
	// "off" turns it off. Default 10m.
	Cache    string             `yaml:"cache,omitempty"`
	LM       string             `yaml:"lm,omitempty"` // default LM profile
	Profiles map[string]Profile `yaml:"profiles,omitempty"`
	// Theme is the workbench's theme: a built-in name (dark, light,
	// high-contrast), auto (the default: light on a terminal that reports a
	// light background, dark otherwise), or the path of a theme file, relative
	// to the config file's directory unless absolute ("~/" is the home dir).
	Theme string `yaml:"theme,omitempty"`
	// Keys overrides the workbench's key bindings: action name (quit, help,
	// filter, back, open, page_1 ...) → the keys that replace its defaults.
	Keys map[string][]string `yaml:"keys,omitempty"`
	// ExecutionTimeout bounds one execution ("5m" by default); a
	// program's timeout: or `run --timeout` overrides it.
	ExecutionTimeout string `yaml:"execution_timeout,omitempty"`
	// Limit bounds files, inputs, spans, workers' memory and the queue
	// (see Limits; read it through Config.Limits for the defaults).
	Limit Limits `yaml:"limits,omitempty"`
	// Retrieval sizes the workers' embedding cache (see EmbedCache).
	Retrieval Retrieval `yaml:"retrieval,omitempty"`
	// Owner says whether commands start a background owner (see OwnerSettings).
	Owner OwnerSettings `yaml:"owner,omitempty"`
	// OTLP exports ended executions' traces (see OTLPSettings).
	OTLP OTLPSettings `yaml:"otlp,omitempty"`
	// Local says how many servers run the local model (see LocalSettings).
	Local LocalSettings `yaml:"local,omitempty"`

	path string
}

// Profile is a named LM: a DSPy/LiteLLM model string and how to reach it.
type Profile struct {
	Model       string         `yaml:"model"`
	APIBase     string         `yaml:"api_base,omitempty"`
	APIKeyEnv   string         `yaml:"api_key_env,omitempty"` // the variable that holds the key
	Temperature *float64       `yaml:"temperature,omitempty"`
	MaxTokens   int            `yaml:"max_tokens,omitempty"`
	Cache       *bool          `yaml:"cache,omitempty"`
	Adapter     string         `yaml:"adapter,omitempty"`   // chat (default) or json
	PriceIn     float64        `yaml:"price_in,omitempty"`  // USD per 1M input tokens, when the provider reports no cost
	PriceOut    float64        `yaml:"price_out,omitempty"` // USD per 1M output tokens
	Kwargs      map[string]any `yaml:"kwargs,omitempty"`
	// GGUF, for the local model (model: signet/local), serves another GGUF
	// file instead of the SmolLM2 model that setup installs.
	GGUF string `yaml:"gguf,omitempty"`
	// Endpoints, instead of one api_base, lists several servers of the
	// same openai/ model; the worker balances calls between them.
	Endpoints []Endpoint `yaml:"endpoints,omitempty"`
	// Cooldown is how long the workers leave out an endpoint that failed
	// ("30s" when unset): a profile with endpoints, or the local model
	// when it runs several servers (local: servers).
	Cooldown string `yaml:"cooldown,omitempty"`
}

// UnsetKey is the first key variable the profile (or one of its endpoints)
// names that is not set in the environment, or "".
func (p Profile) UnsetKey() string {
	for _, env := range p.keyEnvs() {
		if os.Getenv(env) == "" {
			return env
		}
	}
	return ""
}

// IsLocal reports whether the profile is the supervised llama.cpp server
// that Signet starts itself.
func (p Profile) IsLocal() bool { return p.Model == LocalModel }

// UsesLiteLLM says whether the worker reaches the profile's model through
// LiteLLM: not the test LM, the local model or another OpenAI-compatible
// server (an openai/ model at an api_base), which the worker serves
// without it. A hint for preloading LiteLLM: signet_worker/lms.py decides.
func (p Profile) UsesLiteLLM() bool {
	switch {
	case p.IsLocal(), p.Model == builtin[TestProfile].Model:
		return false
	case strings.HasPrefix(p.Model, "openai/") && (p.APIBase != "" || len(p.Endpoints) > 0):
		return false
	}
	return true
}

// TestProfile is the deterministic rule-based LM shipped with the worker:
// no key, no network, answers that follow the prompt.
const TestProfile = "test"

// LocalProfile is the default LM: SmolLM2-135M-Instruct on llama.cpp,
// served on loopback by a process Signet supervises. No key, no network.
const LocalProfile = "local"

// LocalModel is the model string that means "Signet's own local server".
const LocalModel = "signet/local"

// builtin profiles exist without any config file.
var builtin = map[string]Profile{
	// So small a model follows DSPy's formats only when the server's grammar
	// enforces the output schema (see BENCHMARKS.md for the parse rates).
	LocalProfile: {Model: LocalModel, Adapter: "json_schema", Temperature: new(0.0), MaxTokens: 256},
	// Uncached, so every run really calls it and reports its tokens.
	TestProfile: {Model: "signet/test", Cache: new(false)},
}

// Dir is $XDG_CONFIG_HOME/signet (usually ~/.config/signet).
func Dir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the config dir: %w", err)
	}
	return filepath.Join(d, "signet"), nil
}

// Load reads the config file at path; a missing file is the empty config.
// An empty path means Dir()/config.yaml, or $SIGNET_CONFIG when set.
func Load(path string) (*Config, error) {
	if path == "" {
		path = os.Getenv("SIGNET_CONFIG")
	}
	if path == "" {
		d, err := Dir()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(d, "config.yaml")
	}
	c := &Config{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", path, strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if c.Cache != "" && c.Cache != "off" && c.Cache != "0" {
		if d, err := time.ParseDuration(c.Cache); err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: cache: %q is not a duration such as 10m, or off", path, c.Cache)
		}
	}
	if err := c.checkRetrieval(path); err != nil {
		return nil, err
	}
	if err := c.checkLimits(path); err != nil {
		return nil, err
	}
	if err := c.checkOwner(path); err != nil {
		return nil, err
	}
	if err := c.checkLocal(path); err != nil {
		return nil, err
	}
	if c.Theme != "" && !slices.Contains(themeNames, c.Theme) {
		file := c.ThemeFile()
		if st, err := os.Stat(file); err != nil || st.IsDir() {
			return nil, fmt.Errorf("%s: theme: %q is neither a built-in theme (%s) nor a theme file (%s does not exist or is not a file)",
				path, c.Theme, strings.Join(themeNames, ", "), file)
		}
	}
	for _, action := range slices.Sorted(maps.Keys(c.Keys)) {
		if strings.TrimSpace(action) == "" {
			return nil, fmt.Errorf("%s: keys: empty action name", path)
		}
		for _, k := range c.Keys[action] {
			if strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("%s: keys: action %q: empty key name", path, action)
			}
		}
	}
	for name, p := range c.Profiles {
		if p.Model == "" {
			return nil, fmt.Errorf("%s: profile %q: model is required (a DSPy model string such as openai/gpt-4o-mini)", path, name)
		}
		switch p.Adapter {
		case "", "chat", "json", "json_schema":
		default:
			return nil, fmt.Errorf("%s: profile %q: adapter %q: want chat, json or json_schema", path, name, p.Adapter)
		}
		if err := p.checkEndpoints(path, name); err != nil {
			return nil, err
		}
		if err := p.checkCooldown(path, name); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ThemeAuto is the theme value that picks dark or light from the terminal's
// background; it is the default.
const ThemeAuto = "auto"

// themeNames are the values of theme: that are not files: auto and the
// built-in themes of package themes (which config may not import).
var themeNames = []string{ThemeAuto, "dark", "light", "high-contrast"}

// ThemeName is the configured theme, ThemeAuto when none is set.
func (c *Config) ThemeName() string {
	if c.Theme == "" {
		return ThemeAuto
	}
	return c.Theme
}

// ThemeFile is the theme file the config names, resolved against the config
// file's directory; "" when the theme is auto or a built-in name.
func (c *Config) ThemeFile() string {
	t := c.Theme
	if t == "" || slices.Contains(themeNames, t) {
		return ""
	}
	if rest, ok := strings.CutPrefix(t, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(t) {
		return t
	}
	return filepath.Join(filepath.Dir(c.path), t)
}

// CacheTTL is the execution cache's time to live; negative means off.
func (c *Config) CacheTTL() time.Duration {
	switch c.Cache {
	case "":
		return 10 * time.Minute
	case "off", "0":
		return -1
	}
	d, _ := time.ParseDuration(c.Cache) // checked by Load
	return d
}

// Path is the file the config was read from (it may not exist).
func (c *Config) Path() string { return c.path }

// Profile finds a profile by name, configured ones first, then built-ins.
func (c *Config) Profile(name string) (Profile, error) {
	if p, ok := c.Profiles[name]; ok {
		return p, nil
	}
	if p, ok := builtin[name]; ok {
		return p, nil
	}
	return Profile{}, fmt.Errorf("no LM profile %q (have: %s; add one under profiles: in %s)", name, strings.Join(c.ProfileNames(), ", "), c.path)
}

// ProfileNames lists every profile, sorted.
func (c *Config) ProfileNames() []string {
	var names []string
	for n := range builtin {
		if _, ok := c.Profiles[n]; !ok {
			names = append(names, n)
		}
	}
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KeyEnvs is every variable a profile names as its api_key_env, sorted:
// their values are the secrets Signet never writes (model/redact).
func (c *Config) KeyEnvs() []string {
	var names []string
	for _, n := range c.ProfileNames() {
		p, _ := c.Profile(n)
		for _, env := range p.keyEnvs() {
			if !slices.Contains(names, env) {
				names = append(names, env)
			}
		}
	}
	sort.Strings(names)
	return names
}

// DefaultLM is the profile used when a program names none.
func (c *Config) DefaultLM() string {
	if c.LM != "" {
		return c.LM
	}
	return LocalProfile
}
