package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// File names inside a workspace.
const (
	SocketName = "signet.sock"
	OwnerName  = "owner.json"
)

// maxSocketPath keeps the socket path, and the temporary name it is bound
// under, within sun_path (108 bytes on Linux, 104 on macOS).
const maxSocketPath = 90

// SocketPath is where the owner of the workspace dir listens: dir/signet.sock,
// or, when that path is too long for a unix socket, a name derived from dir
// in a private directory under the temp dir. Owner and clients compute the
// same path.
func SocketPath(dir string) string {
	p := filepath.Join(dir, SocketName)
	if len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "signet-"+strconv.Itoa(os.Getuid()), hex.EncodeToString(sum[:8])+".sock")
}

// Listen binds the socket at path with mode 0600 and returns a Listener
// that accepts only this user's processes. It checks the socket's
// directory first (CheckDir; the fallback one it creates 0700), binds a
// temporary name, sets the mode, then renames it into place, so the socket
// is never reachable with a wider mode, and a stale one is replaced
// atomically. Only the process holding the workspace's lock may call it: it
// replaces what is at path. refused, when set, hears each connection turned
// away.
func Listen(path string, refused func(error)) (*Listener, error) {
	dir := filepath.Dir(path)
	if fallback(path) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("socket directory: %w", err)
		}
	}
	if err := CheckDir(path); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, ".sock-"+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", tmp, err)
	}
	// The listener must not unlink the path on close: after the rename, the
	// name it knows is gone, and the owner removes the socket itself.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("socket mode: %w", err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("socket: %w", err))
	}
	if err := CheckSocket(path); err != nil {
		return fail(err)
	}
	if refused == nil {
		refused = func(error) {}
	}
	return &Listener{UnixListener: ln, path: path, refused: refused, drained: make(chan struct{})}, nil
}

// Listener is the owner's socket. Accept turns away connections of other
// users; Unlink hides the socket from new clients and hands the server
// every connection made before.
type Listener struct {
	*net.UnixListener
	path    string
	refused func(error)

	mark    atomic.Pointer[string] // the address Unlink's last connection comes from
	drained chan struct{}          // closed when that connection is accepted
}

// Accept returns the next connection of a process of this user.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if m := l.mark.Load(); m != nil && c.RemoteAddr() != nil && c.RemoteAddr().String() == *m {
			c.Close()
			close(l.drained)
			continue
		}
		if err := CheckPeer(c, l.path); err != nil {
			c.Close()
			l.refused(err)
			continue
		}
		return c, nil
	}
}

// Unlink removes the socket's name, so that a new client finds no owner
// (and looks for the next one), and returns once every connection made
// before has been accepted: closing the listener would otherwise reset
// the ones still queued, requests a client could not tell were not run.
// The queue is first in, first out: it renames the socket aside, connects
// to it once more, and waits for Accept to see that connection.
func (l *Listener) Unlink(ctx context.Context) error {
	dir, pid := filepath.Dir(l.path), strconv.Itoa(os.Getpid())
	aside := filepath.Join(dir, ".closing-"+pid)
	if err := os.Rename(l.path, aside); err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer os.Remove(aside)
	mark := filepath.Join(dir, ".last-"+pid)
	os.Remove(mark)
	defer os.Remove(mark)
	l.mark.Store(&mark)
	c, err := net.DialUnix("unix", &net.UnixAddr{Name: mark, Net: "unix"}, &net.UnixAddr{Name: aside, Net: "unix"})
	if err != nil {
		return fmt.Errorf("socket: the last connection: %w", err)
	}
	defer c.Close()
	select {
	case <-l.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Owner is owner.json, beside the socket: who holds the workspace, for
// messages and for `signet status` when the socket does not answer.
type Owner struct {
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Workspace string    `json:"workspace"`
	Version   string    `json:"version"`
	Command   string    `json:"command"`
	Socket    string    `json:"socket"`
}

// WriteOwner writes dir/owner.json (temporary file, then rename).
func WriteOwner(dir string, o Owner) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".owner-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", OwnerName, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, OwnerName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", OwnerName, err)
	}
	return nil
}

// ReadOwner reads dir/owner.json.
func ReadOwner(dir string) (*Owner, error) {
	b, err := os.ReadFile(filepath.Join(dir, OwnerName))
	if err != nil {
		return nil, err
	}
	var o Owner
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", OwnerName, err)
	}
	return &o, nil
}

// Alive says whether a process with that pid exists (signal 0) and has
// not exited (a zombie has).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && !zombie(pid)
}
