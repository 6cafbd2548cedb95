package api

import "golang.org/x/sys/unix"

// peerUID is the uid of the process at the other end of the unix socket fd
// (SO_PEERCRED: the credentials it had when it connected or listened).
func peerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
