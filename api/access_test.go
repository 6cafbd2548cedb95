package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// otherUID is the user the tests that run as root give files and processes
// to (nobody).
const otherUID = 65534

// helperEnv makes the test binary run one of the helpers below instead of
// the tests: the processes of another user in TestPeerOfAnotherUser.
const helperEnv = "SIGNET_API_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "listen":
		helperListen(os.Args[len(os.Args)-1])
	case "dial":
		helperDial(os.Args[len(os.Args)-1])
	}
	os.Exit(0)
}

// helperListen listens on path (open to everyone), says "ready", then
// reports how many bytes its one connection sent before it closed.
func helperListen(path string) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	os.Chmod(path, 0o666)
	fmt.Println("ready")
	c, err := ln.Accept()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	n, _ := io.Copy(io.Discard, c)
	fmt.Println("got", n)
}

// helperDial connects to path, sends a request and reports how many bytes
// came back before the owner closed the connection.
func helperDial(path string) {
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Fprint(c, "GET /v1/status HTTP/1.1\r\nHost: signet\r\n\r\n")
	n, _ := io.Copy(io.Discard, c)
	fmt.Println("read", n)
}

func wantRefusal(t *testing.T, what string, err error, says ...string) {
	t.Helper()
	var ae *AccessError
	if !errors.As(err, &ae) {
		t.Errorf("%s: %v, want a refusal", what, err)
		return
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: %q does not say %q", what, err, s)
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("giving files and processes to another user needs root")
	}
}

// TestCheckDir: the fallback directory is a real 0700 directory of this
// user's; a workspace directory is this user's and writable by nobody else.
func TestCheckDir(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, mode) // whatever the umask
		return d
	}
	good := mk("good", 0o700)
	if err := CheckDir(filepath.Join(good, "abc.sock")); err != nil {
		t.Errorf("a private fallback directory: %v", err)
	}
	open := mk("open", 0o777)
	wantRefusal(t, "fallback 0777", CheckDir(filepath.Join(open, "abc.sock")), "socket directory "+open, "mode -rwxrwxrwx", "0700")
	readable := mk("readable", 0o750)
	wantRefusal(t, "fallback 0750", CheckDir(filepath.Join(readable, "abc.sock")), "mode -rwxr-x---")
	link := filepath.Join(base, "link")
	os.Symlink(good, link)
	wantRefusal(t, "fallback symlink", CheckDir(filepath.Join(link, "abc.sock")), "socket directory "+link+" is a symlink")
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	wantRefusal(t, "fallback file", CheckDir(filepath.Join(file, "abc.sock")), "is not a directory")
	if err := CheckDir(filepath.Join(base, "missing", "abc.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v, want not exist (no owner)", err)
	}

	// A workspace directory may be 0755 or a symlink to one of ours.
	ws := mk("ws", 0o755)
	if err := CheckDir(filepath.Join(ws, SocketName)); err != nil {
		t.Errorf("a 0755 workspace: %v", err)
	}
	os.Symlink(ws, filepath.Join(base, "wslink"))
	if err := CheckDir(filepath.Join(base, "wslink", SocketName)); err != nil {
		t.Errorf("a symlinked workspace: %v", err)
	}
	shared := mk("shared", 0o775)
	wantRefusal(t, "workspace 0775", CheckDir(filepath.Join(shared, SocketName)), "workspace directory "+shared, "other users can write in it")

	if os.Getuid() == 0 {
		theirs := mk("theirs", 0o700)
		os.Chown(theirs, otherUID, otherUID)
		wantRefusal(t, "fallback of another user", CheckDir(filepath.Join(theirs, "abc.sock")),
			fmt.Sprintf("socket directory %s is owned by uid %d, not you (0)", theirs, otherUID))
		wantRefusal(t, "workspace of another user", CheckDir(filepath.Join(theirs, SocketName)), "owned by uid 65534")
	}
}

// TestCheckSocket: a socket of this user's with mode 0600, nothing else.
func TestCheckSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SocketName)
	ln, err := Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := CheckSocket(path); err != nil {
		t.Fatalf("the socket Listen made: %v", err)
	}
	os.Chmod(path, 0o666)
	wantRefusal(t, "socket 0666", CheckSocket(path), "socket "+path+" has mode -rw-rw-rw-, not 0600")
	os.Chmod(path, 0o600)
	if os.Getuid() == 0 {
		os.Lchown(path, otherUID, otherUID)
		wantRefusal(t, "socket of another user", CheckSocket(path), "owned by uid 65534, not you (0)")
		os.Lchown(path, 0, 0)
	}
	other := filepath.Join(t.TempDir(), SocketName)
	os.Symlink(path, other)
	wantRefusal(t, "symlink", CheckSocket(other), "is not a socket")
	os.Remove(other)
	os.WriteFile(other, nil, 0o600)
	wantRefusal(t, "regular file", CheckSocket(other), "is not a socket")

	// A client refuses before it connects, and says so as the service's error.
	_, err = NewClient(other).Status(context.Background())
	wantRefusal(t, "client of a file", err, "is not a socket")
	if errors.Is(err, ErrNoOwner) {
		t.Errorf("a refusal reads as no owner: %v", err)
	}
}

// helper starts the test binary as another user, running helper mode on
// path, and returns its stdout.
func helper(t *testing.T, mode, path string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The other user must be able to run a copy of the test binary.
	bin, err := os.MkdirTemp("", "signet-api-helper")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	os.Chmod(bin, 0o755)
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "api.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, path)
	cmd.Env = []string{helperEnv + "=" + mode}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

func line(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	if !sc.Scan() {
		t.Fatalf("the helper ended without a word: %v", sc.Err())
	}
	return sc.Text()
}

// TestPeerOfAnotherUser: a socket that passes every file check but whose
// listener runs as another user gets not a byte from a client; a process
// of another user that reaches the owner's socket is turned away unanswered.
func TestPeerOfAnotherUser(t *testing.T) {
	needRoot(t)

	// Another user listens; its socket is then moved into a private
	// directory of ours and given to us, as only root could: the files
	// are right, the process behind them is not.
	open, err := os.MkdirTemp("", "signet-peer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(open)
	os.Chmod(open, 0o777)
	theirs := filepath.Join(open, "theirs.sock")
	_, out := helper(t, "listen", theirs)
	if l := line(t, out); l != "ready" {
		t.Fatalf("listening helper: %s", l)
	}
	private := filepath.Join(t.TempDir(), SocketName)
	os.Lchown(theirs, 0, 0)
	os.Chmod(theirs, 0o600)
	if err := os.Rename(theirs, private); err != nil {
		t.Fatal(err)
	}
	if err := CheckSocket(private); err != nil {
		t.Fatalf("the moved socket should pass the file checks: %v", err)
	}
	_, err = NewClient(private).Status(context.Background())
	wantRefusal(t, "client of another user's listener", err,
		fmt.Sprintf("the process at the other end of %s runs as uid %d, not you (0)", private, otherUID))
	if l := line(t, out); l != "got 0" {
		t.Errorf("another user's listener heard from the client: %s", l)
	}

	// The owner's listener turns another user's connection away.
	ws, err := os.MkdirTemp("", "signet-peer-ws")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(ws)
	sock := filepath.Join(ws, SocketName)
	refusals := make(chan error, 1)
	ln, err := Listen(sock, func(err error) { refusals <- err })
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(nil)
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	// Opened up so that the other user can connect at all.
	os.Chmod(ws, 0o711)
	os.Chmod(sock, 0o666)
	_, out = helper(t, "dial", sock)
	if l := line(t, out); l != "read 0" {
		t.Fatalf("another user's client got an answer: %s", l)
	}
	wantRefusal(t, "the owner's listener", <-refusals, fmt.Sprintf("runs as uid %d, not you (0)", otherUID))
}
