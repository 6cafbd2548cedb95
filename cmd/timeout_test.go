package cmd

import (
	"strings"
	"testing"
)

// A program's timeout is part of its file: show writes it, create reads it
// back, and a bad one is refused with the file, line and field.
func TestProgramTimeoutRoundTrips(t *testing.T) {
	ws, files := t.TempDir(), t.TempDir()
	mustSignet(t, ws, "init")
	prog := "name: slowqa\ntimeout: 45s\nmodules:\n  - name: answer\n    type: predict\n    signature: \"question -> answer\"\n"
	mustSignet(t, ws, "program", "create", "-f", writeFile(t, files, "slow.yaml", prog))
	yamlOut := mustSignet(t, ws, "program", "show", "slowqa", "--format", "yaml")
	if !strings.Contains(yamlOut, "timeout: 45s\n") {
		t.Fatalf("show lost the timeout:\n%s", yamlOut)
	}
	copyFile := writeFile(t, files, "copy.yaml", strings.Replace(yamlOut, "name: slowqa\n", "name: slowqa_copy\n", 1))
	mustSignet(t, ws, "program", "create", "-f", copyFile)
	if got := mustSignet(t, ws, "program", "show", "slowqa_copy", "--json"); !strings.Contains(got, `"timeout": "45s"`) {
		t.Errorf("the copy lost the timeout: %s", got)
	}
	bad := writeFile(t, files, "bad.yaml", strings.Replace(prog, "timeout: 45s", "timeout: soon", 1))
	failsCleanly(t, ws, []string{"program", "create", "-f", bad}, 1, []string{"bad.yaml:2:", "timeout", `"soon"`})
}

func TestRunTimeoutFlagIsChecked(t *testing.T) {
	ws := t.TempDir()
	mustSignet(t, ws, "init")
	mustSignet(t, ws, "program", "create", "-f", examplePath("qa.yaml"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "qa", "-i", "question=x", "--timeout", "0s"}, "--timeout"},
		{[]string{"run", "qa", "-i", "question=x", "--timeout", "-3s"}, "positive duration"},
		{[]string{"run", "qa", "-i", "question=x", "--timeout", "soon"}, `"soon"`},
		{[]string{"run", "qa", "-i", "question=x", "--timeout", "48h"}, "at most 24h"},
		{[]string{"run", "qa", "--dataset", "qa", "--timeout", "30s"}, "single run"},
	} {
		failsCleanly(t, ws, tc.args, 2, []string{tc.want})
	}
}
