package app

import (
	"context"
	"fmt"
	"time"

	"github.com/signet-dspy/signet/model"
)

// Users are the people and services that reach the workspace with a token,
// their tokens and credits, and the audit trail of what was done. Managing
// them is an admin's (or the local user's) right.
type Users interface {
	// AddUser creates a user; exists when the name is taken.
	AddUser(ctx context.Context, u model.User) (*model.User, error)
	ListUsers(ctx context.Context) ([]*model.User, error)
	// User is a user with its tokens (never a token's value or hash).
	User(ctx context.Context, name string) (*UserDetail, error)
	// SetCredits adds (op '+'), takes ('-') or sets ('=') a user's credits
	// in US dollars; taking more than is left leaves 0.
	SetCredits(ctx context.Context, name string, op string, usd float64) (*model.User, error)
	// CreateToken makes a token for a user: its value is in the answer
	// and nowhere else, ever.
	CreateToken(ctx context.Context, user, label string) (*NewToken, error)
	RevokeToken(ctx context.Context, id model.ID) (*TokenInfo, error)
	// Audit is the newest records of the audit trail, newest first (limit
	// <= 0: all).
	Audit(ctx context.Context, limit int) ([]*model.AuditRecord, error)
	// Authenticate is the principal a token's value stands for;
	// unauthenticated for an unknown or revoked token.
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// UserDetail is a user and its tokens.
type UserDetail struct {
	model.User
	Tokens []TokenInfo `json:"tokens"`
}

// TokenInfo is what may be shown of a token: no value, no hash.
type TokenInfo struct {
	ID        model.ID  `json:"id"`
	User      string    `json:"user"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// InfoOf is a token as it may be shown.
func InfoOf(t *model.Token) TokenInfo {
	return TokenInfo{ID: t.ID, User: t.User, Name: t.Name, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
}

// NewToken is a token just made, with its value: shown once.
type NewToken struct {
	TokenInfo
	Value string `json:"value"`
}

// Principal is who asks the service for something. The workspace's own
// user (every caller of the unix socket, which only that user can open) is
// the local principal, with every right; a token's holder is a user with
// the rights of its role.
type Principal struct {
	Local bool       `json:"local,omitempty"`
	Name  string     `json:"name"` // "local", or the user's name
	Role  model.Role `json:"role,omitempty"`
	// Credits are the user's as the principal was read: Authorize refuses
	// an execution when they are 0.
	Credits float64 `json:"credits"`
}

// Local is the workspace's own user.
var Local = &Principal{Local: true, Name: model.LocalUser}

// PrincipalOf is a user's principal.
func PrincipalOf(u *model.User) *Principal {
	return &Principal{Name: u.Name, Role: u.Role, Credits: u.Credits}
}

type principalKey struct{}

type remoteKey struct{}

// WithRemote marks ctx as a request from addr (a network face's client),
// which the audit trail names when the request fails to authenticate.
func WithRemote(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteKey{}, addr)
}

// Remote is the client address WithRemote set ("" when none did: the
// workspace's own socket).
func Remote(ctx context.Context) string {
	a, _ := ctx.Value(remoteKey{}).(string)
	return a
}

// WithPrincipal marks ctx as a request of p: the service authorizes what
// it does against p. A face that authenticates callers (the HTTP server)
// sets it; without it a request is the local principal's.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Caller is the principal of ctx's request: the local principal unless a
// face set another.
func Caller(ctx context.Context) *Principal {
	if p, ok := ctx.Value(principalKey{}).(*Principal); ok && p != nil {
		return p
	}
	return Local
}

// Action is what a principal asks to do.
type Action string

const (
	ActionRead    Action = "read"    // see a record
	ActionWrite   Action = "write"   // create, change or delete a workspace record (programs, datasets, ...)
	ActionExecute Action = "execute" // run a program
	ActionCompile Action = "compile" // optimize a program
	ActionManage  Action = "manage"  // users, tokens, credits, the audit trail
	ActionCancel  Action = "cancel"  // stop a job (execution, evaluation, optimization)
	// ActionAdminister is control of the owner itself: its pool, status,
	// backups, the store's check.
	ActionAdminister Action = "administer"
	ActionRate       Action = "rate" // give an execution feedback
)

// Resource is what an action is on. Owner is the user who created it
// ("" for a record of the local user or of the workspace); Status is a
// program's, for execute.
type Resource struct {
	Kind   string              // program, dataset, execution, user, ...
	Name   string              // its name or ID
	Owner  string              // for records users own (executions)
	Shared bool                // a workspace record every user may read (programs, datasets)
	Status model.ProgramStatus // a program's status, for execute
}

// String names the resource as the audit trail does: "program:qa".
func (r Resource) String() string { return r.Kind + ":" + r.Name }

// ExecutionOf is execution x as a resource: the user who created it owns
// it.
func ExecutionOf(x *model.Execution) Resource {
	return Resource{Kind: "execution", Name: x.ID.String(), Owner: x.User}
}

// Authorize is the one policy: whether p may do action on res. A refusal
// is forbidden naming the rule (payment_required when an execution would
// need credits the user has not got). The rules are the original design's:
//
//   - the local principal and admins may do everything;
//   - read: a shared workspace record (programs, datasets), or one's own
//     record (an execution one created, one's own user);
//   - execute: ml_user, only on a program in production and while the
//     user has credits;
//   - compile: ml_engineer;
//   - cancel: the user who started the job;
//   - rate (feedback on an execution): the user who created it;
//   - write, manage and administer: nobody else.
func Authorize(p *Principal, action Action, res Resource) error {
	if p.Local || p.Role == model.RoleAdmin {
		return nil
	}
	switch action {
	case ActionRead:
		if res.Shared || (res.Owner != "" && res.Owner == p.Name) {
			return nil
		}
		return forbidden(p, action, res, "read: admins, or the user who created the record")
	case ActionExecute:
		if p.Role != model.RoleMLUser {
			return forbidden(p, action, res, "execute: admin or ml_user")
		}
		if res.Status != model.Production {
			return forbidden(p, action, res, fmt.Sprintf("execute: an ml_user only runs programs in production (%s is %s)", res.Name, statusName(res.Status)))
		}
		if p.Credits <= 0 {
			return &Error{Code: CodePaymentRequired, Message: fmt.Sprintf("payment required: user %s has no credits left to execute %s", p.Name, res)}
		}
		return nil
	case ActionCompile:
		if p.Role == model.RoleMLEngineer {
			return nil
		}
		return forbidden(p, action, res, "compile: admin or ml_engineer")
	case ActionCancel, ActionRate:
		if res.Owner != "" && res.Owner == p.Name {
			return nil
		}
		if action == ActionRate {
			return forbidden(p, action, res, "feedback: admins, or the user who created the execution")
		}
		return forbidden(p, action, res, "cancel: admins, or the user who started the job")
	case ActionManage:
		return forbidden(p, action, res, "manage users and tokens: admin")
	}
	return forbidden(p, action, res, fmt.Sprintf("%s: admin", action))
}

func forbidden(p *Principal, action Action, res Resource, rule string) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf("forbidden: %s (%s) may not %s %s; rule %q", p.Name, p.Role, action, res, rule)}
}

func statusName(s model.ProgramStatus) string {
	if s == "" {
		return "draft"
	}
	return string(s)
}
