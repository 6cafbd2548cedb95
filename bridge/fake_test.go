package bridge

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/bridge/wire"
)

// fakeWorker is a stand-in signet_worker speaking the protocol without
// DSPy, for what the real worker cannot be made to do on purpose: write
// garbage on the protocol stream, state another protocol version. Methods:
// ping, cancel, shutdown as in docs/protocol.md; echo (result = params);
// sleep {"ms", "ignore_cancel"} (a "started" event, then the sleep); events
// {"n"} (n span-like events, then a result); garble (a non-frame line);
// crash (exit 3). It reads no parent-death pipe.
const fakeWorker = `
import json, os, sys, threading, time
out = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)
lock = threading.Lock()
def send(obj):
    line = (json.dumps(obj) + "\n").encode()
    with lock:
        out.write(line)
send({"id": 0, "event": "hello", "data": {"protocol": int(os.environ.get("FAKE_PROTOCOL", "{{PROTOCOL}}")),
      "dspy": "fake", "python": sys.version.split()[0], "pid": os.getpid(),
      "threads": int(os.environ.get("SIGNET_WORKER_THREADS", "8"))}})
print("fake worker up", file=sys.stderr, flush=True)
cancelled = set()
running = {}
def work(rid, method, params):
    try:
        if method == "echo":
            send({"id": rid, "result": params})
        elif method == "sleep":
            send({"id": rid, "event": "started", "data": {}})
            end = time.time() + params.get("ms", 0) / 1000
            while time.time() < end:
                if rid in cancelled and not params.get("ignore_cancel"):
                    send({"id": rid, "error": {"code": "cancelled", "message": "cancelled", "retryable": False}})
                    return
                time.sleep(0.005)
            send({"id": rid, "result": {"slept": params.get("ms", 0)}})
        elif method == "events":
            for i in range(params.get("n", 0)):
                send({"id": rid, "event": "span", "data": {"i": i}})
            send({"id": rid, "result": {"n": params.get("n", 0)}})
        elif method == "garble":
            with lock:
                out.write(b"this is not a frame\n")
        elif method == "crash":
            os._exit(3)
        else:
            send({"id": rid, "error": {"code": "internal", "message": "unknown method " + method, "retryable": False}})
    finally:
        running.pop(rid, None)
for raw in sys.stdin:
    req = json.loads(raw)
    rid, method, params = req["id"], req["method"], req.get("params") or {}
    if method == "ping":
        send({"id": rid, "result": {"pid": os.getpid(), "served": 0, "inflight": len(running)}})
    elif method == "cancel":
        t = params["target"]
        cancelled.add(t)
        send({"id": rid, "result": {"cancelled": t in running}})
    elif method == "shutdown":
        while running:
            time.sleep(0.01)
        send({"id": rid, "result": {}})
        sys.exit(0)
    else:
        th = threading.Thread(target=work, args=(rid, method, params), daemon=True)
        running[rid] = th
        th.start()
if os.environ.get("FAKE_IGNORE_EOF"):
    time.sleep(3600)  # only the parent-death signal ends it now
`

// fakeWorkerDir writes the fake worker package and returns the directory
// to use as Config.WorkerDir.
func fakeWorkerDir(t testing.TB) string {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "signet_worker")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"__init__.py": "", "__main__.py": strings.Replace(fakeWorker, "{{PROTOCOL}}", strconv.Itoa(wire.Protocol), 1)} {
		if err := os.WriteFile(filepath.Join(pkg, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
