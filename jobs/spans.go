package jobs

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/signet-dspy/signet/model"
)

// Spans are written in batches while an execution runs: every
// spanFlushEvery, or as soon as spanFlushCount are waiting.
const (
	spanFlushEvery = 50 * time.Millisecond
	spanFlushCount = 64
)

// spanWriter persists the spans of one attempt as they stream in.
//
// A span arrives twice, open at its start and closed at its end, with the
// same ID, or once, whole, when it ended before the worker sent its start
// (docs/protocol.md, "Spans"). The first arrival takes the next seq and is written as soon as a
// batch goes out, so a crash mid-run keeps the spans open at that moment;
// the second arrival is written under the same seq and replaces it. So a
// stored trace has one record per span, in start order (parents before
// their children), and a reader needs no merging. A later attempt of the
// same execution continues the numbering: its spans follow the earlier
// attempts' under their own root.
//
// It also writes the attempt's running record, with the first spans it
// writes or at its first tick, whichever comes first: never after a span of
// the attempt, so a crash leaves either a running record (and recovery
// counts the attempt and charges its stored LM spans) or a pending one with
// no trace of the attempt. An attempt that ends within the first tick (a
// batch's executions on a fast LM: most of them) writes its record once,
// ended, instead of twice.
type spanWriter struct {
	k    *Kernel
	exec model.ID
	run  *model.Execution // the running record, until it is written; the loop's own
	// stored is the record the store holds, when known (nil: unknown):
	// the one the attempt began over, then the running one once written.
	// The loop's own until finish returns.
	stored *model.Execution

	mu   sync.Mutex
	seqs map[string]uint64     // span ID → seq
	open map[string]model.Span // spans started and not yet ended
	buf  []model.Span          // not yet written
	at   map[uint64]int        // index in buf by seq
	next uint64                // last seq handed out
	bill charge                // the LM calls of this attempt that ended

	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

func (k *Kernel) newSpanWriter(run, stored *model.Execution, last uint64) *spanWriter {
	w := &spanWriter{k: k, exec: run.ID, run: run, stored: stored, seqs: map[string]uint64{}, open: map[string]model.Span{},
		at: map[uint64]int{}, next: last, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// add is the pool's onSpan: it is called on one goroutine, in arrival order.
func (w *spanWriter) add(s model.Span) {
	w.mu.Lock()
	w.putLocked(&s)
	full := len(w.buf) >= spanFlushCount
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	w.k.publishSpan(&s)
}

func (w *spanWriter) putLocked(s *model.Span) {
	seq, ok := w.seqs[s.ID]
	if !s.End.IsZero() {
		if _, open := w.open[s.ID]; open || !ok || s.ID == "" {
			w.bill.add(s) // its first end: an LM call is charged once
		}
	}
	if !ok || s.ID == "" {
		w.next++
		seq = w.next
		if s.ID != "" {
			w.seqs[s.ID] = seq
		}
	}
	s.Execution, s.Seq = w.exec, seq
	if s.End.IsZero() {
		w.open[s.ID] = *s
	} else {
		delete(w.open, s.ID)
	}
	if i, ok := w.at[seq]; ok {
		w.buf[i] = *s
		return
	}
	w.at[seq] = len(w.buf)
	w.buf = append(w.buf, *s)
}

func (w *spanWriter) loop() {
	defer close(w.done)
	t := time.NewTicker(spanFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		case <-w.kick:
		}
		w.flush()
		if w.k.flushed != nil {
			w.k.flushed(w.exec)
		}
	}
}

// flush writes the spans waiting, after the running record or with it.
func (w *spanWriter) flush() {
	b := w.take()
	if w.run != nil {
		if err := w.k.st.ReplaceExecution(storeCtx, w.stored, w.run, b); err != nil {
			// The spans wait for the record: the next tick tries again, and
			// the end of the run writes both whatever happens here.
			w.k.log.printf("execution %s: writing running: %v", w.exec, err)
			w.putBack(b)
			w.stored = nil // which record is stored is no longer sure
			return
		}
		w.run, w.stored = nil, w.run
		return
	}
	if len(b) > 0 {
		if err := w.k.st.AppendSpans(storeCtx, w.exec, b); err != nil {
			// The end of the run writes what is left; what was lost here
			// is only part of a trace, never the execution.
			w.k.log.printf("execution %s: writing %d spans: %v", w.exec, len(b), err)
		}
	}
}

// putBack returns spans that were not written to the buffer, unless a
// later version of the same span came in meanwhile.
func (w *spanWriter) putBack(b []model.Span) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range b {
		if _, newer := w.at[s.Seq]; !newer {
			w.at[s.Seq] = len(w.buf)
			w.buf = append(w.buf, s)
		}
	}
}

func (w *spanWriter) take() []model.Span {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf
	w.buf = nil
	clear(w.at)
	return b
}

// finish stops the background writes and returns the spans still to be
// written, to go in the same transaction as the attempt's outcome, and what
// the attempt's LM calls cost. When the attempt failed (openErr != ""),
// spans still open are closed at now with that error, so the trace does not
// show them running forever.
func (w *spanWriter) finish(openErr string, now time.Time) ([]model.Span, charge) {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.open {
		if billable(&s) {
			// Begun and never ended (the worker died, or the call was
			// abandoned): the provider may have billed it, for an amount
			// nobody will report.
			w.bill.unknown = true
		}
	}
	if openErr != "" {
		for _, s := range w.open {
			s.End, s.Error = now, openErr
			w.putLocked(&s)
		}
	}
	rest := w.buf
	w.buf = nil
	clear(w.at)
	slices.SortFunc(rest, func(a, b model.Span) int { return cmp.Compare(a.Seq, b.Seq) })
	return rest, w.bill
}

// last is the highest seq handed out.
func (w *spanWriter) last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// charge is what LM calls cost, summed from their spans: each LM span
// carries the usage and cost of its call when it ends (docs/protocol.md).
type charge struct {
	cost    float64
	usage   map[string]model.Usage // by model
	unknown bool
}

// billable says whether a span may carry a provider's bill: an LM call,
// or a retrieval that embeds its query with a hosted embedder (Model set).
func billable(s *model.Span) bool {
	return s.Kind == model.SpanLM || s.Kind == model.SpanRetrieval && s.Model != ""
}

// add counts one ended span; spans of other kinds cost nothing. Retrieval
// spans are charged like LM spans: a hosted embedder's call carries its
// usage and cost the same way.
func (c *charge) add(s *model.Span) {
	if s.Kind != model.SpanLM && s.Kind != model.SpanRetrieval {
		return
	}
	c.cost += s.Cost
	c.unknown = c.unknown || s.CostUnknown
	if s.Usage == (model.Usage{}) {
		return // a cache hit, or a call that failed: nothing billed
	}
	if c.usage == nil {
		c.usage = map[string]model.Usage{}
	}
	m := cmp.Or(s.Model, s.Name)
	c.usage[m] = c.usage[m].Add(s.Usage)
}

// to adds c to x's cost and usage. x's usage map is replaced, not written:
// maps of a stored execution are shared (see clone).
func (c charge) to(x *model.Execution) {
	x.Cost += c.cost
	x.CostUnknown = x.CostUnknown || c.unknown
	if len(c.usage) == 0 {
		return
	}
	u := make(map[string]model.Usage, len(x.Usage)+len(c.usage))
	for m, v := range x.Usage {
		u[m] = v
	}
	for m, v := range c.usage {
		u[m] = u[m].Add(v)
	}
	x.Usage = u
}
