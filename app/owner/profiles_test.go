package owner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/config"
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

// TestLocalModelIsFreeUnlessPriced: the local model's calls cost 0, known,
// unless a profile of it gives a price (then users' credits are debited).
func TestLocalModelIsFreeUnlessPriced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	body := "profiles:\n  team-local:\n    model: signet/local\n    price_in: 0.5\n    price_out: 1.5\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, free := range map[string]bool{"local": true, "team-local": false} {
		p, err := cfg.Profile(name)
		if err != nil || !p.IsLocal() {
			t.Fatalf("%s: %+v, %v", name, p, err)
		}
		if got := localFree(p); got != free {
			t.Errorf("%s: free %v, want %v", name, got, free)
		}
	}
}
