package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/signet-dspy/signet/model/redact"
)

// A supervised process of the bridge (a pool worker, the local LM server)
// is a child: started from the owner's forker thread in its own process
// group, told of our death by a pipe, its stderr drained line by line into
// the log with a tail kept to explain its end, reaped by a waiter that then
// kills what is left of its group.

// parentFDEnv names, in a child's environment, the descriptor of the read
// end of the parent-death pipe (signet_worker/parentwatch.py watches it).
const parentFDEnv = "SIGNET_PARENT_FD"

// parentPipe is a pipe whose write end only this process holds, for its
// whole life (close-on-exec, so no child inherits it). Every child gets the
// read end as fd 3 and exits when a read returns EOF, which happens only
// once we are gone, however we went (kill -9 included). Linux's
// parent-death signal says the same; macOS has none.
var parentPipe = sync.OnceValues(func() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the parent-death pipe: %w", err)
	}
	parentPipeWrite = w
	return r, nil
})

// parentPipeWrite is never closed nor collected (its finalizer would close it).
var parentPipeWrite *os.File

// stdioDrainMax is how long a dead child's pipes may stay open (held by a
// process that escaped its group) before we stop reading them.
const stdioDrainMax = 2 * time.Second

// forker starts processes from one OS thread that lives as long as its
// owner (a Pool, a LocalLM): Linux sends the parent-death signal when the
// thread that forked a child exits, not the process, and Go does end
// threads (one left locked by an exiting goroutine). So no Go thread's end
// may kill a healthy child.
type forker struct {
	reqs chan func()
	done chan struct{}
}

func newForker() *forker {
	f := &forker{reqs: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer close(f.done)
		defer runtime.UnlockOSThread()
		for req := range f.reqs {
			req()
		}
	}()
	return f
}

// start runs cmd.Start on the forker's thread.
func (f *forker) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	f.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// launcher starts a child's process with stdin (nil: /dev/null), stdout,
// stderr and death (the parent-death pipe) as its fds 0 to 3, and
// spec.extra from fd 4: the forker by exec, a zygote by fork.
type launcher interface {
	launch(spec *childSpec, stdin, stdout, stderr, death *os.File) (running, error)
}

// running is a started process as its launcher waits for it.
type running interface {
	pid() int
	// wait blocks until the process has ended and runs dead before its
	// pid can be reused (dead stops every signal to it); it returns the end
	// as exec.Cmd.Wait does (nil for exit status 0).
	wait(dead func()) error
	// exitText is the exit status as os/exec words it.
	exitText() string
}

func (f *forker) launch(spec *childSpec, stdin, stdout, stderr, death *os.File) (running, error) {
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Env = append(spec.env[:len(spec.env):len(spec.env)], parentFDEnv+"=3")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.ExtraFiles = append([]*os.File{death}, spec.extra...) // fd 3, 4...
	cmd.SysProcAttr = sysProcAttr()
	if err := f.start(cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.path, err)
	}
	return execRun{cmd}, nil
}

// execRun is a process the forker started: our child, which we reap.
type execRun struct{ cmd *exec.Cmd }

func (r execRun) pid() int { return r.cmd.Process.Pid }

// wait runs dead once the pid is reaped: signalling the group in between
// is safe only while another member holds the group's id.
func (r execRun) wait(dead func()) error {
	err := r.cmd.Wait()
	dead()
	return err
}

func (r execRun) exitText() string {
	if r.cmd.ProcessState == nil {
		return "still running"
	}
	return r.cmd.ProcessState.String()
}

// close ends the thread once no child started from it runs any more.
func (f *forker) close() {
	close(f.reqs)
	<-f.done
}

// childSpec says how to run a child and where its output goes.
type childSpec struct {
	path string
	args []string
	env  []string
	// stdin gives the child a pipe on fd 0 (child.stdin); else /dev/null.
	stdin bool
	// stdout reads the child's fd 1 until it ends; nil joins fd 1 to stderr.
	stdout func(io.Reader)
	// line is called with each stderr line, secrets redacted (a line
	// longer than maxStderrLine comes in pieces), and says whether the tail
	// keeps it; it logs the line.
	line func(string) bool
	// redact removes secrets from stderr before line sees it: user code
	// writes to fd 2 directly, past anything the child redacts itself.
	redact *redact.Redactor
	// logf logs a line about the child.
	logf func(format string, args ...any)
	// exited runs once the child is reaped and its output read, before
	// child.exited is closed.
	exited func(werr error)
	// extra are more descriptors for the child, from fd 4 (exec only).
	extra []*os.File
}

// child is one process. Its fields are set by start, before its goroutines
// run.
type child struct {
	spec   childSpec
	run    running
	pid    int
	stdin  *os.File      // our write end, when spec.stdin
	tail   lineTail      // its last stderr lines
	exited chan struct{} // closed once reaped, drained and spec.exited has run

	mu          sync.Mutex
	reaped      bool   // cmd.Wait returned: its pid may be reused, never signal it
	killReason  string // why we killed it; the first reason wins
	killFailure bool   // the kill counts as a failure of the child
}

func newChild(spec childSpec) *child {
	return &child{spec: spec, exited: make(chan struct{})}
}

// stream is one of a child's output pipes and the reader that ends with it.
type stream struct {
	file *os.File
	done chan struct{}
}

// start starts the process through l and the goroutines that serve it.
// On error nothing runs.
func (c *child) start(l launcher) error {
	deathR, err := parentPipe()
	if err != nil {
		return err
	}
	var files []*os.File // every end, closed on error
	pipe := func() (r, w *os.File) {
		if err != nil {
			return nil, nil
		}
		if r, w, err = os.Pipe(); err == nil {
			files = append(files, r, w)
		}
		return r, w
	}
	var inR, outR, outW *os.File
	if c.spec.stdin {
		inR, c.stdin = pipe()
	}
	errR, errW := pipe()
	if c.spec.stdout != nil {
		outR, outW = pipe()
	} else {
		outW = errW
	}
	if err != nil {
		closeFiles(files)
		return fmt.Errorf("creating pipes: %w", err)
	}
	run, err := l.launch(&c.spec, inR, outW, errW, deathR)
	if err != nil {
		closeFiles(files)
		return err
	}
	// The child has its ends now; ours would keep its pipes open.
	closeFiles([]*os.File{inR, outW, errW})
	c.run, c.pid = run, run.pid()
	streams := []stream{{errR, make(chan struct{})}}
	go c.drain(streams[0])
	if outR != nil {
		s := stream{outR, make(chan struct{})}
		streams = append(streams, s)
		go func() {
			defer close(s.done)
			c.spec.stdout(outR)
		}()
	}
	go c.wait(streams)
	return nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// maxStderrLine bounds the stderr line redacted whole; a longer one is
// cut in pieces of this size (a secret across a cut is not seen).
const maxStderrLine = 256 << 10

// drain hands stderr to spec.line line by line, secrets redacted, keeping
// a tail.
func (c *child) drain(s stream) {
	defer close(s.done)
	br := bufio.NewReaderSize(s.file, 16<<10)
	var long []byte // a line longer than the reader's buffer, so far
	for {
		piece, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		line := piece
		if full || long != nil {
			long = append(long, piece...)
			line = long
		}
		if len(line) > 0 && (!full || len(long) >= maxStderrLine) {
			text := string(c.spec.redact.Bytes(bytes.TrimRight(line, "\r\n")))
			if c.spec.line(text) {
				c.tail.add(text)
			}
			long = long[:0:0]
			if !full {
				long = nil
			}
		}
		if err != nil && !full {
			return
		}
	}
}

// wait reaps the process, cleans its group up and lets its readers finish.
func (c *child) wait(streams []stream) {
	werr := c.run.wait(func() {
		// Whatever it started shares the group and must not outlive it (nor
		// hold its pipes open).
		signalGroup(c.pid, syscall.SIGKILL)
		c.mu.Lock()
		c.reaped = true
		c.mu.Unlock()
	})
	// Let the readers take what it wrote before it ended; a process that
	// escaped the group could hold a pipe open, so not forever.
	for _, s := range streams {
		select {
		case <-s.done:
		case <-time.After(stdioDrainMax):
			s.file.Close()
			<-s.done
		}
		s.file.Close()
	}
	if c.stdin != nil {
		// Closing unblocks a Write stuck on a full pipe (os.File allows it).
		c.stdin.Close()
	}
	if c.spec.exited != nil {
		c.spec.exited(werr)
	}
	close(c.exited)
}

// signal sends sig to the process group unless the process was reaped.
func (c *child) signal(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		signalGroup(c.pid, sig)
	}
}

// kill SIGKILLs the process group; the waiter then reaps it. It says
// whether reason is the one that stands (the first).
func (c *child) kill(reason string, failure bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.killReason == ""
	if first {
		c.killReason, c.killFailure = reason, failure
	}
	if !c.reaped {
		c.spec.logf("killing the process group: %s", reason)
		signalGroup(c.pid, syscall.SIGKILL)
	}
	return first
}

// killed says whether we killed the process (rather than it exiting).
func (c *child) killed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killReason != ""
}

// failure says whether the way the process ended counts against its place.
func (c *child) failure() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killReason == "" || c.killFailure
}

// endText says how the process ended: "killed: why" or "exited: status".
func (c *child) endText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killReason != "" {
		return "killed: " + c.killReason
	}
	return "exited: " + c.exitText()
}

// exitText is the process's exit status as os/exec words it.
func (c *child) exitText() string {
	return c.run.exitText()
}

// lineLog writes a bridge log (Config.Log, LocalLMConfig.Log) one whole
// line per Write, so that the lines of concurrent processes never mix.
type lineLog struct {
	mu sync.Mutex
	w  io.Writer
}

// printf writes one line: time, what, the pid when there is one, and the message.
func (l *lineLog) printf(what string, pid int, format string, args ...any) {
	s := time.Now().Format("2006-01-02T15:04:05.000") + " " + what
	if pid != 0 {
		s += " pid " + strconv.Itoa(pid)
	}
	s += ": " + fmt.Sprintf(format, args...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write([]byte(s))
}
