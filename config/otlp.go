package config

// OTLPSettings send every ended execution's trace to an OpenTelemetry
// collector (Jaeger, Tempo, an OpenTelemetry Collector) over OTLP/HTTP,
// from a serving owner (`signet serve`, and the background owner).
type OTLPSettings struct {
	// Endpoint is http(s)://HOST:PORT (the path /v1/traces is added when
	// it has none); empty: no export. `signet serve --otlp URL` overrides it.
	Endpoint string `yaml:"endpoint,omitempty"`
	// Content lets prompts, completions, inputs and outputs out with the
	// spans (default false: names, models, tokens, cost and timings).
	// Key-shaped secrets are redacted either way.
	Content bool `yaml:"content,omitempty"`
}
