package owner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/jobs"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/remote"
)

// An owner joins a NATS server it does not run (--nats URL, here with an
// nkey): its executions go through that server's queue, served by its own
// workers as the pool "local"; status shows the queue as joined. Closing
// the owner leaves the server up.
func TestOwnerJoinsAnExistingNATS(t *testing.T) {
	seed, pub, err := remote.NewUserKey()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := remote.Serve(remote.ServerOptions{Listen: "127.0.0.1:0", Dir: t.TempDir(), NKeys: []string{pub}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	seedFile := filepath.Join(t.TempDir(), "owner.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("lm: test\nprofiles:\n  test: {model: signet/test, cache: false}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CONFIG", cfg)
	o, err := Open(context.Background(), Options{Dir: t.TempDir(), Create: true, Command: "test", Workers: 1, Python: testenv.Python(t),
		NATS: &NATSOptions{URL: srv.URL(), NKey: seedFile, AckWait: 10 * time.Second, Code: remote.CodeShip}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.CreateProgram(t.Context(), &model.Program{Name: "qa", Modules: []model.Module{
		{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}); err != nil {
		t.Fatal(err)
	}
	x, err := o.Run(t.Context(), app.RunRequest{Program: "qa", Wait: true, Inputs: map[string]any{"question": "What is the capital of Peru?"}})
	if err != nil || x.State != model.Completed || x.Outputs["answer"] != "Peru" || x.Worker != "local/1" {
		t.Fatalf("run: %v %+v", err, x)
	}
	st, err := o.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.NATS == nil || st.NATS.Embedded || st.NATS.URL != srv.URL() || len(st.Remote) != 1 || st.Remote[0].Name != "local" {
		t.Fatalf("status: %+v %+v", st.NATS, st.Remote)
	}
	// No concurrency configured: the owner's pool takes the kernel's default.
	if st.Remote[0].Capacity != jobs.DefaultConcurrency {
		t.Fatalf("the owner's pool takes %d jobs at once; want the default %d", st.Remote[0].Capacity, jobs.DefaultConcurrency)
	}
	o.Close(context.Background(), true)
	nc, err := remote.Dial(t.Context(), remote.ClientOptions{URL: srv.URL(), NKey: seedFile})
	if err != nil {
		t.Fatalf("the server after the owner closed: %v", err)
	}
	nc.Close()
}
