package engine

import (
	"sync"

	"github.com/signet-dspy/signet/model"
)

// defaultEventBuffer is Subscribe's buffer when it is given none.
const defaultEventBuffer = 64

// subscriber delivers events to one consumer in publishing order. State
// changes of executions are queued without bound, so none is ever dropped
// (a slow consumer costs memory, not correctness); span events are dropped
// once max of them are waiting, since they are the live view of a trace the
// store keeps anyway.
type subscriber struct {
	out chan Event
	max int

	mu      sync.Mutex
	q       []Event
	spans   int // span events in q
	dropped int
	ending  bool // deliver what is queued, then close out

	wake     chan struct{}
	quit     chan struct{}
	quitOnce sync.Once
}

// Subscribe returns a channel of events and a function that ends the
// subscription (call it; it closes the channel). Every state change of every
// execution is delivered, in order per execution; span events may be
// dropped while the consumer is behind by more than buffer of them. The
// channel is closed by the end function, or after Close once every queued
// event has been received.
func (e *Engine) Subscribe(buffer int) (<-chan Event, func()) {
	if buffer <= 0 {
		buffer = defaultEventBuffer
	}
	s := &subscriber{out: make(chan Event, buffer), max: buffer, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	e.subMu.Lock()
	if e.subsEnded {
		e.subMu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	e.subs[s] = struct{}{}
	e.subMu.Unlock()
	go s.forward()
	return s.out, func() {
		e.subMu.Lock()
		delete(e.subs, s)
		e.subMu.Unlock()
		s.quitOnce.Do(func() { close(s.quit) })
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
			s.spans--
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
	s.mu.Lock()
	switch {
	case s.ending:
	case droppable(ev) && s.spans >= s.max:
		s.dropped++
	default:
		if droppable(ev) {
			s.spans++
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

// Publish hands every subscriber an event made outside the engine: the
// optimization runner's, so that one stream carries all the workspace's
// live changes. A progress report (Progress set) may be dropped like a
// span; a state change never is.
func (e *Engine) Publish(ev Event) { e.publish(ev) }

// droppable says whether a slow subscriber may lose ev.
func droppable(ev Event) bool {
	return ev.Kind == EventSpan || (ev.Kind == EventOptimization && ev.Progress != nil)
}

func (e *Engine) publish(ev Event) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	for s := range e.subs {
		s.push(ev)
	}
}

// publishExec announces a state change; x is never modified afterwards.
func (e *Engine) publishExec(x *model.Execution) {
	e.publish(Event{Kind: EventExecution, Execution: x})
}

func (e *Engine) publishSpan(s *model.Span) {
	e.publish(Event{Kind: EventSpan, Span: s})
}
