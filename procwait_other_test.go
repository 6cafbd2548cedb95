//go:build !linux

package main

import "testing"

// waitExit has no pidfd to wait on here; the end-to-end tests that need it
// run on Linux.
func waitExit(t *testing.T, pid int) { t.Helper() }
