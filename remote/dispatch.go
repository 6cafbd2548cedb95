package remote

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/redact"
)

// Local is what the dispatcher needs of the owner's own pool, when it has
// one: runs that cannot leave the owner (retrieval over its indexes) and
// data flows.
type Local interface {
	Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error)
	Flow(ctx context.Context, prog *model.Program, baseDir string, indexes map[string]bridge.IndexSpec) (model.Flow, error)
}

// DispatcherOptions configure NewDispatcher.
type DispatcherOptions struct {
	Conn    *nats.Conn
	Local   Local // nil: the owner runs no workers of its own (serve --workers 0)
	AckWait time.Duration
	Code    CodeMode
	// Redact removes the owner's secrets from what pools send, before it
	// is read (pools redact their own first).
	Redact *redact.Redactor
	Log    io.Writer
	Now    func() time.Time
}

// Dispatcher is the owner's side of the queue: the kernel's Executor.
type Dispatcher struct {
	o    DispatcherOptions
	nc   *nats.Conn
	js   jetstream.JetStream
	ship *shipper
	subs []*nats.Subscription

	mu       sync.Mutex
	waiting  map[string]*waiter
	pools    map[string]*poolSeen
	capacity int
	follow   func(int) // hears capacity's changes (Follow)
	closed   bool
	beat     chan struct{} // closed (and replaced) at each heartbeat

	redelivered atomic.Int64
	quit        chan struct{}
	done        chan struct{}
}

type poolSeen struct {
	hb   Heartbeat
	seen time.Time
}

// NewDispatcher makes the stream and its consumer (emptying the stream:
// whatever an earlier owner left there, the kernel queues again itself),
// and starts listening for pools.
func NewDispatcher(ctx context.Context, o DispatcherOptions) (*Dispatcher, error) {
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.Code == "" {
		o.Code = CodeShip
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	js, err := jetstream.New(o.Conn)
	if err != nil {
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Replicas are the operator's (nats stream edit --replicas 3 on a
	// cluster): an update keeps what the stream has; a new one gets the
	// server's default.
	replicas := 0
	if old, err := js.Stream(ctx, Stream); err == nil {
		replicas = old.CachedInfo().Config.Replicas
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: Stream, Subjects: []string{jobsSubject},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: replicas,
		Description: "Signet's execution jobs: one message per attempt, taken by one pool"})
	if err != nil {
		return nil, fmt.Errorf("nats: creating stream %s: %w", Stream, err)
	}
	if err := st.Purge(ctx); err != nil {
		return nil, fmt.Errorf("nats: emptying stream %s: %w", Stream, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, Stream, jetstream.ConsumerConfig{Durable: Consumer, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: o.AckWait, MaxDeliver: -1, MaxAckPending: 100_000, MaxWaiting: 4096,
		Description: "every pool of workers pulls from this one consumer"}); err != nil {
		return nil, fmt.Errorf("nats: creating consumer %s: %w", Consumer, err)
	}
	d := &Dispatcher{o: o, nc: o.Conn, js: js, waiting: map[string]*waiter{}, pools: map[string]*poolSeen{}, beat: make(chan struct{}),
		quit: make(chan struct{}), done: make(chan struct{})}
	if o.Code == CodeShip {
		replicas := 0 // the operator's, as for the stream
		if old, err := js.ObjectStore(ctx, CodeBucket); err == nil {
			if st, err := old.Status(ctx); err == nil {
				replicas = st.Replicas()
			}
		}
		obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: CodeBucket, Storage: jetstream.FileStorage,
			Replicas: replicas, Description: "user code shipped with Signet's jobs, by SHA-256"})
		if err != nil {
			return nil, fmt.Errorf("nats: creating object store %s: %w", CodeBucket, err)
		}
		d.ship = &shipper{obs: obs, shipped: map[fileVersion]string{}}
	}
	for subj, h := range map[string]nats.MsgHandler{startPrefix + "*": d.onStart, outPrefix + "*": d.onOut, poolsSubject: d.onHeartbeat} {
		sub, err := o.Conn.Subscribe(subj, h)
		if err != nil {
			d.unsubscribe()
			return nil, fmt.Errorf("nats: subscribing to %s: %w", subj, err)
		}
		sub.SetPendingLimits(-1, -1) // never drop: a lost span or result would hang a run
		d.subs = append(d.subs, sub)
	}
	if err := o.Conn.FlushWithContext(ctx); err != nil {
		d.unsubscribe()
		return nil, fmt.Errorf("nats: %w", err)
	}
	go d.watch()
	return d, nil
}

func (d *Dispatcher) unsubscribe() {
	for _, s := range d.subs {
		s.Unsubscribe()
	}
}

// Close stops listening; runs still waiting fail as their pools died.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	close(d.quit)
	<-d.done
	d.unsubscribe()
}

// waiter is one Execute waiting for its job. Its messages are queued by
// the subscription's goroutine and handled on Execute's, in order.
type waiter struct {
	key string
	mu  sync.Mutex
	// delivery is the one told to go (0: none yet); pool its pool.
	delivery uint64
	pool     string
	box      []item
	kick     chan struct{}
	gone     bool // Execute returned: every later start is dropped
}

// item is an out message, or a new delivery taking over (switchTo).
type item struct {
	msg      *nats.Msg
	out      out
	switchTo uint64
	from     string // the pool that lost it
	lost     bool   // too many deliveries: give up this attempt
}

func (w *waiter) push(it item) {
	w.mu.Lock()
	w.box = append(w.box, it)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *waiter) take() []item {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.box
	w.box = nil
	return b
}

// Execute runs req on whichever pool takes its job first (a run over the
// owner's indexes on the owner's own workers).
func (d *Dispatcher) Execute(ctx context.Context, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
	if len(req.Indexes) > 0 {
		if d.o.Local == nil {
			return nil, &bridge.Error{Code: "unavailable", Message: "program " + req.Program.Name +
				" searches the workspace's retrieval indexes, which only the owner's own workers can read, and this owner runs none (serve --workers 0)"}
		}
		return d.o.Local.Execute(ctx, req, onSpan)
	}
	if d.o.Local != nil && onLoopback(req) {
		// Its LM listens on the owner's loopback (the local model's
		// server): a pool on another machine cannot reach it.
		return d.o.Local.Execute(ctx, req, onSpan)
	}
	j, err := d.job(ctx, req)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("remote: encoding a job of %s: %w", req.Program.Name, err)
	}
	w := &waiter{key: j.Key, kick: make(chan struct{}, 1)}
	d.mu.Lock()
	d.waiting[j.Key] = w
	d.mu.Unlock()
	defer d.forget(w)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = d.js.Publish(pctx, jobsSubject, body, jetstream.WithMsgID(j.Key))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, bridge.ContextError(ctx.Err())
		}
		return nil, &bridge.Error{Code: bridge.CodeWorkerDied, Retryable: true, Message: "queueing the job on NATS: " + err.Error(), Err: err}
	}
	return d.await(ctx, w, req, onSpan)
}

// job is req as the stream carries it, its code shipped.
func (d *Dispatcher) job(ctx context.Context, req bridge.ExecuteRequest) (*job, error) {
	prog := req.Encoded
	if prog == nil {
		var err error
		if prog, err = bridge.EncodeProgram(req.Program); err != nil {
			return nil, err
		}
	}
	j := &job{Key: nuid.Next(), Program: prog.JSON(), Inputs: req.Inputs, LM: req.LM, ModuleLMs: req.ModuleLMs, State: req.State,
		Trace: req.Trace, Metric: req.Metric, Labels: req.Labels, Metrics: req.Metrics, TimeoutMS: req.Timeout.Milliseconds(),
		Gate: req.Gate != nil, AckWaitMS: d.o.AckWait.Milliseconds()}
	if d.ship != nil {
		code, err := d.ship.ship(ctx, req.Program, metricsOf(j))
		if err != nil {
			return nil, &bridge.Error{Code: "bad_program", Message: err.Error(), Err: err}
		}
		j.Code = code
	}
	return j, nil
}

// onLoopback says whether an LM of req is served on this machine's
// loopback.
func onLoopback(req bridge.ExecuteRequest) bool {
	specs := []*bridge.LMSpec{&req.LM}
	for _, l := range req.ModuleLMs {
		specs = append(specs, &l)
	}
	if req.Metric != nil {
		specs = append(specs, req.Metric.LM)
	}
	for i := range req.Metrics {
		specs = append(specs, req.Metrics[i].LM)
	}
	for _, l := range specs {
		if l == nil {
			continue
		}
		bases := []string{l.APIBase}
		for _, e := range l.Endpoints {
			bases = append(bases, e.APIBase)
		}
		for _, b := range bases {
			if u, err := url.Parse(b); err == nil && b != "" && loopback(u.Hostname()) {
				return true
			}
		}
	}
	return false
}

func metricsOf(j *job) []*bridge.MetricSpec {
	out := []*bridge.MetricSpec{j.Metric}
	for i := range j.Metrics {
		out = append(out, &j.Metrics[i])
	}
	return out
}

func (d *Dispatcher) forget(w *waiter) {
	d.mu.Lock()
	delete(d.waiting, w.key)
	d.mu.Unlock()
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
}

// await handles w's messages until its result comes or ctx ends.
func (d *Dispatcher) await(ctx context.Context, w *waiter, req bridge.ExecuteRequest, onSpan func(model.Span)) (*bridge.ExecuteResult, error) {
	var cur uint64
	open := map[string]model.Span{} // spans of the current delivery begun and not ended
	lostOpen := false               // a lost delivery left an LM call begun
	for {
		select {
		case <-ctx.Done():
			d.nc.Publish(cancelPrefix+w.key, nil) // the pool stops the run; a later delivery is dropped
			return nil, bridge.ContextError(ctx.Err())
		case <-d.quit:
			return nil, &bridge.Error{Code: bridge.CodeWorkerDied, Retryable: true, Message: "the owner stopped listening to its NATS queue"}
		case <-w.kick:
		}
		for _, it := range w.take() {
			switch {
			case it.lost:
				return nil, &bridge.Error{Code: bridge.CodeWorkerDied, Retryable: true, Pool: it.from,
					Message: fmt.Sprintf("the job was lost by %d pools in turn (the last: %s): none finished it within the ack wait", maxDeliveries, it.from)}
			case it.switchTo != 0:
				// The delivery before was lost: end what it left open.
				now := d.o.Now().UTC()
				for _, s := range open {
					s.End, s.Error = now, fmt.Sprintf("pool %s stopped answering; the job went to another pool", it.from)
					if s.Kind == model.SpanLM {
						s.CostUnknown, lostOpen = true, true // the provider may have billed it
					}
					if onSpan != nil {
						onSpan(s)
					}
				}
				clear(open)
				cur = it.switchTo
			case it.out.Delivery != cur:
				// A lost pool that still runs: it gets nothing more, and
				// leaves the job to the delivery that has it now.
				if it.out.T == outResult {
					answer(it.msg, verdict{Superseded: true})
				} else {
					answer(it.msg, admit{Message: "this delivery was given to another pool"})
				}
			default:
				res, err, end := d.handle(ctx, it, req, onSpan, open)
				if end {
					if res != nil && lostOpen {
						res.CostUnknown = true
					}
					return res, err
				}
			}
		}
	}
}

// handle is one message of the current delivery; end says the run ended
// with res or err.
func (d *Dispatcher) handle(ctx context.Context, it item, req bridge.ExecuteRequest, onSpan func(model.Span), open map[string]model.Span) (res *bridge.ExecuteResult, err error, end bool) {
	o := it.out
	switch o.T {
	case outSpan:
		if o.Span == nil {
			return nil, nil, false
		}
		if o.Span.End.IsZero() {
			open[o.Span.ID] = *o.Span
		} else {
			delete(open, o.Span.ID)
		}
		if onSpan != nil {
			onSpan(*o.Span)
		}
	case outReserve:
		a := admit{Admit: true}
		if req.Gate == nil {
			a = admit{Message: "no gate"}
		} else if err := req.Gate.Reserve(ctx, o.Call, o.Estimate); err != nil {
			a = admit{Message: err.Error()}
		}
		answer(it.msg, a)
	case outSettle:
		if req.Gate != nil {
			req.Gate.Settle(o.Call, o.Cost, o.Known)
		}
	case outResult:
		answer(it.msg, verdict{Go: true})
		if o.Error != nil {
			e := o.Error
			return nil, &bridge.Error{Code: e.Code, Message: e.Message, Retryable: e.Retryable, Detail: e.Detail, Pool: e.Pool, Worker: e.Worker, PID: e.PID, Method: "execute"}, true
		}
		if o.Result == nil {
			return nil, &bridge.Error{Code: bridge.CodeProtocol, Retryable: true, Message: "a result with neither outputs nor an error"}, true
		}
		return o.Result, nil, true
	}
	return nil, nil, false
}

func answer(m *nats.Msg, v any) {
	if m == nil || m.Reply == "" {
		return
	}
	b, _ := json.Marshal(v)
	m.Respond(b)
}

// onStart answers a pool that got a delivery: go to the one the owner
// waits for, drop to anything else.
func (d *Dispatcher) onStart(m *nats.Msg) {
	key := strings.TrimPrefix(m.Subject, startPrefix)
	var s start
	if err := json.Unmarshal(m.Data, &s); err != nil || s.Delivery == 0 {
		answer(m, verdict{})
		return
	}
	d.mu.Lock()
	w := d.waiting[key]
	d.mu.Unlock()
	if w == nil {
		answer(m, verdict{})
		return
	}
	w.mu.Lock()
	switch {
	case w.gone:
		w.mu.Unlock()
		answer(m, verdict{})
		return
	case s.Delivery < w.delivery:
		w.mu.Unlock()
		answer(m, verdict{Superseded: true})
		return
	case s.Delivery == w.delivery:
		// The same delivery asks again (its answer was lost): same answer.
		w.mu.Unlock()
		answer(m, verdict{Go: true})
		return
	}
	from := w.pool
	if s.Delivery > 1 {
		// An earlier delivery did not finish: its pool died (before or after
		// asking), was stopped, or found no owner answering.
		d.redelivered.Add(1)
		fmt.Fprintf(d.o.Log, "%s remote: job %s redelivered to pool %s (delivery %d); the pool before (%s) did not finish it\n",
			d.o.Now().UTC().Format(time.RFC3339), key, s.Pool, s.Delivery, cmp.Or(from, "one that never started it"))
	}
	lost := s.Delivery > maxDeliveries
	if !lost {
		w.delivery, w.pool = s.Delivery, s.Pool
	}
	w.mu.Unlock()
	// Queued before the answer: the delivery's first messages, which the
	// answer lets the pool send, must find it current.
	if lost {
		w.push(item{lost: true, from: from})
		answer(m, verdict{})
		return
	}
	w.push(item{switchTo: s.Delivery, from: from})
	answer(m, verdict{Go: true})
}

// onOut queues a pool's message for its waiter.
func (d *Dispatcher) onOut(m *nats.Msg) {
	key := strings.TrimPrefix(m.Subject, outPrefix)
	var o out
	if err := json.Unmarshal(d.o.Redact.Bytes(m.Data), &o); err != nil {
		fmt.Fprintf(d.o.Log, "remote: a bad message for job %s: %v\n", key, err)
		return
	}
	d.mu.Lock()
	w := d.waiting[key]
	d.mu.Unlock()
	if w == nil {
		// Nobody waits: a result is acknowledged (the pool acks its job and
		// moves on), a reservation refused.
		if o.T == outResult {
			answer(m, verdict{})
		} else {
			answer(m, admit{Message: "the owner no longer waits for this job"})
		}
		return
	}
	w.push(item{msg: m, out: o})
}

// onHeartbeat notes a pool's heartbeat.
func (d *Dispatcher) onHeartbeat(m *nats.Msg) {
	var hb Heartbeat
	if err := json.Unmarshal(d.o.Redact.Bytes(m.Data), &hb); err != nil || hb.Name == "" {
		return
	}
	d.mu.Lock()
	if hb.Leaving {
		delete(d.pools, hb.Name)
	} else {
		d.pools[hb.Name] = &poolSeen{hb: hb, seen: d.o.Now()}
	}
	d.recountLocked()
	close(d.beat)
	d.beat = make(chan struct{})
	d.mu.Unlock()
}

// AwaitPool waits until the pool named has been heard from.
func (d *Dispatcher) AwaitPool(ctx context.Context, name string) error {
	for {
		d.mu.Lock()
		_, ok := d.pools[name]
		beat := d.beat
		d.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-beat:
		}
	}
}

// watch marks pools lost when their heartbeats stop.
func (d *Dispatcher) watch() {
	defer close(d.done)
	t := time.NewTicker(DefaultHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-d.quit:
			return
		case <-t.C:
			d.mu.Lock()
			now := d.o.Now()
			for name, p := range d.pools {
				if now.Sub(p.seen) > forgetAfter*every(p.hb) {
					delete(d.pools, name)
				}
			}
			d.recountLocked()
			d.mu.Unlock()
		}
	}
}

func every(hb Heartbeat) time.Duration {
	if hb.EveryMS <= 0 {
		return DefaultHeartbeat
	}
	return time.Duration(hb.EveryMS) * time.Millisecond
}

func (d *Dispatcher) lostLocked(p *poolSeen, now time.Time) bool {
	return now.Sub(p.seen) > lostAfter*every(p.hb)
}

// recountLocked tells the follower the capacity of the live pools when it
// changed.
func (d *Dispatcher) recountLocked() {
	n, now := 0, d.o.Now()
	for _, p := range d.pools {
		if !d.lostLocked(p, now) {
			n += p.hb.Capacity
		}
	}
	if n != d.capacity {
		d.capacity = n
		if d.follow != nil {
			d.follow(n)
		}
	}
}

// Follow has f hear the capacity of the live pools now and each time it
// changes (the kernel's concurrency follows it).
func (d *Dispatcher) Follow(f func(int)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.follow = f
	f(d.capacity)
}

// PoolState is one pool as the owner last heard of it.
type PoolState struct {
	Heartbeat
	Lost     bool
	LastSeen time.Duration
}

// Pools are the pools serving the queue, by name.
func (d *Dispatcher) Pools() []PoolState {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.o.Now()
	out := make([]PoolState, 0, len(d.pools))
	for _, p := range d.pools {
		out = append(out, PoolState{Heartbeat: p.hb, Lost: d.lostLocked(p, now), LastSeen: now.Sub(p.seen)})
	}
	slices.SortFunc(out, func(a, b PoolState) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// QueueState is the stream as the owner sees it.
type QueueState struct {
	Waiting     int
	Redelivered int
	AckWait     time.Duration
}

// Queue says how many jobs wait in the stream.
func (d *Dispatcher) Queue(ctx context.Context) QueueState {
	q := QueueState{Redelivered: int(d.redelivered.Load()), AckWait: d.o.AckWait}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, err := d.js.Consumer(ctx, Stream, Consumer); err == nil {
		if info, err := c.Info(ctx); err == nil {
			q.Waiting = int(info.NumPending)
		}
	}
	return q
}

// Flow is a program's data flow: the owner's own workers read it, else
// any pool.
func (d *Dispatcher) Flow(ctx context.Context, prog *model.Program, baseDir string, indexes map[string]bridge.IndexSpec) (model.Flow, error) {
	if f := prog.StaticFlow(); len(f.Opaque) == 0 {
		return f, nil
	}
	if d.o.Local != nil {
		return d.o.Local.Flow(ctx, prog, baseDir, indexes)
	}
	enc, err := bridge.EncodeProgram(prog)
	if err != nil {
		return model.Flow{}, err
	}
	ask := flowAsk{Program: enc.JSON()}
	if d.ship != nil {
		if ask.Code, err = d.ship.ship(ctx, prog, nil); err != nil {
			return model.Flow{}, err
		}
	}
	body, _ := json.Marshal(ask)
	m, err := d.nc.RequestWithContext(ctx, flowSubject, body)
	if err != nil {
		return model.Flow{}, fmt.Errorf("reading program %s's custom modules on a remote pool: %w", prog.Name, err)
	}
	var a flowAnswer
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return model.Flow{}, fmt.Errorf("reading program %s's custom modules on a remote pool: %w", prog.Name, err)
	}
	if a.Error != "" || a.Flow == nil {
		return model.Flow{}, fmt.Errorf("reading program %s's custom modules on a remote pool: %s", prog.Name, a.Error)
	}
	return *a.Flow, nil
}
