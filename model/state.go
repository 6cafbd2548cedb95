package model

import (
	"fmt"
	"time"
)

// TransitionError is returned for a move the state machine does not allow.
type TransitionError struct {
	Kind     string // "execution", "optimization"
	From, To string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s: illegal transition %s → %s", e.Kind, e.From, e.To)
}

// RunState is the life of an execution or an optimization run:
// pending → running → completed | failed | cancelled. A running job whose
// attempt failed in a retryable way goes back to pending.
type RunState string

const (
	Pending   RunState = "pending"
	Running   RunState = "running"
	Completed RunState = "completed"
	Failed    RunState = "failed"
	Cancelled RunState = "cancelled"
)

// RunStates lists every state in lifecycle order.
var RunStates = []RunState{Pending, Running, Completed, Failed, Cancelled}

var runTransitions = map[RunState][]RunState{
	Pending: {Running, Cancelled, Failed}, // failed: refused before start (budget, out of attempts)
	Running: {Completed, Failed, Cancelled, Pending},
}

// Valid reports whether s is one of the known states.
func (s RunState) Valid() bool {
	for _, v := range RunStates {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s RunState) Terminal() bool { return s == Completed || s == Failed || s == Cancelled }

// CanMove reports whether from → to is allowed.
func (s RunState) CanMove(to RunState) bool {
	for _, t := range runTransitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// ParseRunState checks a state name given by a user (a flag, a file).
func ParseRunState(s string) (RunState, error) {
	r := RunState(s)
	if !r.Valid() {
		return "", fmt.Errorf("unknown state %q (want one of pending, running, completed, failed, cancelled)", s)
	}
	return r, nil
}

// moveRun applies a transition of a run (an optimization, an evaluation)
// and stamps when it started or ended; an illegal one is an error and
// changes nothing.
func moveRun(kind string, state *RunState, started, finished *time.Time, to RunState, now time.Time) error {
	if !state.CanMove(to) {
		return &TransitionError{Kind: kind, From: string(*state), To: string(to)}
	}
	switch to {
	case Running:
		*started = now
	case Completed, Failed, Cancelled:
		*finished = now
	}
	*state = to
	return nil
}
