package config

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/model/datafile"
)

// Limits bound what one file, request or process may take, so that no input
// grows memory or time without end. Every field is optional; Limits()
// fills the defaults.
type Limits struct {
	// ImportLine is the longest line (JSONL, CSV) or record (JSON) a
	// dataset file may hold; the import streams, so memory stays near this.
	ImportLine ByteSize `yaml:"import_line,omitempty"`
	// ProgramFile is the largest program file (YAML/JSON) read.
	ProgramFile ByteSize `yaml:"program_file,omitempty"`
	// Input is the largest input of one execution, JSON-encoded.
	Input ByteSize `yaml:"input,omitempty"`
	// SpanPayload is the largest payload (prompt, completion, fields) one
	// span keeps; longer ones are cut with a marker saying how much.
	SpanPayload ByteSize `yaml:"span_payload,omitempty"`
	// WorkerMemory is a worker's resident memory cap: a worker over it is
	// recycled and its job retried on a fresh one.
	WorkerMemory ByteSize `yaml:"worker_memory,omitempty"`
	// Queue is how many jobs may wait for a slot before new ones are refused.
	Queue int `yaml:"queue,omitempty"`
}

// Default limits.
const (
	DefaultImportLine   ByteSize = datafile.DefaultMaxRecord
	DefaultProgramFile  ByteSize = 4 << 20
	DefaultInput        ByteSize = 8 << 20
	DefaultSpanPayload  ByteSize = 256 << 10
	DefaultWorkerMemory ByteSize = 2 << 30
	DefaultQueue                 = 10000
	// DefaultExecutionTimeout bounds one execution unless the program or
	// the request says otherwise.
	DefaultExecutionTimeout = 5 * time.Minute
)

// MaxWorkers is the most workers a pool may have on this machine: each is a
// Python process with DSPy imported (about 200 MiB), and more than a few per
// core only queue for the CPU.
func MaxWorkers() int { return max(4, 4*runtime.NumCPU()) }

// Limits are the configured limits with defaults filled in.
func (c *Config) Limits() Limits {
	l := c.Limit
	def := func(v *ByteSize, d ByteSize) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.ImportLine, DefaultImportLine)
	def(&l.ProgramFile, DefaultProgramFile)
	def(&l.Input, DefaultInput)
	def(&l.SpanPayload, DefaultSpanPayload)
	def(&l.WorkerMemory, DefaultWorkerMemory)
	if l.Queue == 0 {
		l.Queue = DefaultQueue
	}
	return l
}

// ExecutionTimeoutOr is the configured execution timeout, or
// DefaultExecutionTimeout.
func (c *Config) ExecutionTimeoutOr() time.Duration {
	if c.ExecutionTimeout == "" {
		return DefaultExecutionTimeout
	}
	d, _ := time.ParseDuration(c.ExecutionTimeout) // checked by Load
	return d
}

// check validates the limits read from path.
func (c *Config) checkLimits(path string) error {
	if c.ExecutionTimeout != "" {
		if d, err := time.ParseDuration(c.ExecutionTimeout); err != nil || d <= 0 {
			return fmt.Errorf("%s: execution_timeout: %q is not a positive duration such as 5m or 30s", path, c.ExecutionTimeout)
		}
	}
	if c.Limit.Queue < 0 {
		return fmt.Errorf("%s: limits: queue: %d is negative", path, c.Limit.Queue)
	}
	if c.Workers < 0 || c.Workers > MaxWorkers() {
		return fmt.Errorf("%s: workers: %d is out of range (1 to %d on this machine)", path, c.Workers, MaxWorkers())
	}
	if c.Threads < 0 || c.Threads > 64 {
		return fmt.Errorf("%s: threads: %d is out of range (1 to 64)", path, c.Threads)
	}
	if c.Concurrency < 0 || c.Concurrency > 1024 {
		return fmt.Errorf("%s: concurrency: %d is out of range (1 to 1024)", path, c.Concurrency)
	}
	return nil
}

// ByteSize is a size in bytes, written in YAML as a number of bytes or
// with a unit: 512KiB, 16MiB, 2GiB (or KB, MB, GB, also powers of 1024).
type ByteSize int64

// ParseByteSize reads "16MiB", "2GB", "512k" or "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
		"mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 16MiB, 512KiB or 2GiB", s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalText reads a size written as text.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText writes the size with the largest unit that divides it.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b ByteSize) String() string { return model.FormatSize(int64(b)) }
