package bridge

import (
	"context"
	"encoding/json"

	"github.com/signet-dspy/signet/bridge/wire"
)

// Gate admits the LM calls of a request (docs/protocol.md, "Budgets"): the
// worker reserves each call's estimated cost before the call starts and
// waits for the answer, then settles what the call cost. A request with a
// Gate asks for reservations ("reserve": true); Reserve and Settle run on
// the caller's goroutine, in the order of the worker's frames.
type Gate interface {
	// Reserve admits call, expected to cost estimate USD, or refuses it
	// with an error whose message the request then fails with.
	Reserve(ctx context.Context, call string, estimate float64) error
	// Settle says what an admitted call cost; known is false when nothing
	// priced it.
	Settle(call string, cost float64, known bool)
}

// gated wraps onEvent so that a request's reserve and settle events go to
// g, and the worker gets g's answer. *to and *sent are the worker and the
// call the request went to: set once it is sent, before any event is
// handed over (both happen on the caller's goroutine).
func (p *Pool) gated(ctx context.Context, g Gate, onEvent func(wire.Event), to **proc, sent **call) func(wire.Event) {
	return func(e wire.Event) {
		switch e.Event {
		case wire.EventReserve:
			var r wire.Reserve
			if err := json.Unmarshal(e.Data, &r); err != nil || r.Call == "" {
				p.logf((*to).slot, (*to).pid, "request %d: a reserve event without a call: %s", e.ID, e.Data)
				return // the worker waits until the request is cancelled: no call of its can be answered
			}
			a := wire.Admit{Target: (*sent).id, Call: r.Call, Admit: true}
			if err := g.Reserve(ctx, r.Call, r.Estimate); err != nil {
				a.Admit, a.Message = false, err.Error()
			}
			if _, err := (*to).send(wire.MethodAdmit, a, true, nil); err != nil {
				return // the worker is gone: the request fails with it
			}
		case wire.EventSettle:
			var s wire.Settle
			if err := json.Unmarshal(e.Data, &s); err != nil || s.Call == "" {
				p.logf((*to).slot, (*to).pid, "request %d: a settle event without a call: %s", e.ID, e.Data)
				return // its estimate stays held until the request ends
			}
			if s.Cost == nil {
				g.Settle(s.Call, 0, false)
			} else {
				g.Settle(s.Call, *s.Cost, true)
			}
		default:
			if onEvent != nil {
				onEvent(e)
			}
		}
	}
}
