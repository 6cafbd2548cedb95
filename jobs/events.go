package jobs

import (
	"sync"

	"github.com/signet-dspy/signet/model"
)

// Event is a state change of a job, a span streamed by a running execution
// or an optimization's progress. Its records are shared by every
// subscriber: do not modify them.
type Event struct {
	Kind      string // EventExecution, EventSpan, EventOptimization or EventEvaluation
	Execution *model.Execution
	Span      *model.Span
	// Optimization is a run's record; Progress is set on a progress report,
	// nil on a state change.
	Optimization *model.Optimization
	Progress     *model.OptProgress
	// Evaluation is an evaluation's record, published as each example ends
	// and at each state change.
	Evaluation *model.Evaluation
}

// Event kinds.
const (
	EventExecution    = "execution"
	EventSpan         = "span"
	EventOptimization = "optimization"
	EventEvaluation   = "evaluation"
)

// defaultEventBuffer is Subscribe's buffer when it is given none.
const defaultEventBuffer = 64

// subscriber delivers events to one consumer in publishing order. State
// changes of jobs are queued without bound, so none is ever dropped (a slow
// consumer costs memory, not correctness); span and progress events are
// dropped once max of them are waiting, since they are a live view of what
// the store keeps anyway.
type subscriber struct {
	out    chan Event
	max    int
	filter Filter

	mu      sync.Mutex
	q       []Event
	lossy   int // span and progress events in q
	dropped int
	ending  bool // deliver what is queued, then close out

	wake     chan struct{}
	quit     chan struct{}
	quitOnce sync.Once
}

// Filter leaves events a subscriber does not want out of its stream.
type Filter struct {
	// NoSpans: no span events (a batch's client). While no subscriber wants
	// them, the spans of every execution cost nothing to publish.
	NoSpans bool
	// EndedOnly: an execution's event only once it has ended (a client
	// that follows executions to their ends: not two more per execution).
	EndedOnly bool
}

// wants says whether ev passes f.
func (f Filter) wants(ev Event) bool {
	switch ev.Kind {
	case EventSpan:
		return !f.NoSpans
	case EventExecution:
		return !f.EndedOnly || ev.Execution.State.Terminal()
	}
	return true
}

// Subscribe returns a channel of events and a function that ends the
// subscription (call it; it closes the channel). Every state change of every
// job is delivered, in order per job; span and progress events may be
// dropped while the consumer is behind by more than buffer of them. The
// channel is closed by the end function, or after Close once every queued
// event has been received.
func (k *Kernel) Subscribe(buffer int) (<-chan Event, func()) {
	return k.SubscribeWith(buffer, Filter{})
}

// SubscribeWith is Subscribe with the events f leaves out.
func (k *Kernel) SubscribeWith(buffer int, f Filter) (<-chan Event, func()) {
	if buffer <= 0 {
		buffer = defaultEventBuffer
	}
	spans := !f.NoSpans
	s := &subscriber{out: make(chan Event, buffer), max: buffer, filter: f, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	k.subMu.Lock()
	if k.subsEnded {
		k.subMu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	k.subs[s] = struct{}{}
	if spans {
		k.spanSubs.Add(1)
	}
	k.subMu.Unlock()
	go s.forward()
	return s.out, func() {
		k.subMu.Lock()
		k.dropLocked(s)
		k.subMu.Unlock()
		s.quitOnce.Do(func() { close(s.quit) })
	}
}

// dropLocked removes a subscriber, once.
func (k *Kernel) dropLocked(s *subscriber) {
	if _, ok := k.subs[s]; !ok {
		return
	}
	delete(k.subs, s)
	if !s.filter.NoSpans {
		k.spanSubs.Add(-1)
	}
}

func (s *subscriber) forward() {
	defer close(s.out)
	for {
		s.mu.Lock()
		if len(s.q) == 0 {
			ending := s.ending
			s.mu.Unlock()
			if ending {
				return
			}
			select {
			case <-s.wake:
				continue
			case <-s.quit:
				return
			}
		}
		ev := s.q[0]
		s.q[0] = Event{}
		s.q = s.q[1:]
		if droppable(ev) {
			s.lossy--
		}
		s.mu.Unlock()
		select {
		case s.out <- ev:
		case <-s.quit:
			return
		}
	}
}

func (s *subscriber) push(ev Event) {
	if !s.filter.wants(ev) {
		return
	}
	s.mu.Lock()
	switch {
	case s.ending:
	case droppable(ev) && s.lossy >= s.max:
		s.dropped++
	default:
		if droppable(ev) {
			s.lossy++
		}
		s.q = append(s.q, ev)
	}
	s.mu.Unlock()
	s.poke()
}

func (s *subscriber) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// end makes the subscriber deliver what it has queued, then close.
func (s *subscriber) end() {
	s.mu.Lock()
	s.ending = true
	s.mu.Unlock()
	s.poke()
}

// droppable says whether a slow subscriber may lose ev.
func droppable(ev Event) bool {
	return ev.Kind == EventSpan || (ev.Kind == EventOptimization && ev.Progress != nil)
}

func (k *Kernel) publish(ev Event) {
	k.subMu.Lock()
	defer k.subMu.Unlock()
	for s := range k.subs {
		s.push(ev)
	}
}

// publishExec announces a state change; x is never modified afterwards.
func (k *Kernel) publishExec(x *model.Execution) {
	k.publish(Event{Kind: EventExecution, Execution: x})
}

// publishSpan announces a span; s is copied first, only when some
// subscriber wants spans.
func (k *Kernel) publishSpan(s *model.Span) {
	if k.spanSubs.Load() == 0 {
		return
	}
	c := *s
	k.publish(Event{Kind: EventSpan, Span: &c})
}

// publishOpt announces an optimization's change (p nil) or progress; o is
// never modified afterwards.
func (k *Kernel) publishOpt(o *model.Optimization, p *model.OptProgress) {
	k.publish(Event{Kind: EventOptimization, Optimization: o, Progress: p})
}

// publishEval announces an evaluation's change; v is never modified afterwards.
func (k *Kernel) publishEval(v *model.Evaluation) {
	k.publish(Event{Kind: EventEvaluation, Evaluation: v})
}
