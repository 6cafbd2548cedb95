package api

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/signet-dspy/signet/app"
)

// HTTPConfig is the HTTP face of the service (`signet serve --http`): the
// same routes as the unix socket (routes.go), over TCP, each request with a
// bearer token.
type HTTPConfig struct {
	// Addr is where to listen: "PORT", ":PORT" and "HOST:PORT"; without a
	// host, loopback. Port 0 picks a free one (URL says which).
	Addr string
	// CertFile and KeyFile, both or neither, serve TLS (1.2 at least).
	CertFile, KeyFile string
	// Public are handlers served without a token, by path ("/healthz",
	// "/readyz"); Authed are handlers served after the token is checked
	// ("/metrics", "/v1/graphql", "/v1/openapi.json"), the principal on
	// the request's context as on every route. A path in neither is the
	// routes' (or not found).
	Public map[string]http.Handler
	Authed map[string]http.Handler
	// Instrument, if set, wraps the whole face (the metrics' request
	// counter).
	Instrument func(http.Handler) http.Handler
}

// TLS says whether the face serves TLS.
func (c HTTPConfig) TLS() bool { return c.CertFile != "" }

// Check is the config's usage errors: a certificate without its key (or
// the other way round).
func (c HTTPConfig) Check() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
	}
	return nil
}

// HTTPServer is the service over TCP: a Server (the same routes, the same
// shutdown: drain, then close) whose requests authenticate first.
type HTTPServer struct {
	*Server
	ln      net.Listener
	url     string
	exposed bool
}

// ListenHTTP binds cfg's address and builds the face over svc; Serve
// serves it. A certificate or key that does not load is an error here.
func ListenHTTP(svc app.Service, cfg HTTPConfig) (*HTTPServer, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	addr, exposed, err := httpAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	var tc *tls.Config
	if cfg.TLS() {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate %s with key %s: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving HTTP on %s: %w", addr, err)
	}
	scheme := "http"
	if tc != nil {
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	h := &HTTPServer{Server: NewServer(svc), ln: ln, url: scheme + "://" + ln.Addr().String(), exposed: exposed}
	h.front = h.frontOf(svc, cfg)
	if cfg.Instrument != nil {
		h.front = cfg.Instrument(h.front)
	}
	return h, nil
}

// URL is where the face listens, with the real port.
func (h *HTTPServer) URL() string { return h.url }

// Exposed says whether the face listens beyond loopback.
func (h *HTTPServer) Exposed() bool { return h.exposed }

// Serve serves until Shutdown.
func (h *HTTPServer) Serve() error { return h.Server.Serve(h.ln) }

// httpAddr is the address to bind for --http: loopback unless the
// address names a host, and whether that host is beyond loopback.
func httpAddr(addr string) (string, bool, error) {
	if addr == "" {
		return "", false, errors.New("--http: want PORT, :PORT or HOST:PORT")
	}
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, fmt.Errorf("--http %s: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	exposed := host != "localhost"
	if ip := net.ParseIP(host); ip != nil {
		exposed = !ip.IsLoopback()
	}
	return net.JoinHostPort(host, port), exposed, nil
}

// frontOf routes the public paths as they are, and every other request
// through the bearer token's check to the extra handlers or the routes.
func (h *HTTPServer) frontOf(svc app.Service, cfg HTTPConfig) http.Handler {
	top := http.NewServeMux()
	for p, hd := range cfg.Public {
		top.Handle(p, hd)
	}
	for p, hd := range cfg.Authed {
		top.Handle(p, authenticated(svc, hd))
	}
	top.Handle("/", authenticated(svc, h.mux))
	return top
}

// authenticated serves next as the principal of the request's bearer
// token; without one, or with a token unknown or revoked, 401. The
// service checks the token (and audits a failure) on every request: a
// revocation counts from the next one.
func authenticated(svc app.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := app.WithRemote(r.Context(), remoteHost(r))
		p, err := svc.Authenticate(ctx, bearer(r.Header.Get("Authorization")))
		if err != nil {
			if app.CodeOf(err) == app.CodeUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="signet"`)
			}
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(app.WithPrincipal(ctx, p)))
	})
}

// bearer is the token of an Authorization header, "" when there is none
// or the header is not "Bearer <token>".
func bearer(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// remoteHost is the client's address without its port: one client, many
// connections.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
