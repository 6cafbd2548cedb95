package tuitest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// Users is the Users page's part of the service: users, their tokens and
// the audit trail in memory; it keeps the changes asked (Calls).
type Users struct {
	mu     sync.Mutex
	List   []*model.User
	Tokens map[string][]app.TokenInfo
	Trail  []*model.AuditRecord
	Calls  []string
}

func (f *Users) ListUsers(context.Context) ([]*model.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*model.User, len(f.List))
	for i, u := range f.List {
		c := *u
		out[i] = &c
	}
	return out, nil
}

func (f *Users) User(_ context.Context, name string) (*app.UserDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.List {
		if u.Name == name {
			return &app.UserDetail{User: *u, Tokens: append([]app.TokenInfo(nil), f.Tokens[name]...)}, nil
		}
	}
	return nil, app.Errorf(app.CodeNotFound, "user %q not found", name)
}

func (f *Users) SetCredits(_ context.Context, name, op string, usd float64) (*model.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, fmt.Sprintf("credits %s %s%g", name, op, usd))
	for _, u := range f.List {
		if u.Name != name {
			continue
		}
		switch op {
		case "+":
			u.Credits += usd
		case "-":
			u.Credits = max(u.Credits-usd, 0)
		default:
			u.Credits = usd
		}
		c := *u
		return &c, nil
	}
	return nil, app.Errorf(app.CodeNotFound, "user %q not found", name)
}

func (f *Users) RevokeToken(_ context.Context, id model.ID) (*app.TokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, "revoke "+id.String())
	for _, ts := range f.Tokens {
		for i := range ts {
			if ts[i].ID == id {
				ts[i].RevokedAt = Now
				t := ts[i]
				return &t, nil
			}
		}
	}
	return nil, app.Errorf(app.CodeNotFound, "token %s not found", id)
}

func (f *Users) Audit(_ context.Context, limit int) ([]*model.AuditRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if limit > 0 && len(f.Trail) > limit {
		return f.Trail[:limit], nil
	}
	return f.Trail, nil
}

// SampleUsers are three users, ann's two tokens (one revoked) and a few
// audit records, dated before Now.
func SampleUsers() *Users {
	day := 24 * time.Hour
	id := func(s string) model.ID {
		id, err := model.ParseID(s)
		if err != nil {
			panic(err)
		}
		return id
	}
	return &Users{
		List: []*model.User{
			{Name: "ann", Role: model.RoleMLUser, Credits: 4.25, CreatedAt: Now.Add(-3 * day)},
			{Name: "bo", Role: model.RoleMLEngineer, Credits: 0, CreatedAt: Now.Add(-2 * day)},
			{Name: "root", Role: model.RoleAdmin, Credits: 100, CreatedAt: Now.Add(-9 * day)},
		},
		Tokens: map[string][]app.TokenInfo{
			"ann": {
				{ID: id("0193a1b2-c3d4-7e5f-8a6b-00000000000a"), User: "ann", Name: "ci", CreatedAt: Now.Add(-3 * day)},
				{ID: id("0193a1b2-c3d4-7e5f-8a6b-00000000000b"), User: "ann", Name: "laptop", CreatedAt: Now.Add(-2 * day), RevokedAt: Now.Add(-day)},
			},
		},
		Trail: []*model.AuditRecord{
			{Time: Now.Add(-time.Hour), Actor: "ann", Action: "execute", Target: "program:qa", Outcome: model.OutcomeOK, Detail: "cost $0.0021"},
			{Time: Now.Add(-2 * time.Hour), Actor: "ann", Action: "compile", Target: "program:qa", Outcome: model.OutcomeDenied, Detail: `rule "compile: admin or ml_engineer"`},
			{Time: Now.Add(-day), Actor: "local", Action: "token.revoke", Target: "token:0193a1b2-c3d4-7e5f-8a6b-00000000000b", Outcome: model.OutcomeOK, Detail: "of user ann"},
			{Time: Now.Add(-3 * day), Actor: "local", Action: "user.add", Target: "user:ann", Outcome: model.OutcomeOK, Detail: "role ml_user, credits $5"},
		},
	}
}
