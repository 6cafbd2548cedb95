package model

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
)

// Role is what a user may do (app.Authorize holds the rules).
type Role string

const (
	RoleAdmin      Role = "admin"       // everything, every user's records
	RoleMLEngineer Role = "ml_engineer" // compiles (optimizes) programs
	RoleMLUser     Role = "ml_user"     // executes production programs while credits last
)

// Roles are the roles there are, in the order help lists them.
var Roles = []Role{RoleAdmin, RoleMLEngineer, RoleMLUser}

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want admin, ml_engineer or ml_user)", s)
}

// LocalUser is the name the audit trail gives the workspace's own user
// (every caller of its unix socket); no User may take it.
const LocalUser = "local"

// User is a person or service that reaches the workspace with a token.
// The workspace's own local user is no User: it has every right.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Credits are US dollars, like an execution's cost: each execution the
	// user creates is debited its cost, never below 0.
	Credits   float64   `json:"credits"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks a user's name, role and credits.
func (u *User) Validate() error {
	if err := ValidName("user", u.Name); err != nil {
		return err
	}
	if u.Name == LocalUser {
		return &FieldError{Field: "user.name", Msg: fmt.Sprintf("%q is the workspace's own user in the audit trail: choose another name", u.Name)}
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		return &FieldError{Field: "role", Msg: err.Error()}
	}
	if u.Credits < 0 || math.IsNaN(u.Credits) || math.IsInf(u.Credits, 0) {
		return &FieldError{Field: "credits", Msg: fmt.Sprintf("%v is not an amount of credits (0 or more US dollars)", u.Credits)}
	}
	return nil
}

// Token is a user's bearer credential. Only the SHA-256 of its value is
// stored: the value is shown once, when it is made.
type Token struct {
	ID        ID        `json:"id"`
	User      string    `json:"user"`
	Name      string    `json:"name,omitempty"` // the label its maker gave it
	Hash      string    `json:"sha256"`         // hex SHA-256 of the value
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked says whether the token no longer authenticates.
func (t *Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// TokenPrefix starts every token's value, so that one is recognisable in a
// config file or a leaked log (and a secret scanner can match it).
const TokenPrefix = "sgt_"

// NewTokenValue is a fresh random token value: the prefix and 32 random
// bytes in unpadded URL-safe base64.
func NewTokenValue() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token value: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashToken is the hash a token's value is stored and looked up by: the
// hex SHA-256 of the value (a value has 256 random bits, so no salt or slow
// hash is needed against guessing).
func HashToken(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:])
}

// LooksLikeToken says whether s has a token's shape (its prefix).
func LooksLikeToken(s string) bool { return strings.HasPrefix(s, TokenPrefix) }

// Outcome of an audited action.
const (
	OutcomeOK      = "ok"
	OutcomeDenied  = "denied"
	OutcomeClamped = "clamped" // a debit larger than the credits left: credits set to 0
)

// AuditRecord is one entry of the audit trail: who did what to what, and
// how it ended.
type AuditRecord struct {
	ID     ID        `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // a user's name, or "local"
	Action string    `json:"action"` // user.add, token.create, execute, ...
	Target string    `json:"target"` // what it acted on: "user:ann", "program:qa", "execution:ID"
	// Outcome is ok, denied or clamped; Detail says why (the rule that
	// refused, the amount a clamped debit could not take).
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}
