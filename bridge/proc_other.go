//go:build !linux && !darwin

package bridge

// Signet supervises its Python processes with POSIX process groups and
// signals, and has been made to work on Linux and macOS only. This
// undefined name makes a build for another OS fail with a message that
// says so, rather than with the first missing function.
var _ = signet_builds_for_linux_and_macos_only
