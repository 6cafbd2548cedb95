package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
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

// Listen binds the socket at path with mode 0600. It binds a temporary name,
// sets the mode, then renames it into place, so the socket is never
// reachable with a wider mode, and a stale one is replaced atomically. Only
// the process holding the workspace's lock may call it: it replaces what is
// at path.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if filepath.Base(path) != SocketName {
		// The fallback directory is shared with other users: it must be ours alone.
		if err := privateDir(dir); err != nil {
			return nil, err
		}
	}
	tmp := filepath.Join(dir, ".sock-"+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", tmp, err)
	}
	// The listener must not unlink the path on close: after the rename, the
	// name it knows is gone, and the owner removes the socket itself.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("socket: %w", err)
	}
	return ln, nil
}

func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 || (ok && int(st.Uid) != os.Getuid()) {
		return fmt.Errorf("socket directory %s is not a directory private to this user (mode %v)", dir, fi.Mode())
	}
	return nil
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

// Alive says whether a process with that pid exists (signal 0).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
