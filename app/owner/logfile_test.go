package owner

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenLogMovesABigLogAside: a log past LogCap goes to .1 (replacing the
// one before) when the next process opens it; a smaller one is appended to.
func TestOpenLogMovesABigLogAside(t *testing.T) {
	p := filepath.Join(t.TempDir(), LogFile)
	write := func(f *os.File, n int) {
		t.Helper()
		if _, err := f.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	f, err := OpenLog(p)
	if err != nil {
		t.Fatal(err)
	}
	write(f, 100)
	f, _ = OpenLog(p)
	write(f, LogCap)
	if st, _ := os.Stat(p); st.Size() != LogCap+100 {
		t.Fatalf("a log under the cap was not appended to: %d bytes", st.Size())
	}
	f, _ = OpenLog(p)
	write(f, 7)
	if st, _ := os.Stat(p); st.Size() != 7 {
		t.Fatalf("the log past the cap was not moved aside: %d bytes", st.Size())
	}
	if st, err := os.Stat(p + ".1"); err != nil || st.Size() != LogCap+100 {
		t.Fatalf("the moved log: %v %v", st, err)
	}
}
