package users_test

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/pages/users"
	"github.com/signet-dspy/signet/tui/tuitest"
)

func newUsers(t *testing.T, w, h int, fu *tuitest.Users) tui.Model {
	t.Helper()
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Users: fu, Events: tuitest.NoStream{}}, w, h)
	return tuitest.Send(t, m, tuitest.Key("6"))
}

func TestUsersPageShowsUsersTokensAndTrail(t *testing.T) {
	fu := tuitest.SampleUsers()
	m := newUsers(t, 120, 30, fu)
	s := tuitest.Screen(m)
	for _, want := range []string{"3 users", "$104.25 of credits", "ann", "ml_user", "$4.25", "ml_engineer", "1 of 2 active",
		"0193a1b2-c3d4-7e5f-8a6b-00000000000a", "laptop", "revoked 24h ago", "Audit trail of ann", "compile", "denied", "user.add"} {
		if !strings.Contains(s, want) {
			t.Errorf("the Users page lacks %q:\n%s", want, s)
		}
	}
	// Another user's tokens and trail follow the cursor.
	m = tuitest.Send(t, m, tuitest.Key("j"))
	s = tuitest.Screen(m)
	if !strings.Contains(s, "Tokens of bo") || !strings.Contains(s, "None: `signet token create bo`") || strings.Contains(s, "laptop") {
		t.Errorf("bo selected:\n%s", s)
	}
}

// TestUsersPageNeverShowsATokenValue: the page has no way to a value (the
// service never answers one); what it shows of a token is its ID and dates.
func TestUsersPageNeverShowsATokenValue(t *testing.T) {
	fu := tuitest.SampleUsers()
	m := newUsers(t, 160, 48, fu)
	m = tuitest.Send(t, m, tuitest.Enter())
	m = tuitest.Send(t, m, tuitest.Key("o"))
	if s := tuitest.Screen(m); strings.Contains(s, "sgt_") || strings.Contains(strings.ToLower(s), "sha256") {
		t.Errorf("a token's secret shows:\n%s", s)
	}
}

func TestUsersCreditsForm(t *testing.T) {
	fu := tuitest.SampleUsers()
	m := newUsers(t, 120, 30, fu)
	m = tuitest.Send(t, m, tuitest.Key("c"))
	if !tuitest.Typing(m) || !strings.Contains(tuitest.Screen(m), "Credits of ann: $4.25") {
		t.Fatalf("c does not open the credits form:\n%s", tuitest.Screen(m))
	}
	// A bad amount is an error in the form, and nothing is asked.
	m = tuitest.Send(t, tuitest.Type(t, m, "lots"), tuitest.Enter())
	if s := tuitest.Screen(m); !strings.Contains(s, `"lots": want +N, -N or =N`) || len(fu.Calls) != 0 {
		t.Fatalf("bad amount: calls %v\n%s", fu.Calls, s)
	}
	for range 4 {
		m = tuitest.Send(t, m, tuitest.Backspace())
	}
	m = tuitest.Send(t, tuitest.Type(t, m, "+2.5"), tuitest.Enter())
	if got := strings.Join(fu.Calls, ";"); got != "credits ann +2.5" {
		t.Fatalf("calls %q", got)
	}
	if s := tuitest.Screen(m); tuitest.Typing(m) || !strings.Contains(s, "$6.75") || !strings.Contains(s, "ann now has $6.75 of credits") {
		t.Errorf("after +2.5:\n%s", s)
	}
}

func TestParseCredits(t *testing.T) {
	for in, want := range map[string]string{"+5": "+5", "-2.50": "-2.5", "=10": "=10", "10": "=10", "$3": "=3", "+ $1": "+1", " - 0 ": "-0"} {
		op, usd, err := users.ParseCredits(in)
		if got := fmt.Sprintf("%s%g", op, usd); err != nil || got != want {
			t.Errorf("ParseCredits(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "+", "abc", "=-3", "--1", "+NaN"} {
		if _, _, err := users.ParseCredits(in); err == nil {
			t.Errorf("ParseCredits(%q) took it", in)
		}
	}
}

func TestUsersRevokeToken(t *testing.T) {
	fu := tuitest.SampleUsers()
	m := newUsers(t, 120, 30, fu)
	// x on the users (not a token) says how to choose one.
	m = tuitest.Send(t, m, tuitest.Key("x"))
	if n := m.Notice(); !strings.Contains(n.Text, "choose one of the user's tokens") || len(fu.Calls) != 0 {
		t.Fatalf("x on a user: %q %v", n.Text, fu.Calls)
	}
	m = tuitest.Send(t, m, tuitest.Enter())
	// The second token is revoked already.
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("j")), tuitest.Key("x"))
	if n := m.Notice(); !strings.Contains(n.Text, "is revoked already") {
		t.Fatalf("x on a revoked token: %q", n.Text)
	}
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Key("k")), tuitest.Key("x"))
	if !strings.Contains(tuitest.Screen(m), "Revoke token 0193a1b2-c3d4-7e5f-8a6b-00000000000a of ann?") {
		t.Fatalf("x does not ask:\n%s", tuitest.Screen(m))
	}
	m = tuitest.Send(t, m, tuitest.Key("y"))
	if got := strings.Join(fu.Calls, ";"); got != "revoke 0193a1b2-c3d4-7e5f-8a6b-00000000000a" {
		t.Fatalf("calls %q", got)
	}
	if s := tuitest.Screen(m); !strings.Contains(s, "0 of 2 active") {
		t.Errorf("ann still has an active token:\n%s", s)
	}
}

// TestUsersFollowCharges: an execution of a user's ending reads the
// credits again (its cost came off them).
func TestUsersFollowCharges(t *testing.T) {
	fu := tuitest.SampleUsers()
	m := newUsers(t, 120, 30, fu)
	fu.List[0].Credits = 4.0
	x := tuitest.Exec(1, "qa", model.Running)
	x.User = "ann"
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{x}} })
	if strings.Contains(tuitest.Screen(m), "$4.00") {
		t.Fatal("a running execution read the credits again")
	}
	done := *x
	done.State = model.Completed
	m = tuitest.Run(t, m, func() tea.Msg { return live.Msg{Execs: []*model.Execution{&done}} })
	if s := tuitest.Screen(m); !strings.Contains(s, "$4.00") {
		t.Errorf("credits not read again after the execution ended:\n%s", s)
	}
}

func TestUsersGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			base := newUsers(t, sz[0], sz[1], tuitest.SampleUsers())
			screens := map[string]tui.Model{
				"users":         base,
				"users-tokens":  tuitest.Send(t, base, tuitest.Enter()),
				"users-credits": tuitest.Send(t, base, tuitest.Key("c")),
				"users-empty":   newUsers(t, sz[0], sz[1], &tuitest.Users{}),
			}
			for name, m := range screens {
				t.Run(name, func(t *testing.T) { golden.RequireEqual(t, []byte(tuitest.Screen(m))) })
			}
		})
	}
}
