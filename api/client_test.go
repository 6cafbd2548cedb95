package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httputil"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/app"
)

// TestClientSendsOnlyTheRequest: what a client sends the owner is the
// request and a few HTTP headers; nothing of its environment (SIGNET_*
// variables, keys) goes with it.
func TestClientSendsOnlyTheRequest(t *testing.T) {
	secrets := map[string]string{"SIGNET_TEST_TOKEN": "tok-5d1e0c", "SIGNET_CONFIG": "/secret/config.yaml", "OPENAI_API_KEY": "sk-abcdef123456"}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	sock := filepath.Join(t.TempDir(), SocketName)
	ln, err := Listen(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var heard [][]byte
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := httputil.DumpRequest(r, true)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		heard = append(heard, b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	})}
	go hs.Serve(ln)
	defer hs.Close()

	ctx := context.Background()
	cl := NewClient(sock)
	if _, err := cl.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Run(ctx, app.RunRequest{Program: "qa", Inputs: map[string]any{"question": "q?"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ImportDataset(ctx, app.ImportDatasetRequest{Name: "qa", File: "qa.jsonl", Data: strings.NewReader(`{"question": "q?"}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 3 {
		t.Fatalf("the owner heard %d requests, want 3", len(heard))
	}
	allowed := []string{"Host", "User-Agent", "Content-Length", "Content-Type", "Accept-Encoding", "Connection", requestHeader}
	for _, req := range heard {
		for k, v := range secrets {
			if bytes.Contains(req, []byte(v)) {
				t.Errorf("%s reached the owner:\n%s", k, req)
			}
		}
		head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
		for _, l := range strings.Split(string(head), "\r\n")[1:] {
			name, _, _ := strings.Cut(l, ":")
			if !slices.Contains(allowed, http.CanonicalHeaderKey(name)) {
				t.Errorf("header %q sent to the owner", l)
			}
		}
	}
}
