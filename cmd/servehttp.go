package cmd

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/api/metrics"
	"github.com/signet-dspy/signet/app"
)

// httpFlags are serve's flags for the HTTP face (api.HTTPServer).
type httpFlags struct {
	addr, cert, key string
}

func (f *httpFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.addr, "http", "", "also serve the API over HTTP on `ADDR` (PORT, :PORT: loopback; HOST:PORT); every request needs a bearer token")
	c.Flags().StringVar(&f.cert, "tls-cert", "", "serve HTTPS with this certificate `FILE` (PEM; with --tls-key)")
	c.Flags().StringVar(&f.key, "tls-key", "", "the TLS certificate's private key `FILE` (PEM; with --tls-cert)")
}

// config is the face's configuration, or a usage error.
func (f httpFlags) config(svc app.Service) (api.HTTPConfig, error) {
	cfg := api.HTTPConfig{Addr: f.addr, CertFile: f.cert, KeyFile: f.key}
	if f.addr == "" {
		if f.cert != "" || f.key != "" {
			return cfg, usagef("serve: --tls-cert and --tls-key need --http ADDR")
		}
		return cfg, nil
	}
	if err := cfg.Check(); err != nil {
		return cfg, usagef("serve: %v", err)
	}
	return cfg, nil
}

// withHandlers is cfg with the handlers the HTTP face serves beside the
// API's routes: health and readiness without a token, the metrics after
// the token's check, and every request counted.
func withHandlers(cfg api.HTTPConfig, svc app.Service, m *metrics.Metrics) api.HTTPConfig {
	cfg.Public = map[string]http.Handler{"/healthz": metrics.Healthz(), "/readyz": metrics.Readyz(svc)}
	cfg.Authed = map[string]http.Handler{"/metrics": m.Handler()}
	cfg.Instrument = m.Instrument
	return cfg
}

// serveHTTP starts the HTTP face, says where it listens (and warns when it
// is reachable beyond loopback without TLS), and returns its stop: drain
// the requests in flight (bounded), then close.
func (a *cli) serveHTTP(ctx context.Context, cfg api.HTTPConfig, svc app.Service) (func(), error) {
	m, err := metrics.New(context.WithoutCancel(ctx), svc)
	if err != nil {
		return nil, err
	}
	hs, err := api.ListenHTTP(svc, withHandlers(cfg, svc, m))
	if err != nil {
		m.Close()
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve() }()
	fmt.Fprintf(a.stdout, "serving HTTP on %s (bearer tokens: `signet token create USER`)\n", hs.URL())
	if hs.Exposed() && !cfg.TLS() {
		fmt.Fprintf(a.stderr, "warning: %s is reachable beyond this machine over plain HTTP: bearer tokens cross the network in the clear; give --tls-cert and --tls-key\n", hs.URL())
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), httpDrain)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			hs.Interrupt()
		}
		if err := <-served; err != nil {
			fmt.Fprintf(a.stderr, "HTTP: %v\n", err)
		}
		m.Close()
	}, nil
}

// httpDrain bounds how long a stopping server waits for HTTP requests in
// flight (a run waiting for its end) before it interrupts them.
const httpDrain = 30 * time.Second
