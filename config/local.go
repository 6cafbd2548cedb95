package config

import (
	"fmt"
	"runtime"
	"strconv"
)

// LocalSettings say how the local model (profiles with model: signet/local)
// is served: by how many llama.cpp servers.
type LocalSettings struct {
	// Servers is how many llama.cpp servers run the local model, each with
	// its share of the cores as threads: a number from 1 to MaxLocalServers,
	// or "auto" (one per LocalCoresPerServer cores, at least 1, at most
	// MaxLocalServers). 1 by default. With more than one, the local profiles
	// list them as endpoints and the workers balance calls between them.
	Servers string `yaml:"servers,omitempty"`
}

// Bounds of local: servers.
const (
	// MaxLocalServers caps servers: each holds the model and its context
	// in memory, and past a few the cores, not the servers, are the limit.
	MaxLocalServers = 8
	// LocalCoresPerServer is how many cores "auto" gives each server: a
	// server runs one call at a time, so cores beyond what one call uses
	// well serve more calls at once as more servers (4 is a cautious share:
	// not measured beyond 2 cores, see BENCHMARKS.md).
	LocalCoresPerServer = 4
	// LocalServersAuto is the value of servers: that sizes them by cores.
	LocalServersAuto = "auto"
)

// LocalServers is how many llama.cpp servers run the local model
// (local: servers, checked by Load).
func (c *Config) LocalServers() int {
	switch s := c.Local.Servers; s {
	case "":
		return 1
	case LocalServersAuto:
		return autoLocalServers(runtime.NumCPU())
	default:
		n, _ := strconv.Atoi(s)
		return n
	}
}

// autoLocalServers is "auto" on a machine with cores cores.
func autoLocalServers(cores int) int {
	return min(max(cores/LocalCoresPerServer, 1), MaxLocalServers)
}

// checkLocal validates the local section read from path.
func (c *Config) checkLocal(path string) error {
	s := c.Local.Servers
	if s == "" || s == LocalServersAuto {
		return nil
	}
	if n, err := strconv.Atoi(s); err != nil || n < 1 || n > MaxLocalServers {
		return fmt.Errorf("%s: local: servers: %q: want a number from 1 to %d, or auto (one per %d cores)",
			path, s, MaxLocalServers, LocalCoresPerServer)
	}
	return nil
}
