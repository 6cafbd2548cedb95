package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
)

// Runner is what a pool needs of its workers (*bridge.Pool).
type Runner interface {
	Local
	Status() []bridge.WorkerStatus
}

// JoinOptions configure Join.
type JoinOptions struct {
	Conn     *nats.Conn
	Name     string // the pool's name: executions record NAME/<worker>
	Runner   Runner
	Capacity int // jobs run at once
	// CacheDir holds the code shipped with jobs (CodeShip); CodeDir is
	// where the references of jobs without shipped code resolve
	// (CodeRequire): "" keeps the program's own directory (the owner's pool).
	CacheDir  string
	CodeDir   string
	Heartbeat time.Duration // default DefaultHeartbeat
	Log       io.Writer
	// Ready, when set, is closed once the pool pulls from the queue.
	Ready chan<- struct{}
	// Redact removes the pool's own secrets (its config's keys, key shapes)
	// from all it sends; each job's key variables, read from this machine's
	// environment, are removed too.
	Redact *redact.Redactor
}

// Join serves the queue with a pool of workers until ctx ends: it pulls
// jobs as it has free capacity, runs them and reports back (the package
// comment). When ctx ends, it stops pulling and tells the owner it leaves;
// jobs it was running are given back to the queue at once.
func Join(ctx context.Context, o JoinOptions) error {
	if o.Capacity <= 0 {
		o.Capacity = 1
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	js, err := jetstream.New(o.Conn)
	if err != nil {
		return fmt.Errorf("nats: jetstream: %w", err)
	}
	p := &pool{o: o, js: js, code: &codeCache{dir: o.CacheDir, js: js}, free: make(chan struct{}, o.Capacity), started: time.Now().UTC()}
	for range o.Capacity {
		p.free <- struct{}{}
	}
	host, _ := os.Hostname()
	p.host = host
	flow, err := o.Conn.QueueSubscribe(flowSubject, poolsQueue, p.onFlow)
	if err != nil {
		return fmt.Errorf("nats: subscribing to %s: %w", flowSubject, err)
	}
	defer flow.Unsubscribe()

	hbCtx, stopHB := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); p.heartbeats(hbCtx) }()
	defer func() {
		stopHB()
		<-hbDone
		p.beat(true)
		o.Conn.FlushTimeout(time.Second) // not for long: the server may be gone
	}()

	cons, err := p.consumer(ctx)
	if err != nil {
		return err
	}
	if o.Ready != nil {
		close(o.Ready)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		// Wait for a free slot, then ask for as many jobs as are free.
		select {
		case <-ctx.Done():
			return nil
		case <-p.free:
		}
		n := 1
	more:
		for {
			select {
			case <-p.free:
				n++
			default:
				break more
			}
		}
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			for range n {
				p.free <- struct{}{}
			}
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(o.Log, "%s pool %s: pulling jobs: %v\n", stamp(), o.Name, err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second): // the server is away: NATS reconnects meanwhile
			}
			continue
		}
		got := 0
		msgs := batch.Messages()
	batch:
		for {
			var m jetstream.Msg
			select {
			case <-ctx.Done():
				// Leaving: a job this pull still brings is not taken; it
				// goes to another pool after the ack wait.
				return nil
			case m = <-msgs:
				if m == nil {
					break batch
				}
			}
			got++
			wg.Add(1)
			p.running.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					p.running.Add(-1)
					p.free <- struct{}{}
					p.beat(false) // the owner's view of the pool follows each job, not only the second
				}()
				p.run(ctx, m)
			}()
		}
		for range n - got {
			p.free <- struct{}{}
		}
	}
}

// consumer finds the queue's consumer, waiting for an owner to make it.
func (p *pool) consumer(ctx context.Context) (jetstream.Consumer, error) {
	said := false
	if !p.o.Conn.IsConnected() {
		fmt.Fprintf(p.o.Log, "%s pool %s: waiting for the NATS server at %s\n", stamp(), p.o.Name, strings.Join(p.o.Conn.Servers(), ", "))
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := p.js.Consumer(cctx, Stream, Consumer)
		cancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !said {
			fmt.Fprintf(p.o.Log, "%s pool %s: waiting for an owner's queue (%v)\n", stamp(), p.o.Name, err)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339) }

type pool struct {
	o       JoinOptions
	js      jetstream.JetStream
	code    *codeCache
	free    chan struct{}
	host    string
	started time.Time
	running atomic.Int64
	served  atomic.Int64
}

func (p *pool) heartbeats(ctx context.Context) {
	t := time.NewTicker(p.o.Heartbeat)
	defer t.Stop()
	for {
		p.beat(false)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *pool) beat(leaving bool) {
	hb := Heartbeat{Name: p.o.Name, Host: p.host, PID: os.Getpid(), Started: p.started, EveryMS: p.o.Heartbeat.Milliseconds(),
		Capacity: p.o.Capacity, Running: int(p.running.Load()), Served: int(p.served.Load()), Workers: p.o.Runner.Status(), Leaving: leaving}
	b, _ := json.Marshal(hb)
	p.o.Conn.Publish(poolsSubject, p.o.Redact.Bytes(b))
}

// run is one delivery of a job.
func (p *pool) run(ctx context.Context, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		m.Term()
		return
	}
	var j job
	if err := json.Unmarshal(m.Data(), &j); err != nil || j.Key == "" {
		fmt.Fprintf(p.o.Log, "%s pool %s: a job it cannot read: %v\n", stamp(), p.o.Name, err)
		m.Term()
		return
	}
	d := meta.NumDelivered
	ask, _ := json.Marshal(start{Pool: p.o.Name, Delivery: d})
	reply, err := p.o.Conn.RequestWithContext(ctx, startPrefix+j.Key, ask)
	if err != nil {
		// No owner answers now: leave the job for after a short delay.
		m.NakWithDelay(time.Second)
		return
	}
	var v verdict
	if json.Unmarshal(reply.Data, &v) != nil || !v.Go {
		if !v.Superseded {
			m.Ack() // nobody waits for it any more
		}
		return
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop, err := p.o.Conn.Subscribe(cancelPrefix+j.Key, func(*nats.Msg) { cancel() })
	if err == nil {
		defer stop.Unsubscribe()
	}
	// Say "in progress" while it runs, so the ack wait counts from the last
	// sign of life, not from the delivery.
	ackWait := time.Duration(j.AckWaitMS) * time.Millisecond
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	alive := make(chan struct{})
	go func() {
		t := time.NewTicker(ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-alive:
				return
			case <-t.C:
				m.InProgress()
			}
		}
	}()
	keys := jobSecrets(&j)
	o := p.execute(runCtx, &j, d, keys)
	close(alive)
	if ctx.Err() != nil && runCtx.Err() != nil && o.Error != nil {
		// This pool is stopping: the job goes back to the queue at once.
		m.Nak()
		return
	}
	o.T, o.Delivery = outResult, d
	body, _ := json.Marshal(o)
	body = p.o.Redact.Bytes(keys.Bytes(body))
	for try := 0; ; try++ {
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		reply, err := p.o.Conn.RequestWithContext(rctx, outPrefix+j.Key, body)
		rcancel()
		if err == nil {
			var v verdict
			if json.Unmarshal(reply.Data, &v) == nil && v.Superseded {
				return // another pool has the job now: its ack is the one
			}
			break
		}
		if try == 2 {
			// The owner did not hear it: the job comes back after the ack
			// wait, to be run again if the owner still waits for it.
			fmt.Fprintf(p.o.Log, "%s pool %s: job %s: the owner did not take its result: %v\n", stamp(), p.o.Name, j.Key, err)
			return
		}
	}
	p.served.Add(1)
	m.Ack()
}

// execute runs a job on the pool's workers: its result or error as sent.
// What it sends meanwhile goes without keys (the pool's own, and the
// values of the job's key variables here).
func (p *pool) execute(ctx context.Context, j *job, d uint64, keys *redact.Redactor) out {
	fail := func(code, msg string) out { return out{Error: &wireError{Code: code, Message: msg, Pool: p.o.Name}} }
	var prog model.Program
	if err := json.Unmarshal(j.Program, &prog); err != nil {
		return fail("bad_program", "the job's program does not decode: "+err.Error())
	}
	if p.o.CodeDir != "" {
		prog.BaseDir = p.o.CodeDir
	}
	req := bridge.ExecuteRequest{Program: &prog, Inputs: j.Inputs, LM: j.LM, ModuleLMs: j.ModuleLMs, State: j.State, Trace: j.Trace,
		Metric: j.Metric, Labels: j.Labels, Metrics: j.Metrics, Timeout: time.Duration(j.TimeoutMS) * time.Millisecond}
	if len(j.Code) > 0 {
		if err := p.code.localize(ctx, &prog, metricsOf(j), j.Code); err != nil {
			return fail("bad_program", err.Error())
		}
	}
	subj := outPrefix + j.Key
	send := func(o out) {
		o.Delivery = d
		b, _ := json.Marshal(o)
		p.o.Conn.Publish(subj, p.o.Redact.Bytes(keys.Bytes(b)))
	}
	if j.Gate {
		req.Gate = &gate{nc: p.o.Conn, subj: subj, d: d}
	}
	var onSpan func(model.Span)
	if j.Trace {
		onSpan = func(s model.Span) { send(out{T: outSpan, Span: &s}) }
	}
	res, err := p.o.Runner.Execute(ctx, req, onSpan)
	if err != nil {
		var be *bridge.Error
		if !errors.As(err, &be) {
			return fail("internal", err.Error())
		}
		return out{Error: &wireError{Code: be.Code, Message: be.Message, Retryable: be.Retryable, Detail: be.Detail,
			Pool: p.o.Name, Worker: be.Worker, PID: be.PID}}
	}
	return out{Result: res}
}

// jobSecrets redacts the values of the key variables a job's LMs name, as
// this machine's environment has them: the pool's workers call with them.
func jobSecrets(j *job) *redact.Redactor {
	var names []string
	add := func(l *bridge.LMSpec) {
		if l == nil {
			return
		}
		names = append(names, l.APIKeyEnv)
		for _, e := range l.Endpoints {
			names = append(names, e.APIKeyEnv)
		}
	}
	add(&j.LM)
	for _, l := range j.ModuleLMs {
		add(&l)
	}
	for _, m := range metricsOf(j) {
		if m != nil {
			add(m.LM)
		}
	}
	return redact.FromEnv(os.Getenv, names...)
}

// gate asks the owner to admit each LM call (its kernel's budget gate).
type gate struct {
	nc   *nats.Conn
	subj string
	d    uint64
}

func (g *gate) Reserve(ctx context.Context, call string, estimate float64) error {
	b, _ := json.Marshal(out{T: outReserve, Delivery: g.d, Call: call, Estimate: estimate})
	m, err := g.nc.RequestWithContext(ctx, g.subj, b)
	if err != nil {
		return fmt.Errorf("asking the owner to admit an LM call: %w", err)
	}
	var a admit
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return fmt.Errorf("the owner's answer to an LM call: %w", err)
	}
	if !a.Admit {
		return errors.New(a.Message)
	}
	return nil
}

func (g *gate) Settle(call string, cost float64, known bool) {
	b, _ := json.Marshal(out{T: outSettle, Delivery: g.d, Call: call, Cost: cost, Known: known})
	g.nc.Publish(g.subj, b)
}

// onFlow answers a flow question with this pool's workers.
func (p *pool) onFlow(m *nats.Msg) {
	var ask flowAsk
	reply := func(a flowAnswer) { b, _ := json.Marshal(a); m.Respond(b) }
	if err := json.Unmarshal(m.Data, &ask); err != nil {
		reply(flowAnswer{Error: err.Error()})
		return
	}
	var prog model.Program
	if err := json.Unmarshal(ask.Program, &prog); err != nil {
		reply(flowAnswer{Error: err.Error()})
		return
	}
	if p.o.CodeDir != "" {
		prog.BaseDir = p.o.CodeDir
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if len(ask.Code) > 0 {
		if err := p.code.localize(ctx, &prog, nil, ask.Code); err != nil {
			reply(flowAnswer{Error: err.Error()})
			return
		}
	}
	f, err := p.o.Runner.Flow(ctx, &prog, "", nil)
	if err != nil {
		reply(flowAnswer{Error: err.Error()})
		return
	}
	reply(flowAnswer{Flow: &f})
}
