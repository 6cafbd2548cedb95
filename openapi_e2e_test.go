package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/signet-dspy/signet/api"
)

// TestBinaryServesOpenAPI: the real binary's owner serves, at
// GET /v1/openapi.json, byte for byte the checked-in docs/openapi.json.
func TestBinaryServesOpenAPI(t *testing.T) {
	ws := t.TempDir() + "/ws"
	env := []string{"SIGNET_HOME=" + ws, "SIGNET_CONFIG=" + t.TempDir() + "/none.yaml"}
	mustRun(t, env, "init")
	serveForeground(t, append(env, pythonEnv(t)...))

	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", api.SocketPath(ws))
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://signet/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	want, err := os.ReadFile("docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("the binary serves another document than docs/openapi.json (go test ./api -run OpenAPI -update rewrites it)")
	}
}
