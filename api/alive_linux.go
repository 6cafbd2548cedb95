package api

import (
	"os"
	"strconv"
	"strings"
)

// zombie says whether pid has exited and waits for its parent to reap it:
// signal 0 still finds such a process, but it holds no workspace any more.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// hold spaces or parentheses itself.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
