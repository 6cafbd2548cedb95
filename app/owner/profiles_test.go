package owner

import (
	"slices"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
)

// TestLMProfilesBothSides: the owner lists its config's profiles and the
// built-in ones, the default marked and a key that is not set named; a
// client over the socket gets the same list.
func TestLMProfilesBothSides(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, false)
	cl := api.NewClient(api.SocketPath(o.Dir()))
	for _, svc := range []app.Service{o, cl} {
		ps, err := svc.LMProfiles(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		at := func(name string) app.LMProfile {
			i := slices.IndexFunc(ps, func(p app.LMProfile) bool { return p.Name == name })
			if i < 0 {
				t.Fatalf("%T: no profile %q in %+v", svc, name, ps)
			}
			return ps[i]
		}
		if p := at("keyed"); p.Model != "openai/gpt-4o-mini" || p.KeyUnset != "SIGNET_OWNER_TEST_UNSET_KEY" || p.Default {
			t.Fatalf("%T: keyed is %+v", svc, p)
		}
		if p := at("priced"); p.Model != "signet/test" || p.KeyUnset != "" {
			t.Fatalf("%T: priced is %+v", svc, p)
		}
		if defaults := slices.IndexFunc(ps, func(p app.LMProfile) bool { return p.Default }); defaults < 0 {
			t.Fatalf("%T: no default among %+v", svc, ps)
		}
		if !slices.IsSortedFunc(ps, func(a, b app.LMProfile) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("%T: not in name order: %+v", svc, ps)
		}
	}
}
