package cmd

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
)

// quietService is a service whose event stream says nothing until its
// subscriber goes: all the face asks of it without a request.
type quietService struct{ app.Service }

func (quietService) Subscribe(ctx context.Context) (<-chan app.Event, error) {
	ch := make(chan app.Event)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// The HTTP face says where it listens, with the real port; beyond
// loopback without TLS it warns; on loopback it does not; its stop ends it.
func TestServeHTTPWarnsWhenExposed(t *testing.T) {
	for _, tt := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"0.0.0.0:0", true}} {
		var out, errOut strings.Builder
		a := &cli{stdout: &out, stderr: &errOut}
		stop, err := a.serveHTTP(context.Background(), api.HTTPConfig{Addr: tt.addr}, quietService{})
		if err != nil {
			t.Fatal(err)
		}
		url, _, _ := strings.Cut(strings.TrimPrefix(out.String(), "serving HTTP on "), " ")
		if !strings.HasPrefix(url, "http://") || strings.HasSuffix(url, ":0") {
			t.Fatalf("%s: says %q", tt.addr, out.String())
		}
		resp, err := http.Get(strings.Replace(url, "0.0.0.0", "127.0.0.1", 1) + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: /healthz: %v, %v", tt.addr, resp, err)
		}
		resp.Body.Close()
		stop()
		if got := strings.Contains(errOut.String(), "warning:"); got != tt.warn {
			t.Errorf("%s: stderr %q, want a warning: %v", tt.addr, errOut.String(), tt.warn)
		}
		if _, err := http.Get(url + "/healthz"); err == nil {
			t.Errorf("%s: still served after stop", tt.addr)
		}
	}
}

// serve's TLS flags go together, and with --http.
func TestServeHTTPFlags(t *testing.T) {
	for _, f := range []httpFlags{{addr: ":0", cert: "c.pem"}, {addr: ":0", key: "k.pem"}, {cert: "c.pem", key: "k.pem"}} {
		if _, err := f.config(nil); err == nil {
			t.Errorf("%+v: no usage error", f)
		} else if _, ok := err.(usageError); !ok {
			t.Errorf("%+v: %v is not a usage error", f, err)
		}
	}
	if cfg, err := (httpFlags{addr: "8080"}).config(nil); err != nil || cfg.Addr != "8080" || cfg.TLS() {
		t.Errorf("plain --http 8080: %+v, %v", cfg, err)
	}
}
