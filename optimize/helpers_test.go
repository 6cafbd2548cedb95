package optimize

import (
	"context"
	"testing"

	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/store"
)

func TestMain(m *testing.M) { testenv.Main(m, "optimize") }

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
	})
	return st
}
