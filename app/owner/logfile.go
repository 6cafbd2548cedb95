package owner

import (
	"os"
)

// LogCap is the size past which a log file is moved aside (to NAME.1,
// replacing the one before) when the next process opens it: owners are
// long-lived, and their logs would otherwise only grow.
const LogCap = 8 << 20

// OpenLog opens the log file at path for appending, first moving it to
// path.1 if it has grown past LogCap.
func OpenLog(path string) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > LogCap {
		os.Rename(path, path+".1")
	}
	return os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
}
