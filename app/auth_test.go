package app

import (
	"errors"
	"testing"

	"github.com/signet-dspy/signet/model"
)

// Every rule of the policy, allow and deny.
func TestAuthorize(t *testing.T) {
	admin := &Principal{Name: "ada", Role: model.RoleAdmin}
	eng := &Principal{Name: "eve", Role: model.RoleMLEngineer}
	user := &Principal{Name: "ann", Role: model.RoleMLUser, Credits: 1}
	broke := &Principal{Name: "bob", Role: model.RoleMLUser}
	roleless := &Principal{Name: "rex", Credits: 1}
	prod := Resource{Kind: "program", Name: "qa", Status: model.Production}
	draft := Resource{Kind: "program", Name: "qa", Status: model.Draft}
	annsRun := Resource{Kind: "execution", Name: "x", Owner: "ann"}
	localRun := Resource{Kind: "execution", Name: "y"}
	shared := Resource{Kind: "program", Name: "qa", Shared: true}
	users := Resource{Kind: "user", Name: "ann"}
	for _, tt := range []struct {
		name   string
		p      *Principal
		action Action
		res    Resource
		want   error
	}{
		{"local does anything", Local, ActionManage, users, nil},
		{"admin manages", admin, ActionManage, users, nil},
		{"admin reads anyone's", admin, ActionRead, annsRun, nil},
		{"admin runs a draft", admin, ActionExecute, draft, nil},
		{"user reads own", user, ActionRead, annsRun, nil},
		{"user reads a shared record", user, ActionRead, shared, nil},
		{"user reads another's", user, ActionRead, localRun, ErrForbidden},
		{"engineer reads another's", eng, ActionRead, annsRun, ErrForbidden},
		{"user runs production", user, ActionExecute, prod, nil},
		{"user runs a draft", user, ActionExecute, draft, ErrForbidden},
		{"user without credits", broke, ActionExecute, prod, ErrPaymentRequired},
		{"user without credits, a draft", broke, ActionExecute, draft, ErrForbidden},
		{"engineer runs", eng, ActionExecute, prod, ErrForbidden},
		{"engineer compiles", eng, ActionCompile, prod, nil},
		{"admin compiles", admin, ActionCompile, prod, nil},
		{"user compiles", user, ActionCompile, prod, ErrForbidden},
		{"user manages", user, ActionManage, users, ErrForbidden},
		{"engineer manages", eng, ActionManage, users, ErrForbidden},
		{"engineer writes", eng, ActionWrite, prod, ErrForbidden},
		{"user rates own run", user, ActionRate, annsRun, nil},
		{"user rates another's run", user, ActionRate, localRun, ErrForbidden},
		{"engineer rates another's run", eng, ActionRate, annsRun, ErrForbidden},
		{"admin rates anyone's run", admin, ActionRate, annsRun, nil},
		{"user sets a split", user, ActionWrite, prod, ErrForbidden},
		{"user cancels own", user, ActionCancel, annsRun, nil},
		{"engineer cancels another's", eng, ActionCancel, annsRun, ErrForbidden},
		{"user cancels the local user's", user, ActionCancel, localRun, ErrForbidden},
		{"admin cancels anyone's", admin, ActionCancel, annsRun, nil},
		{"engineer administers", eng, ActionAdminister, Resource{Kind: "pool", Name: "*"}, ErrForbidden},
		{"admin administers", admin, ActionAdminister, Resource{Kind: "pool", Name: "*"}, nil},
		// A principal without a role (none the store knows) reads shared
		// records and nothing else.
		{"role-less reads a shared record", roleless, ActionRead, shared, nil},
		{"role-less reads another's", roleless, ActionRead, annsRun, ErrForbidden},
		{"role-less runs", roleless, ActionExecute, prod, ErrForbidden},
		{"role-less compiles", roleless, ActionCompile, prod, ErrForbidden},
		{"role-less cancels", roleless, ActionCancel, annsRun, ErrForbidden},
		{"role-less writes", roleless, ActionWrite, prod, ErrForbidden},
		{"role-less manages", roleless, ActionManage, users, ErrForbidden},
		{"role-less administers", roleless, ActionAdminister, Resource{Kind: "pool", Name: "*"}, ErrForbidden},
	} {
		err := Authorize(tt.p, tt.action, tt.res)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
