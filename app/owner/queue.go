package owner

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/remote"
)

// NATSOptions put the owner's executions on a NATS JetStream queue that
// pools on other machines serve (signet worker --join; issue 21, docs/scale.md).
type NATSOptions struct {
	// Listen runs an embedded NATS server there (HOST:PORT), its storage in
	// the workspace's nats/; else URL is an existing server or cluster.
	Listen string
	URL    string
	// NKeys is a file of the public keys the embedded server lets in.
	NKeys           string
	TLSCert, TLSKey string
	// Creds, NKey and CA are how the owner reaches the server at URL.
	Creds, NKey, CA string
	AckWait         time.Duration
	Code            remote.CodeMode
}

// queue is the owner's side of the NATS queue while the kernel runs.
type queue struct {
	srv      *remote.Server // nil when joined to a server elsewhere
	nc       *nats.Conn
	d        *remote.Dispatcher
	url      string
	stopPool context.CancelFunc // the owner's own pool serving the queue
	poolDone chan struct{}
	closeMu  sync.Once
}

// NATSDir holds the embedded server's JetStream storage in a workspace.
const NATSDir = "nats"

// startQueue starts (or joins) the NATS server, the dispatcher that is the
// kernel's executor, and, when the owner runs workers, its own pool as one
// more pool serving the queue ("local"), taking concurrency jobs at once.
func (o *Owner) startQueue(ctx context.Context, e *Env, concurrency int) (*queue, error) {
	n := o.opts.NATS
	q := &queue{}
	var err error
	if n.Listen != "" {
		so := remote.ServerOptions{Listen: n.Listen, Dir: filepath.Join(o.dir, NATSDir), TLSCert: n.TLSCert, TLSKey: n.TLSKey}
		if n.NKeys != "" {
			if so.NKeys, err = remote.ReadNKeys(n.NKeys); err != nil {
				return nil, err
			}
		}
		if q.srv, err = remote.Serve(so); err != nil {
			return nil, err
		}
		q.url = q.srv.URL()
		q.nc, err = q.srv.Connect()
	} else {
		q.url = n.URL
		q.nc, err = remote.Dial(ctx, remote.ClientOptions{URL: n.URL, Name: "signet owner " + o.dir, Creds: n.Creds, NKey: n.NKey, CA: n.CA})
	}
	if err != nil {
		q.close()
		return nil, err
	}
	var local remote.Local
	if e.Pool != nil {
		local = e.Pool
	}
	q.d, err = remote.NewDispatcher(ctx, remote.DispatcherOptions{Conn: q.nc, Local: local, AckWait: n.AckWait, Code: n.Code, Log: e.Log, Redact: e.Redact})
	if err != nil {
		q.close()
		return nil, err
	}
	if e.Pool != nil {
		pctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		q.stopPool, q.poolDone = cancel, make(chan struct{})
		go func() {
			defer close(q.poolDone)
			err := remote.Join(pctx, remote.JoinOptions{Conn: q.nc, Name: app.LocalPool, Runner: e.Pool, Capacity: concurrency,
				CacheDir: filepath.Join(o.dir, "cache", "code"), Log: e.Log, Ready: ready, Redact: e.Redact})
			if err != nil {
				o.logf("nats: the owner's own pool stopped serving the queue: %v", err)
			}
		}()
		// The kernel starts with the pool's capacity known.
		select {
		case <-ready:
			q.d.AwaitPool(ctx, app.LocalPool)
		case <-q.poolDone:
		case <-ctx.Done():
		}
	}
	return q, nil
}

// close stops the owner's pool serving the queue, the dispatcher, the
// connection and the embedded server.
func (q *queue) close() {
	q.closeMu.Do(func() {
		if q.stopPool != nil {
			q.stopPool()
			<-q.poolDone
		}
		if q.d != nil {
			q.d.Close()
		}
		if q.nc != nil {
			q.nc.Drain()
			q.nc.Close()
		}
		if q.srv != nil {
			q.srv.Close()
		}
	})
}

// natsStatus is the queue and its pools as the API shows them (nil, nil
// without a queue).
func (o *Owner) natsStatus(ctx context.Context) (*app.NATS, []app.RemotePool) {
	o.startMu.Lock()
	q := o.queue
	o.startMu.Unlock()
	if q == nil || q.d == nil {
		return nil, nil
	}
	qs := q.d.Queue(ctx)
	st := &app.NATS{URL: q.url, Embedded: q.srv != nil, Stream: remote.Stream, Waiting: qs.Waiting, AckWait: qs.AckWait.Seconds(),
		Redelivered: qs.Redelivered}
	var pools []app.RemotePool
	for _, p := range q.d.Pools() {
		rp := app.RemotePool{Name: p.Name, Host: p.Host, PID: p.PID, Started: p.Started, State: "ready", LastSeen: p.LastSeen.Seconds(),
			Capacity: p.Capacity, Running: p.Running, Served: p.Served, Workers: workersOf(p.Workers)}
		if p.Lost {
			rp.State = "lost"
		}
		pools = append(pools, rp)
	}
	return st, pools
}

// DescribeQueue is serve's line about the queue ("" without one).
func (o *Owner) DescribeQueue() string {
	o.startMu.Lock()
	q := o.queue
	o.startMu.Unlock()
	if q == nil {
		return ""
	}
	how := "joined"
	if q.srv != nil {
		how = "embedded NATS server"
	}
	return fmt.Sprintf("%s at %s: workers join with `signet worker --join %s`; user code is %s",
		how, q.url, q.url, map[remote.CodeMode]string{remote.CodeShip: "shipped with each job", remote.CodeRequire: "required on each pool (--code-dir)"}[o.opts.NATS.Code])
}
