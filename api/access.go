package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// AccessError is a refusal: the socket, its directory or the process
// answering on it is not this user's own, so neither side sends it a byte.
// Its text says why.
type AccessError struct{ Reason string }

func (e *AccessError) Error() string { return e.Reason }

func refuse(format string, a ...any) error {
	return &AccessError{Reason: fmt.Sprintf(format, a...)}
}

// fallback says whether path is in the shared temp dir rather than in the
// workspace (SocketPath falls back there when the workspace path is long).
func fallback(path string) bool { return filepath.Base(path) != SocketName }

// CheckDir checks the directory the socket at path lives in. The fallback
// directory under the shared temp dir is Signet's own: it must be a real
// directory (not a symlink) of this user with no group or other bits. A
// workspace directory is the user's choice (a symlink, 0755): it must be
// this user's and writable by nobody else, so nobody else can put a socket
// there. A missing directory is fs.ErrNotExist (no owner runs).
func CheckDir(path string) error {
	dir := filepath.Dir(path)
	stat, strict := os.Stat, fallback(path)
	if strict {
		stat = os.Lstat
	}
	fi, err := stat(dir)
	if err != nil {
		return err
	}
	kind := "workspace directory"
	if strict {
		kind = "socket directory"
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return refuse("%s %s is a symlink; remove it (Signet creates it itself, mode 0700)", kind, dir)
	case !fi.IsDir():
		return refuse("%s %s is not a directory", kind, dir)
	}
	if uid := fileUID(fi); uid != os.Getuid() {
		return refuse("%s %s is owned by uid %d, not you (%d)", kind, dir, uid, os.Getuid())
	}
	if strict && fi.Mode().Perm()&0o077 != 0 {
		return refuse("%s %s has mode %v: other users have access to it; it must be 0700", kind, dir, fi.Mode().Perm())
	}
	if !strict && fi.Mode().Perm()&0o022 != 0 {
		return refuse("%s %s has mode %v: other users can write in it; remove their write bits (chmod go-w)", kind, dir, fi.Mode().Perm())
	}
	return nil
}

// CheckSocket checks the socket at path and its directory (CheckDir): a
// socket (not a symlink) of this user's with mode 0600. A missing one is
// fs.ErrNotExist.
func CheckSocket(path string) error {
	if err := CheckDir(path); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return refuse("%s is not a socket (%v)", path, fi.Mode().Type())
	}
	if uid := fileUID(fi); uid != os.Getuid() {
		return refuse("socket %s is owned by uid %d, not you (%d)", path, uid, os.Getuid())
	}
	if fi.Mode().Perm() != 0o600 {
		return refuse("socket %s has mode %v, not 0600", path, fi.Mode().Perm())
	}
	return nil
}

func fileUID(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// CheckPeer refuses a connection on the socket at path whose other end
// runs as another user.
func CheckPeer(c net.Conn, path string) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return refuse("%s: not a unix socket connection", path)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	uid := -1
	var perr error
	if err := raw.Control(func(fd uintptr) { uid, perr = peerUID(int(fd)) }); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if perr != nil {
		return refuse("%s: cannot tell which user the process at the other end runs as (%v)", path, perr)
	}
	if uid != os.Getuid() {
		return refuse("the process at the other end of %s runs as uid %d, not you (%d)", path, uid, os.Getuid())
	}
	return nil
}

// dialOwner connects to the owner's socket at path once the socket, its
// directory and then the process that accepted are this user's own:
// nothing is written before.
func dialOwner(ctx context.Context, path string) (net.Conn, error) {
	if err := CheckSocket(path); err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	if err := CheckPeer(c, path); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// notConnected says whether a failed request never reached an owner: no
// socket file or directory, a file nobody listens on (an owner killed with
// -9), or any other failure to connect. Then nothing ran, and trying again
// is safe. A refusal is not one: it is reported as it is.
func notConnected(err error) bool {
	var ae *AccessError
	if errors.As(err, &ae) {
		return false
	}
	var op *net.OpError
	return errors.Is(err, fs.ErrNotExist) || errors.As(err, &op) && op.Op == "dial"
}
