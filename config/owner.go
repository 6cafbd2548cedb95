package config

import (
	"fmt"
	"os"
	"time"
)

// OwnerSettings say how a command that finds no owner of its workspace
// gets one: by starting it in the background (the default), which then
// exits after IdleExit without work, or by owning the workspace itself for
// its own lifetime (background: false).
type OwnerSettings struct {
	Background *bool  `yaml:"background,omitempty"`
	IdleExit   string `yaml:"idle_exit,omitempty"` // a duration: 10m, 1h
	// WarmLocal: a serving owner starts the local LM server with its
	// workers when the default profile is the local model (default true),
	// so the first call does not wait for the model to load.
	WarmLocal *bool `yaml:"warm_local,omitempty"`
	// PrimeLocal: the warmed server is then sent the first prompt of the
	// program most likely to run next (default true), so that the first
	// call's prompt is mostly in llama.cpp's prefix cache already.
	PrimeLocal *bool `yaml:"prime_local,omitempty"`
}

// Background owner defaults and bounds.
const (
	DefaultIdleExit = 10 * time.Minute
	MinIdleExit     = time.Second
	MaxIdleExit     = 7 * 24 * time.Hour
)

// BackgroundOwner says whether a command that finds no owner starts one in
// the background (owner: background, default true).
func (c *Config) BackgroundOwner() bool {
	return c.Owner.Background == nil || *c.Owner.Background
}

// WarmLocal says whether a serving owner starts the local LM server ahead
// of the first call (owner: warm_local, default true; SIGNET_NO_WARM=1 turns
// it off too, as the test suite does).
func (c *Config) WarmLocal() bool {
	if os.Getenv("SIGNET_NO_WARM") == "1" {
		return false
	}
	return c.Owner.WarmLocal == nil || *c.Owner.WarmLocal
}

// PrimeLocal says whether a serving owner that warms the local LM server
// primes it with the prompt most likely to come first (owner: prime_local,
// default true; SIGNET_NO_PRIME=1 turns it off too).
func (c *Config) PrimeLocal() bool {
	if os.Getenv("SIGNET_NO_PRIME") == "1" {
		return false
	}
	return c.Owner.PrimeLocal == nil || *c.Owner.PrimeLocal
}

// IdleExitOr is how long a background owner waits without work before it
// exits: owner: idle_exit, or DefaultIdleExit.
func (c *Config) IdleExitOr() time.Duration {
	if c.Owner.IdleExit == "" {
		return DefaultIdleExit
	}
	d, _ := time.ParseDuration(c.Owner.IdleExit) // checked by Load
	return d
}

// checkOwner validates the owner section read from path.
func (c *Config) checkOwner(path string) error {
	if s := c.Owner.IdleExit; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < MinIdleExit || d > MaxIdleExit {
			return fmt.Errorf("%s: owner: idle_exit: %q is not a duration from 1s to 168h, such as 10m or 1h", path, s)
		}
	}
	return nil
}
