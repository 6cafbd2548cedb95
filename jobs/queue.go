package jobs

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/signet-dspy/signet/bridge"
	"github.com/signet-dspy/signet/model"
)

// interactive is the lane of single runs: served before every other.
const interactive = ""

// resource is a pool of slots (the main pool's concurrency, the
// optimization worker's one slot) and the lanes of ready work waiting for
// them. Guarded by Kernel.mu.
type resource struct {
	name    string
	limit   int
	running int
	lanes   map[string]*lane
	// ring is the lanes other than the interactive one that hold work, in
	// the order they are served; next is the one served next.
	ring []*lane
	next int
	// suspectOn: a retry after a worker died is running (see pick).
	suspectOn bool
	// waiting counts the jobs in the lanes (Options.Queue bounds it).
	waiting int
}

func newResource(name string, limit int) *resource {
	return &resource{name: name, limit: limit, lanes: map[string]*lane{}}
}

// lane is the ready work of one owner: the interactive runs, a batch, an
// evaluation, an optimization. Oldest first; retries keep their place.
type lane struct {
	key      string
	ready    jobHeap
	suspects jobHeap
}

func (l *lane) empty() bool { return l.ready.Len() == 0 && l.suspects.Len() == 0 }

// take pops the lane's oldest job that may run: a suspect only when none is
// running.
func (l *lane) take(suspectOn bool) *job {
	r := l.ready.Len() > 0
	s := !suspectOn && l.suspects.Len() > 0
	switch {
	case r && s:
		if bytes.Compare(l.ready[0].id[:], l.suspects[0].id[:]) < 0 {
			return heap.Pop(&l.ready).(*job)
		}
		return heap.Pop(&l.suspects).(*job)
	case r:
		return heap.Pop(&l.ready).(*job)
	case s:
		return heap.Pop(&l.suspects).(*job)
	}
	return nil
}

// push queues j in its lane, creating the lane (at the end of the ring).
func (r *resource) push(j *job) {
	l := r.lanes[j.lane]
	if l == nil {
		l = &lane{key: j.lane}
		r.lanes[j.lane] = l
		if j.lane != interactive {
			r.ring = append(r.ring, l)
		}
	}
	if j.suspect {
		heap.Push(&l.suspects, j)
	} else {
		heap.Push(&l.ready, j)
	}
	r.waiting++
}

// remove takes a queued j out of its lane.
func (r *resource) remove(j *job) {
	l := r.lanes[j.lane]
	if l == nil {
		return
	}
	h := &l.ready
	if j.suspect {
		h = &l.suspects
	}
	if j.index >= 0 && j.index < h.Len() && (*h)[j.index] == j {
		heap.Remove(h, j.index)
		r.waiting--
	}
	if l.empty() {
		r.drop(l)
	}
}

// drop forgets an empty lane, keeping the ring's turn.
func (r *resource) drop(l *lane) {
	delete(r.lanes, l.key)
	if i := slices.Index(r.ring, l); i >= 0 {
		r.ring = slices.Delete(r.ring, i, i+1)
		if i < r.next {
			r.next--
		}
		if r.next >= len(r.ring) {
			r.next = 0
		}
	}
}

// pick is the next job to run: the interactive lane's first, then the
// other lanes' in turn, one job each.
//
// A retry after a worker died may be the very input that killed it (a
// "poison" input takes down every request on its worker). So such retries
// run one at a time: a poison input can then only ever take fresh jobs down
// with it, never the same retried ones again, and the innocent ones succeed
// on their next attempt instead of running out of attempts beside it.
func (r *resource) pick() *job {
	j := r.take()
	if j != nil {
		r.waiting--
	}
	return j
}

func (r *resource) take() *job {
	if l := r.lanes[interactive]; l != nil {
		if j := l.take(r.suspectOn); j != nil {
			if l.empty() {
				r.drop(l)
			}
			return j
		}
	}
	for n := range len(r.ring) {
		i := (r.next + n) % len(r.ring)
		l := r.ring[i]
		j := l.take(r.suspectOn)
		if j == nil {
			continue
		}
		r.next = (i + 1) % len(r.ring)
		if l.empty() {
			r.drop(l)
		}
		return j
	}
	return nil
}

// clear forgets every queued job (Close).
func (r *resource) clear() {
	r.lanes, r.ring, r.next, r.waiting = map[string]*lane{}, nil, 0, 0
}

// jobHeap orders queued jobs by ID, which is creation order (IDs are
// time-ordered), so a lane is FIFO by creation and a retry keeps its place
// ahead of newer work.
type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, k int) bool {
	return bytes.Compare(h[i].id[:], h[k].id[:]) < 0
}
func (h jobHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index, h[k].index = i, k
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.index = -1
	return j
}

// pushLocked queues j for dispatch.
func (k *Kernel) pushLocked(j *job) {
	j.phase = phaseQueued
	j.res.push(j)
	k.pumpLocked()
}

// pumpLocked starts attempts while a resource has a free slot and work.
func (k *Kernel) pumpLocked() {
	if !k.started || k.closed {
		return
	}
	for _, r := range []*resource{k.main, k.optRes} {
		for r.running < r.limit {
			j := r.pick()
			if j == nil {
				break
			}
			if j.suspect {
				r.suspectOn = true
			}
			r.running++
			j.phase = phaseRunning
			ctx, cancel := context.WithCancel(k.ctx)
			j.cancel = cancel
			k.runners.Add(1)
			go k.attempt(ctx, cancel, j, j.suspect)
		}
	}
}

// attempt runs one attempt of j on its slot, then frees the slot.
func (k *Kernel) attempt(ctx context.Context, cancel context.CancelFunc, j *job, suspect bool) {
	defer k.runners.Done()
	defer func() {
		k.mu.Lock()
		j.res.running--
		if suspect {
			j.res.suspectOn = false
		}
		k.pumpLocked()
		k.mu.Unlock()
	}()
	defer cancel()
	if ctx.Err() != nil {
		k.handBack(j, 0) // cancelled or closing before it began
		return
	}
	switch j.kind {
	case KindExecution:
		k.runExecution(ctx, j)
	case KindOptimization:
		k.runOptimization(ctx, j)
	}
}

// backoff is the delay before attempt n+1 after n attempts: Backoff
// doubling, at most maxBackoff, times a jitter in [0.5, 1.5) so that the
// jobs one failure hit do not come back in lockstep.
func (k *Kernel) backoff(attempts int) time.Duration {
	d := k.o.Backoff << min(max(attempts-1, 0), 16)
	d = min(d, maxBackoff)
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// handBack returns a job whose attempt did not start (its record is what
// the store holds, pending): it is cancelled if Cancel asked, dropped if the
// kernel is closing, else queued again after d.
func (k *Kernel) handBack(j *job, d time.Duration) {
	k.mu.Lock()
	if k.closed {
		k.releaseLocked(j, nil)
		k.mu.Unlock()
		return
	}
	if j.cancelReq {
		k.mu.Unlock()
		k.cancelOwned(j, "cancelled before it started")
		return
	}
	j.phase = phaseBackoff
	j.timer = time.AfterFunc(d, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if j.phase == phaseBackoff && !k.closed {
			k.pushLocked(j)
		}
	})
	k.mu.Unlock()
}

// verdict is what the one policy makes of an attempt that ended in an
// error.
type verdict int

const (
	failed    verdict = iota // terminal
	cancelled                // Cancel asked for it
	cutShort                 // Close cut it short: back to pending, the attempt not counted
	retry                    // back to pending, tried again after a backoff
)

// judge applies the policy to attempt number attempts of j, which ended in
// err: the verdict, the error code and the message to record.
func (k *Kernel) judge(j *job, err error, attempts int) (verdict, string, string) {
	k.mu.Lock()
	cancel := j.cancelReq
	k.mu.Unlock()
	switch {
	case cancel:
		return cancelled, CodeCancelled, fmt.Sprintf("cancelled during attempt %d", attempts)
	case k.ctx.Err() != nil || errors.Is(err, bridge.ErrClosed):
		// Cut short by Close (or the pool closing under us): not the job's
		// failure, so the attempt is not counted.
		return cutShort, CodeInterrupted, fmt.Sprintf("attempt %d cut short: Signet was stopping", attempts)
	}
	code, msg, retryable := classify(err)
	if be := (*bridge.Error)(nil); errors.As(err, &be) && be.Code == bridge.CodeWorkerMemory && be.Sole && j.kind == KindExecution {
		k.mu.Lock()
		again := j.exec.ErrorCode == bridge.CodeWorkerMemory
		k.mu.Unlock()
		if again {
			// Retried once on a fresh worker and over the cap again, alone
			// on it: it is this run that grows the worker.
			return failed, code, fmt.Sprintf("attempt %d went over the worker memory cap again, alone on its worker: %s", attempts, msg)
		}
	}
	switch {
	case retryable && attempts < model.MaxAttempts:
		return retry, code, fmt.Sprintf("attempt %d of %d failed: %s", attempts, model.MaxAttempts, msg)
	case retryable:
		return failed, code, fmt.Sprintf("after %d attempts: %s", attempts, msg)
	}
	return failed, code, msg
}

// classify turns a failed attempt into an error code and message, and says
// whether another attempt may help.
func classify(err error) (code, msg string, retryable bool) {
	var be *bridge.Error
	if errors.As(err, &be) {
		return be.Code, be.Message, be.Retryable
	}
	var ae *attemptError
	if errors.As(err, &ae) {
		return ae.code, ae.err.Error(), ae.retryable
	}
	return CodeInternal, err.Error(), false
}

// traceback is the Python traceback a worker sent with err, if any.
func traceback(err error) string {
	var be *bridge.Error
	if errors.As(err, &be) {
		if tb, ok := be.Detail["traceback"].(string); ok {
			return tb
		}
	}
	return ""
}

// attemptError is a failure before the worker call: resolving the program,
// the LM profiles, the data.
type attemptError struct {
	code      string
	retryable bool
	err       error
}

func (a *attemptError) Error() string { return a.code + ": " + a.err.Error() }
func (a *attemptError) Unwrap() error { return a.err }

// must panics on an illegal transition: the kernel moves jobs only along
// legal ones, so one is a bug.
func must(err error) {
	if err != nil {
		panic("jobs: " + err.Error())
	}
}

// SetConcurrency changes how many executions run at once (at least 1):
// the owner follows the capacity of the pools serving a shared queue as
// they join and leave. Running ones above a lowered limit finish.
func (k *Kernel) SetConcurrency(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.main.limit = max(n, 1)
	k.pumpLocked()
}
