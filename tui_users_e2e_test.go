package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTUIBinaryUsersPage: the real workbench's Users page shows a user the
// CLI added, with its token's ID but never its value; c changes the
// credits and x revokes the token, both in the store once it quits.
func TestTUIBinaryUsersPage(t *testing.T) {
	env, _ := tuiWorkspace(t, "")
	mustRun(t, env, "user", "add", "ann", "--role", "ml_user", "--credits", "5")
	value := strings.TrimSpace(mustRun(t, env, "token", "create", "ann", "--name", "ci"))

	term := startTUI(t, env, shellQuote(signetBinary(t)))
	term.waitText("1 Programs", "6 Users")
	term.keys("6")
	term.waitText("1 user", "ann", "ml_user", "$5.00", "Tokens of ann", "1 of 1 active", "token.create")
	if s := term.screen(); strings.Contains(s, value) || strings.Contains(s, value[:12]) {
		t.Fatalf("the page shows the token's value:\n%s", s)
	}
	term.keys("c")
	term.waitText("Credits of ann: $5.00")
	term.keys("-l", "+2.5")
	term.keys("Enter")
	term.waitText("ann now has $7.50 of credits")
	term.keys("Enter", "x")
	term.waitText("Revoke token")
	term.keys("y")
	term.waitText("0 of 1 active", "revoked")
	term.keys("q")
	term.waitExit()

	var shown struct {
		Credits float64
		Tokens  []struct {
			RevokedAt string `json:"revoked_at"`
		}
	}
	out := mustRun(t, env, "user", "show", "ann", "--json")
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("user show --json: %v\n%s", err, out)
	}
	if shown.Credits != 7.5 || len(shown.Tokens) != 1 || shown.Tokens[0].RevokedAt == "" {
		t.Fatalf("after the workbench: %s", out)
	}
}
