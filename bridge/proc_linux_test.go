package bridge

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/signet-dspy/signet/internal/testenv"
)

func withoutParentDeathSignal() { parentDeathSignal = 0 }

// exited says whether pid is gone: no such process, or a zombie (an
// orphan's lingers until init reaps it).
func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || bytes.Contains(b, []byte(") Z "))
}

// TestParentDeathSignal: Pdeathsig alone ends the workers of a pool whose
// process is killed. The fake worker reads no parent-death pipe and keeps
// running after EOF on stdin, so nothing else can end it.
func TestParentDeathSignal(t *testing.T) {
	noOrphans(t, true, func(t *testing.T) []int {
		p, err := Start(context.Background(), Config{Python: testenv.Python(t), WorkerDir: os.Getenv("SIGNET_BRIDGE_WORKERDIR"),
			Workers: 2, Env: []string{"FAKE_IGNORE_EOF=1"}})
		if err != nil {
			t.Fatal(err)
		}
		return poolPIDs(p)
	}, "SIGNET_BRIDGE_WORKERDIR="+fakeWorkerDir(t))
}
