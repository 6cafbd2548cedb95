package owner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/store"
)

// caller is the principal of ctx's request as it stands now: a user's role
// and credits are read again, so that a change (or a user removed) counts
// from the next request on, whatever the face read when it authenticated.
func (o *Owner) caller(ctx context.Context) (*app.Principal, error) {
	p := app.Caller(ctx)
	if p.Local {
		return p, nil
	}
	u, err := o.st.GetUser(ctx, p.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, app.Errorf(app.CodeUnauthenticated, "unauthenticated: user %q no longer exists", p.Name)
	}
	if err != nil {
		return nil, fail(err)
	}
	return app.PrincipalOf(u), nil
}

// authorize is app.Authorize for ctx's caller, the check every guarded
// operation makes before it acts; a refusal is written to the audit trail.
// It returns the caller, whose name the operation records.
func (o *Owner) authorize(ctx context.Context, action app.Action, res app.Resource) (*app.Principal, error) {
	p, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := app.Authorize(p, action, res); err != nil {
		o.audit(ctx, p, string(action), res.String(), model.OutcomeDenied, err.Error())
		return nil, err
	}
	return p, nil
}

// audit appends to the audit trail. The action it records has happened (or
// been refused) already, so a failure to record is logged, not returned.
func (o *Owner) audit(ctx context.Context, p *app.Principal, action, target, outcome, detail string) {
	r := &model.AuditRecord{Actor: p.Name, Action: action, Target: target, Outcome: outcome, Detail: detail}
	if err := o.st.AppendAudit(context.WithoutCancel(ctx), r); err != nil {
		o.logf("audit: %v", err)
	}
}

// userOf is the user a request's executions are charged to: "" for the
// local principal.
func userOf(p *app.Principal) string {
	if p.Local {
		return ""
	}
	return p.Name
}

func (o *Owner) AddUser(ctx context.Context, u model.User) (*model.User, error) {
	p, err := o.authorize(ctx, app.ActionManage, app.Resource{Kind: "user", Name: u.Name})
	if err != nil {
		return nil, err
	}
	u.CreatedAt = time.Time{} // the store's clock, not the caller's
	if err := o.st.CreateUser(ctx, &u); err != nil {
		return nil, fail(err)
	}
	o.audit(ctx, p, "user.add", "user:"+u.Name, model.OutcomeOK, fmt.Sprintf("role %s, credits $%g", u.Role, u.Credits))
	return &u, nil
}

func (o *Owner) ListUsers(ctx context.Context) ([]*model.User, error) {
	if _, err := o.authorize(ctx, app.ActionManage, app.Resource{Kind: "users", Name: "*"}); err != nil {
		return nil, err
	}
	us, err := o.st.ListUsers(ctx)
	if us == nil {
		us = []*model.User{}
	}
	return us, fail(err)
}

// User may be read by the user itself.
func (o *Owner) User(ctx context.Context, name string) (*app.UserDetail, error) {
	if _, err := o.authorize(ctx, app.ActionRead, app.Resource{Kind: "user", Name: name, Owner: name}); err != nil {
		return nil, err
	}
	u, err := o.st.GetUser(ctx, name)
	if err != nil {
		return nil, fail(err)
	}
	ts, err := o.st.Tokens(ctx, name)
	if err != nil {
		return nil, fail(err)
	}
	d := &app.UserDetail{User: *u, Tokens: make([]app.TokenInfo, len(ts))}
	for i, t := range ts {
		d.Tokens[i] = app.InfoOf(t)
	}
	return d, nil
}

func (o *Owner) SetCredits(ctx context.Context, name, op string, usd float64) (*model.User, error) {
	if len(op) != 1 || !(op[0] == '+' || op[0] == '-' || op[0] == '=') {
		return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "op", Msg: fmt.Sprintf("%q: want +, - or =", op)})
	}
	if usd < 0 || math.IsNaN(usd) || math.IsInf(usd, 0) {
		return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "usd", Msg: "want an amount in US dollars ≥ 0"})
	}
	p, err := o.authorize(ctx, app.ActionManage, app.Resource{Kind: "user", Name: name})
	if err != nil {
		return nil, err
	}
	u, err := o.st.SetCredits(ctx, name, store.CreditOp(op[0]), usd)
	if err != nil {
		return nil, fail(err)
	}
	o.audit(ctx, p, "user.credits", "user:"+name, model.OutcomeOK, fmt.Sprintf("%s%g: now $%g", op, usd, u.Credits))
	return u, nil
}

func (o *Owner) CreateToken(ctx context.Context, user, label string) (*app.NewToken, error) {
	if len(label) > 128 {
		return nil, app.Wrap(app.CodeInvalid, &model.FieldError{Field: "name", Msg: "a token's label is at most 128 bytes"})
	}
	p, err := o.authorize(ctx, app.ActionManage, app.Resource{Kind: "user", Name: user})
	if err != nil {
		return nil, err
	}
	value, err := model.NewTokenValue()
	if err != nil {
		return nil, fail(err)
	}
	t := &model.Token{ID: model.NewID(), User: user, Name: label, Hash: model.HashToken(value)}
	if err := o.st.CreateToken(ctx, t); err != nil {
		return nil, fail(err)
	}
	o.audit(ctx, p, "token.create", "token:"+t.ID.String(), model.OutcomeOK, "for user "+user)
	return &app.NewToken{TokenInfo: app.InfoOf(t), Value: value}, nil
}

func (o *Owner) RevokeToken(ctx context.Context, id model.ID) (*app.TokenInfo, error) {
	p, err := o.authorize(ctx, app.ActionManage, app.Resource{Kind: "token", Name: id.String()})
	if err != nil {
		return nil, err
	}
	t, err := o.st.RevokeToken(ctx, id)
	if err != nil {
		return nil, fail(err)
	}
	o.audit(ctx, p, "token.revoke", "token:"+id.String(), model.OutcomeOK, "of user "+t.User)
	info := app.InfoOf(t)
	return &info, nil
}

func (o *Owner) Audit(ctx context.Context, limit int) ([]*model.AuditRecord, error) {
	if _, err := o.authorize(ctx, app.ActionManage, app.Resource{Kind: "audit", Name: "*"}); err != nil {
		return nil, err
	}
	rs, err := o.st.Audit(ctx, limit)
	if rs == nil {
		rs = []*model.AuditRecord{}
	}
	return rs, fail(err)
}

// Authenticate looks a token up by its hash; its value is never stored.
// A failure is written to the audit trail (never the token's value), at
// most once a second per client address (authFailures).
func (o *Owner) Authenticate(ctx context.Context, token string) (*app.Principal, error) {
	refuse := func(why string) (*app.Principal, error) {
		o.authFails.note(ctx, o, why)
		return nil, app.Errorf(app.CodeUnauthenticated, "unauthenticated: %s", why)
	}
	if token == "" {
		return refuse("no token (want the header Authorization: Bearer <token>)")
	}
	if !model.LooksLikeToken(token) {
		return refuse("the token is unknown or revoked")
	}
	t, err := o.st.TokenByHash(ctx, model.HashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse("the token is unknown or revoked")
	case err != nil:
		return nil, fail(err)
	case t.Revoked():
		return refuse("the token is unknown or revoked")
	}
	u, err := o.st.GetUser(ctx, t.User)
	if errors.Is(err, store.ErrNotFound) {
		return refuse("the token is unknown or revoked")
	}
	if err != nil {
		return nil, fail(err)
	}
	return app.PrincipalOf(u), nil
}
