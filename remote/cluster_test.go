package remote

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestStartKeepsReplicas: on a NATS cluster the operator gives the queue's
// stream and the code store 3 replicas (`nats stream edit SIGNET_JOBS
// --replicas 3`), so that losing a node loses no queue; an owner starting
// again must keep them, not put the server's default of 1 back.
func TestStartKeepsReplicas(t *testing.T) {
	nc := jetStreamCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := NewDispatcher(ctx, DispatcherOptions{Conn: nc, Code: CodeShip})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, Stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Replicas = 3
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("raising %s to 3 replicas: %v", Stream, err)
	}
	obs, err := js.ObjectStore(ctx, CodeBucket)
	if err != nil {
		t.Fatal(err)
	}
	ost, err := obs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.UpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: CodeBucket, Description: ost.Description(),
		Storage: jetstream.FileStorage, Replicas: 3}); err != nil {
		t.Fatalf("raising %s to 3 replicas: %v", CodeBucket, err)
	}

	d, err = NewDispatcher(ctx, DispatcherOptions{Conn: nc, Code: CodeShip})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if st, err = js.Stream(ctx, Stream); err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().Config.Replicas; n != 3 {
		t.Errorf("stream %s after the owner started again: %d replicas, want the 3 it had", Stream, n)
	}
	if obs, err = js.ObjectStore(ctx, CodeBucket); err != nil {
		t.Fatal(err)
	}
	if ost, err = obs.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if n := ost.Replicas(); n != 3 {
		t.Errorf("object store %s after the owner started again: %d replicas, want the 3 it had", CodeBucket, n)
	}
}

// jetStreamCluster starts n NATS servers routed into one cluster with
// JetStream on, and connects to the first once the cluster has a
// JetStream leader (streams cannot be made before).
func jetStreamCluster(t *testing.T, n int) *nats.Conn {
	t.Helper()
	var routes []string
	var ports []int
	for range n {
		// A free port for each route listener: the routes name them all.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, "nats://"+l.Addr().String())
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	var servers []*server.Server
	for i := range n {
		s, err := server.NewServer(&server.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "signet-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ","))})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatalf("server n%d did not start", i+1)
		}
		servers = append(servers, s)
	}
	// The meta group elects its leader over the routes: wait for it (the
	// bound is a failure's, not a pause).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for leader := false; !leader; {
		for _, s := range servers {
			leader = leader || s.JetStreamIsLeader()
		}
		if leader {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the cluster elected no JetStream leader within a minute")
		}
	}
	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
