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

// RequirementsHash identifies the pinned environment, so a managed venv made
// from an older lock is rebuilt.
func RequirementsHash() string {
	sum := sha256.Sum256(Requirements)
	return hex.EncodeToString(sum[:])
}
