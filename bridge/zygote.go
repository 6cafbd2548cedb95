package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The zygote (signet_worker/zygote.py, docs/protocol.md "The zygote") is a
// Python process that has imported the worker and DSPy once; the pool's
// workers are forked from it, so that they start without importing and
// share its pages. It is a child of the bridge like a worker (same
// supervision, group, parent-death pipe); its children are not ours to
// reap, so it reports each one's pidfd and reaps it when we ask (see
// forked.wait).

// zygoteEnv turns the zygote off when "0".
const zygoteEnv = "SIGNET_ZYGOTE"

// zygote is one running zygote process and our end of its socket.
type zygote struct {
	*child
	conn    *net.UnixConn
	timeout time.Duration // bounds one request and its answer
	mu      sync.Mutex    // one request and its answer at a time
}

// zygoteReply is any message of the zygote.
type zygoteReply struct {
	Ready   bool   `json:"ready"`
	LiteLLM bool   `json:"litellm"` // with ready: LiteLLM is loaded
	PID     int    `json:"pid"`
	Code    *int   `json:"code"`
	Signal  *int   `json:"signal"`
	Error   string `json:"error"`
}

// useZygote says whether the pool's workers fork from a zygote: on Linux,
// unless SIGNET_ZYGOTE=0 or the worker package has none (a test's fake).
func useZygote(dir string) bool {
	if !zygoteSupported || os.Getenv(zygoteEnv) == "0" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "signet_worker", "zygote.py"))
	return err == nil
}

// startZygote starts a zygote and waits until it has imported the worker.
// On error nothing runs.
func (p *Pool) startZygote(ctx context.Context) (*zygote, error) {
	ours, theirs, err := zygoteSocketpair()
	if err != nil {
		return nil, err
	}
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, fmt.Errorf("zygote socket: %w", err)
	}
	z := &zygote{conn: fc.(*net.UnixConn), timeout: p.cfg.StartTimeout}
	args := []string{"-m", "signet_worker.zygote"}
	if p.cfg.PreloadLiteLLM {
		args = append(args, "--litellm")
	}
	z.child = newChild(childSpec{
		path: p.cfg.Python, args: args, env: p.env, extra: []*os.File{theirs},
		line: func(s string) bool {
			p.log.printf("zygote", z.pid, "stderr: %s", s)
			return true
		},
		redact: p.cfg.Redact,
		logf:   func(format string, args ...any) { p.log.printf("zygote", z.pid, format, args...) },
		// Whoever waits on the socket learns at once that nobody answers.
		exited: func(error) { z.conn.Close() },
	})
	err = z.start(p.forker)
	theirs.Close() // the zygote has it; ours would hide its death from a read
	if err != nil {
		z.conn.Close()
		return nil, fmt.Errorf("zygote: %w", err)
	}
	begin := time.Now()
	stop := context.AfterFunc(ctx, func() { z.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	z.conn.SetReadDeadline(begin.Add(p.cfg.StartTimeout))
	m, _, err := z.read()
	z.conn.SetReadDeadline(time.Time{})
	if err == nil && !m.Ready {
		err = fmt.Errorf("said %+v before it was ready", m)
	}
	if err != nil {
		z.kill("handshake failed", true)
		<-z.exited
		msg := fmt.Sprintf("zygote (pid %d) did not become ready: %v (%s)", z.pid, err, z.endText())
		if tail := z.tail.last(5); tail != "" {
			msg += "; its last stderr lines:\n" + tail
		}
		return nil, errors.New(msg)
	}
	preloaded := ""
	if m.LiteLLM {
		preloaded = " (LiteLLM preloaded)"
	}
	p.log.printf("zygote", z.pid, "ready in %s%s", time.Since(begin).Round(time.Millisecond), preloaded)
	return z, nil
}

// read is the zygote's next message and the descriptors it carries.
func (z *zygote) read() (zygoteReply, []int, error) {
	var m zygoteReply
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := z.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return m, nil, err
	}
	var fds []int
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	for _, c := range cmsgs {
		got, _ := unix.ParseUnixRights(&c)
		for _, fd := range got {
			unix.CloseOnExec(fd)
		}
		fds = append(fds, got...)
	}
	if err == nil && n == 0 {
		err = errors.New("the zygote closed its socket")
	}
	if err == nil {
		if err = json.Unmarshal(buf[:n], &m); err != nil {
			err = fmt.Errorf("bad message %q: %w", buf[:n], err)
		}
	}
	if err == nil && m.Error != "" {
		err = errors.New(m.Error)
	}
	if err != nil {
		closeFDs(fds)
		return m, nil, err
	}
	return m, fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// request sends one request with files and returns the answer. A zygote
// that fails to answer in time is killed: its state is unknown.
func (z *zygote) request(req map[string]any, files ...*os.File) (zygoteReply, []int, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return zygoteReply{}, nil, err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.conn.SetDeadline(time.Now().Add(z.timeout))
	defer z.conn.SetDeadline(time.Time{})
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err = z.conn.WriteMsgUnix(data, oob, nil); err == nil {
		var m zygoteReply
		var got []int
		if m, got, err = z.read(); err == nil || m.Error != "" {
			return m, got, err
		}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		z.kill("no answer to a "+fmt.Sprint(req["op"])+" request within "+z.timeout.String(), true)
	}
	return zygoteReply{}, nil, err
}

// launch forks a worker with these descriptors (launcher).
func (z *zygote) launch(spec *childSpec, stdin, stdout, stderr, death *os.File) (running, error) {
	if stdin == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		defer null.Close()
		stdin = null
	}
	env := map[string]string{}
	for _, kv := range spec.env { // later entries win, as in exec
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env[parentFDEnv] = "3"
	m, fds, err := z.request(map[string]any{"op": "fork", "env": env}, stdin, stdout, stderr, death)
	if err != nil {
		return nil, fmt.Errorf("forking from the zygote (pid %d): %w", z.pid, err)
	}
	if len(fds) != 1 || m.PID <= 0 {
		closeFDs(fds)
		// A child without its pidfd cannot be followed safely: the zygote is broken.
		z.kill(fmt.Sprintf("answered a fork with pid %d and %d descriptors", m.PID, len(fds)), true)
		return nil, fmt.Errorf("forking from the zygote (pid %d): answered pid %d with %d descriptors, not a pidfd", z.pid, m.PID, len(fds))
	}
	return &forked{z: z, pidNum: m.PID, pidfd: fds[0]}, nil
}

// forked is a worker the zygote forked: not our child, so it is followed
// through its pidfd, which the zygote opened while the pid could not be
// reused, and reaped by the zygote when we ask, once we no longer signal
// it. If the zygote is gone, init reaps it and its status is lost.
type forked struct {
	z      *zygote
	pidNum int
	pidfd  int

	mu   sync.Mutex
	text string // the exit status, once reaped
}

func (f *forked) pid() int { return f.pidNum }

func (f *forked) wait(dead func()) error {
	defer unix.Close(f.pidfd)
	if err := waitPidfd(f.pidfd); err != nil {
		// Never reap what we cannot see ended.
		dead()
		f.setText("unknown: " + err.Error())
		return err
	}
	dead()
	m, _, err := f.z.request(map[string]any{"op": "reap", "pid": f.pidNum})
	var werr error
	switch {
	case err != nil:
		werr = fmt.Errorf("its exit status is lost: its zygote did not reap it: %w", err)
		f.setText("exit status unknown (its zygote is gone)")
	case m.Signal != nil:
		werr = &forkedExit{"signal: " + syscall.Signal(*m.Signal).String()}
	case m.Code != nil && *m.Code != 0:
		werr = &forkedExit{fmt.Sprintf("exit status %d", *m.Code)}
	default:
		f.setText("exit status 0")
	}
	if e, ok := werr.(*forkedExit); ok {
		f.setText(e.text)
	}
	return werr
}

func (f *forked) setText(s string) {
	f.mu.Lock()
	f.text = s
	f.mu.Unlock()
}

func (f *forked) exitText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.text == "" {
		return "still running"
	}
	return f.text
}

// forkedExit is a forked worker's unsuccessful end, worded as os/exec
// words a child's.
type forkedExit struct{ text string }

func (e *forkedExit) Error() string { return e.text }

// stop asks the zygote to exit (it does when its socket closes), and kills
// it after grace.
func (z *zygote) stop(grace time.Duration) {
	z.conn.Close()
	select {
	case <-z.exited:
	case <-time.After(grace):
		z.kill("did not exit after its socket closed", false)
		<-z.exited
	}
}

// errNoZygote: no zygote is ready to fork a worker.
var errNoZygote = errors.New("no zygote")

// ZygoteStatus is the state of the process a pool's workers fork from.
type ZygoteStatus struct {
	State     State
	PID       int // 0 while none is ready
	Restarts  int
	LastError string
}

// ZygoteStatus is the zygote's state; ok false when the workers start the
// plain way (SIGNET_ZYGOTE=0, macOS).
func (p *Pool) ZygoteStatus() (st ZygoteStatus, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.forks {
		return st, false
	}
	st = ZygoteStatus{State: p.zsup.state, Restarts: p.zsup.restarts, LastError: p.zsup.lastErr}
	if p.zyg != nil {
		st.PID = p.zyg.pid
	}
	return st, true
}

// zygote is the ready zygote, or nil.
func (p *Pool) zygote() *zygote {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.zyg
}

// superviseZygote starts the zygote (waiting for it, so that the first
// workers fork from it) and keeps one running until zclosing; while none
// is ready, workers start the plain way.
func (p *Pool) superviseZygote(ctx context.Context) {
	logf := func(format string, args ...any) { p.log.printf("zygote", 0, format, args...) }
	p.zsup = supervisor{lock: &p.mu, changed: p.broadcastLocked, closing: p.zclosing,
		// The real clock: a test's held clock drives the workers' restarts only.
		backoff: p.cfg.backoff, clock: realClock{}, state: StateStarting, logf: logf}
	l := life[*zygote]{
		spawn: func() (*zygote, error) { return p.startZygote(p.ctx) },
		watch: func(z *zygote) (bool, string) {
			select {
			case <-z.exited:
			case <-p.zclosing:
				z.stop(shutdownGrace)
			}
			why := z.endText()
			if tail := z.tail.last(5); tail != "" && !z.killed() {
				why += "; its last stderr lines:\n" + tail
			}
			if !isClosed(p.zclosing) {
				p.log.printf("zygote", z.pid, "%s; workers start the plain way until it is back", why)
			}
			return z.failure(), "zygote " + why
		},
		attach: func(z *zygote) { p.zyg = z },
		detach: func() { p.zyg = nil },
	}
	z, err := p.startZygote(ctx)
	if err != nil {
		logf("%v; workers start the plain way until it is back", err)
	} else {
		ready(&p.zsup, l, z) // before the first workers start
	}
	go func() {
		defer close(p.zdone)
		if err != nil {
			p.zsup.lock.Lock()
			p.zsup.lastErr = err.Error()
			delay := p.zsup.fails.next(p.zsup.clock.Now(), p.zsup.backoff)
			p.zsup.lock.Unlock()
			var ok bool
			if z, ok = restart(&p.zsup, l, delay); !ok {
				return
			}
			ready(&p.zsup, l, z)
		}
		supervise(&p.zsup, l, z)
	}()
}
