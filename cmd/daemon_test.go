package cmd

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestWhichCommandsStartABackgroundOwner pins startsWorkers, the one rule:
// the commands that run Python workers start a background owner; those
// that create the workspace, only touch the store, or own it for long
// (the workbench, serve) do not.
func TestWhichCommandsStartABackgroundOwner(t *testing.T) {
	a := &cli{}
	root := a.rootCommand()
	want := map[string]bool{
		"run": true, "render": true, "eval": true, "opt run": true, "opt cancel": true, "index": true,
		"exec resume": true, "exec cancel": true, "program export": true, "program import": true,
		"init": false, "demo": false, "tui": false, "serve": false, "status": false, "stop": false, "backup": false,
		"restore": false, "program list": false, "program create": false, "dataset import": false, "trace": false,
		"cost": false, "exec list": false, "eval list": false, "opt list": false, "doctor": false, "lm test": false,
	}
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		name := strings.TrimPrefix(c.CommandPath(), "signet ")
		w, ok := want[name]
		if !ok {
			return
		}
		seen[name] = true
		if got := startsWorkers(c, c.Annotations[wsMode]); got != w {
			t.Errorf("%s: starts a background owner %v, want %v", name, got, w)
		}
	}
	walk(root)
	for name := range want {
		if !seen[name] {
			t.Errorf("no command %q", name)
		}
	}
}
