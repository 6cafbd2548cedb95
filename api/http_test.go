package api

import (
	"net/http"
	"testing"
)

// --http binds loopback unless the address names another host, and says
// when it does.
func TestHTTPAddr(t *testing.T) {
	for _, tt := range []struct {
		in, addr string
		exposed  bool
	}{
		{"8080", "127.0.0.1:8080", false},
		{":8080", "127.0.0.1:8080", false},
		{"0", "127.0.0.1:0", false},
		{"localhost:9000", "localhost:9000", false},
		{"127.0.0.2:80", "127.0.0.2:80", false},
		{"[::1]:80", "[::1]:80", false},
		{"0.0.0.0:8080", "0.0.0.0:8080", true},
		{"[::]:8080", "[::]:8080", true},
		{"10.1.2.3:8080", "10.1.2.3:8080", true},
		{"example.org:443", "example.org:443", true},
	} {
		addr, exposed, err := httpAddr(tt.in)
		if err != nil || addr != tt.addr || exposed != tt.exposed {
			t.Errorf("httpAddr(%q) = %q, %v, %v; want %q, %v", tt.in, addr, exposed, err, tt.addr, tt.exposed)
		}
	}
	for _, bad := range []string{"", "a:b:c"} {
		if _, _, err := httpAddr(bad); err == nil {
			t.Errorf("httpAddr(%q): no error", bad)
		}
	}
	if err := (HTTPConfig{Addr: ":0", CertFile: "c.pem"}).Check(); err == nil {
		t.Error("a certificate without its key: no error")
	}
	if err := (HTTPConfig{Addr: ":0", KeyFile: "k.pem"}).Check(); err == nil {
		t.Error("a key without its certificate: no error")
	}
}

func TestBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer sgt_abc":   "sgt_abc",
		"bearer  sgt_abc ": "sgt_abc",
		"Basic dXNlcjpwdw": "",
		"sgt_abc":          "",
		"":                 "",
	} {
		if got := bearer(h); got != want {
			t.Errorf("bearer(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestAcceptsSSE(t *testing.T) {
	for accept, want := range map[string]bool{
		"text/event-stream":                         true,
		"application/json, text/event-stream;q=0.9": true,
		"TEXT/EVENT-STREAM":                         true,
		"application/x-ndjson":                      false,
		"":                                          false,
	} {
		r, _ := http.NewRequest("GET", "/v1/events", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := acceptsSSE(r); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}
