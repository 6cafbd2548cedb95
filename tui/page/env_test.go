package page

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

type done struct{}

func TestResultsGoBackToTheCaller(t *testing.T) {
	base := &Env{}
	e := base.For(Addr{Page: 3, Dialog: 9})
	msg := e.Cmd(func() tea.Msg { return done{} })()
	if r, ok := msg.(Routed); !ok || r.To != (Addr{Page: 3, Dialog: 9}) || r.Msg != (done{}) {
		t.Fatalf("Cmd's message %#v", msg)
	}
	batch := e.Wrap(tea.Batch(func() tea.Msg { return done{} }, func() tea.Msg { return 1 }))()
	b, ok := batch.(tea.BatchMsg)
	if !ok || len(b) != 2 {
		t.Fatalf("a wrapped batch is %#v", batch)
	}
	for _, c := range b {
		if r, ok := c().(Routed); !ok || r.To.Dialog != 9 {
			t.Errorf("a batch's message is not addressed: %#v", r)
		}
	}
	if e.Wrap(nil) != nil {
		t.Error("wrapping no command made one")
	}
}

func TestEffectsAreThePerCall(t *testing.T) {
	base := &Env{}
	a := base.For(Addr{Page: 1})
	a.Close("x")
	if b := base.For(Addr{Page: 1}); b.Effects().Closed {
		t.Error("a new call sees the effects of an earlier one")
	}
	if fx := a.Effects(); !fx.Closed || fx.Result != "x" {
		t.Errorf("effects %+v", fx)
	}
}

func TestAfterUsesTheClock(t *testing.T) {
	e := (&Env{}).For(Addr{Page: 2})
	if e.After(time.Second, func(time.Time) tea.Msg { return done{} }) != nil {
		t.Error("a clock without timers set one")
	}
	var asked time.Duration
	e.Clock.Timer = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		asked = d
		return func() tea.Msg { return fn(time.Time{}) }
	}
	msg := e.After(time.Second, func(time.Time) tea.Msg { return done{} })()
	if r, ok := msg.(Routed); !ok || r.To.Page != 2 || asked != time.Second {
		t.Errorf("timer message %#v after %v", msg, asked)
	}
}

func TestThen(t *testing.T) {
	a := func() tea.Msg { return 1 }
	b := func() tea.Msg { return 2 }
	c, ok := Then(a, b)().(Chain)
	if !ok || c.Msg != 1 || c.Next == nil || c.Next() != 2 {
		t.Errorf("Then: %#v", c)
	}
	if Then(nil, b)() != 2 || Then(a, nil)() != 1 {
		t.Error("Then with one command is not that command")
	}
}
