package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// storeWorkspace is a workspace made by the real binary with the qa
// program and a dataset whose one long example lives in Badger's value log
// (values over 1 KiB), with a marker to find it in the files.
func storeWorkspace(t *testing.T) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	env := []string{"SIGNET_HOME=" + ws}
	data := filepath.Join(dir, "long.jsonl")
	long := "MARKER-LONG-" + strings.Repeat("lorem ipsum ", 200)
	os.WriteFile(data, []byte(fmt.Sprintf("{\"question\": \"short one\", \"answer\": \"a\"}\n{\"question\": %q, \"answer\": \"b\"}\n", long)), 0o600)
	for _, args := range [][]string{{"init"}, {"program", "create", "-f", "examples/qa.yaml"},
		{"dataset", "import", data, "--name", "long", "--inputs", "question"}} {
		mustRun(t, env, args...)
	}
	return env, ws
}

// dbFiles is every file of the workspace's database with its bytes, but
// Badger's LOCK pid file.
func dbFiles(t *testing.T, ws string) map[string]string {
	t.Helper()
	out := map[string]string{}
	db := filepath.Join(ws, "db")
	entries, err := os.ReadDir(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "LOCK" {
			b, _ := os.ReadFile(filepath.Join(db, e.Name()))
			out[e.Name()] = string(b)
		}
	}
	return out
}

// Deleting MANIFEST used to open the workspace as an empty store and
// overwrite its tables; now every command refuses it and changes nothing.
func TestHardeningStoreMissingManifestRefused(t *testing.T) {
	env, ws := storeWorkspace(t)
	if err := os.Remove(filepath.Join(ws, "db", "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	before := dbFiles(t, ws)
	out, errOut, code := run(t, env, "program", "list")
	if code == 0 {
		t.Fatalf("program list on a store without MANIFEST exited 0: %q", out)
	}
	for _, want := range []string{ws, "MANIFEST is missing", "nothing was changed", "signet restore"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error does not say %q: %s", want, errOut)
		}
	}
	if after := dbFiles(t, ws); !reflect.DeepEqual(before, after) {
		t.Errorf("the refused open changed the database: %d files before, %d after", len(before), len(after))
	}
}

// A flipped byte in the value log used to be read back as altered data;
// now the read fails naming the record, the rest stays readable, and
// doctor reports the record and exits non-zero.
func TestHardeningStoreFlippedValueReported(t *testing.T) {
	env, ws := storeWorkspace(t)
	mustRun(t, env, "program", "list") // one more open: the damaged log is then not the newest
	vlogs, _ := filepath.Glob(filepath.Join(ws, "db", "*.vlog"))
	sort.Strings(vlogs)
	var hit bool
	for _, v := range vlogs {
		b, _ := os.ReadFile(v)
		if i := bytes.Index(b, []byte("MARKER-LONG-")); i >= 0 {
			b[i+3] ^= 0x20 // MARKER → MARkER
			os.WriteFile(v, b, 0o600)
			hit = true
		}
	}
	if !hit {
		t.Fatal("the long example is not in a value log")
	}
	out, errOut, code := run(t, env, "dataset", "export", "long")
	if code == 0 || strings.Contains(out, "MARkER") {
		t.Fatalf("export of a corrupt example: exit %d, out %q", code, out)
	}
	if !strings.Contains(errOut, "corrupt record") || !strings.Contains(errOut, "of dataset long") {
		t.Errorf("error does not name the record: %s", errOut)
	}
	mustRun(t, env, "program", "show", "qa") // the rest stays readable

	out, _, code = run(t, append(env, pythonEnv(t)...), "doctor", "--lm", "test")
	if code == 0 || !strings.Contains(out, "✗ store") || !strings.Contains(out, "of dataset long") {
		t.Errorf("doctor on a damaged store: exit %d\n%s", code, out)
	}
}

// A backup taken while an owner serves the workspace restores into a new
// directory with the same programs and data; restore refuses a workspace
// that has a store or an owner.
func TestHardeningStoreBackupRestore(t *testing.T) {
	env, ws := storeWorkspace(t)
	env = append(env, pythonEnv(t)...) // serve starts its workers
	owner, logs := start(t, env, "serve")
	defer owner.Process.Kill()
	waitOwner(t, ws, false)
	file := filepath.Join(t.TempDir(), "ws.backup")
	if out := mustRun(t, env, "backup", file); !strings.Contains(out, "backed up") {
		t.Fatalf("backup: %q (owner: %s)", out, logs)
	}
	if _, errOut, code := run(t, env, "restore", file); code == 0 || !strings.Contains(errOut, "in use by Signet process") {
		t.Errorf("restore into the owned workspace: exit %d %s", code, errOut)
	}
	stopServe(t, owner, logs, ws)
	if _, errOut, code := run(t, env, "restore", file); code == 0 || !strings.Contains(errOut, "already has a store") {
		t.Errorf("restore into a workspace with a store: exit %d %s", code, errOut)
	}

	fresh := []string{"SIGNET_HOME=" + filepath.Join(t.TempDir(), "restored")}
	mustRun(t, fresh, "restore", file)
	for _, args := range [][]string{{"program", "list", "--json"}, {"program", "show", "qa", "--json"},
		{"dataset", "list", "--json"}, {"dataset", "export", "long"}} {
		if a, b := mustRun(t, env, args...), mustRun(t, fresh, args...); a != b {
			t.Errorf("signet %v differs after restore:\n%s\n---\n%s", args, a, b)
		}
	}
}

// A full disk used to kill the process with SIGBUS (Badger writes through
// mapped files) and leave a value log cut mid-entry. Now the write fails
// while room is left, naming the workspace, and what was committed stays.
func TestHardeningStoreDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	ws := filepath.Join(mnt, "ws")
	env := []string{"SIGNET_HOME=" + ws}
	mustRun(t, env, "init")
	mustRun(t, env, "program", "create", "-f", "examples/qa.yaml")

	// Leave 150 MiB free, and import more than that.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*int64(st.Bsize)-150<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "big.jsonl")
	f, _ := os.Create(data)
	line := strings.Repeat("x", 2000)
	for i := range 90_000 { // about 180 MB
		fmt.Fprintf(f, "{\"question\": \"%d %s\", \"answer\": \"a\"}\n", i, line)
	}
	f.Close()
	out, errOut, code := run(t, env, "dataset", "import", data, "--name", "big", "--inputs", "question")
	if code != 1 || strings.Contains(errOut, "SIGBUS") || !strings.Contains(errOut, "disk is nearly full") || !strings.Contains(errOut, ws) {
		t.Fatalf("import onto a full disk: exit %d\n%s\n%.2000s", code, out, errOut)
	}
	mustRun(t, env, "program", "show", "qa")
	if out := mustRun(t, env, "dataset", "list"); strings.Contains(out, "big") {
		t.Errorf("a failed import left a dataset: %s", out)
	}
	os.Remove(filler)
	small := filepath.Join(t.TempDir(), "small.jsonl")
	os.WriteFile(small, []byte("{\"question\": \"q\", \"answer\": \"a\"}\n"), 0o600)
	mustRun(t, env, "dataset", "import", small, "--name", "small", "--inputs", "question")
}
