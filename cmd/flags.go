package cmd

import (
	"fmt"
	"math"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/signet-dspy/signet/config"
)

// flagRange is the range of a numeric flag when it is given; hi 0 is no
// upper bound.
type flagRange struct {
	lo, hi float64
	note   string
}

// flagRanges holds every numeric flag of every command, by name: a flag
// means the same and takes the same values wherever it appears
// (TestEveryNumericFlagHasARange keeps the table whole).
var flagRanges = map[string]func() flagRange{
	"version": func() flagRange {
		return flagRange{lo: 1, note: "versions start at 1; leave --version out for the newest"}
	},
	"limit":       func() flagRange { return flagRange{lo: 0, note: "0 = all"} },
	"threads":     func() flagRange { return flagRange{lo: 1, hi: 64} },
	"concurrency": func() flagRange { return flagRange{lo: 1, hi: 1024} },
	"workers": func() flagRange {
		return flagRange{lo: 1, hi: float64(config.MaxWorkers()), note: "at most 4 per core on this machine"}
	},
	"capacity":   func() flagRange { return flagRange{lo: 1, hi: 4096, note: "jobs a pool runs at once"} },
	"budget":     func() flagRange { return flagRange{lo: 0, note: "USD; 0 = none"} },
	"set-budget": func() flagRange { return flagRange{lo: 0, note: "USD; 0 removes the cap"} },
	"credits":    func() flagRange { return flagRange{lo: 0, hi: 1e12, note: "USD"} },
	"seed":       func() flagRange { return flagRange{lo: 0, hi: 1<<32 - 1} },
	"ready-fd": func() flagRange {
		return flagRange{lo: 3, note: "a pipe the starting command passes, past stdin, stdout and stderr"}
	},
}

// numericFlag says whether f holds a number.
func numericFlag(f *pflag.Flag) bool {
	switch f.Value.Type() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return true
	}
	return false
}

// checkFlagRanges refuses a numeric flag given out of its range, naming
// the flag, the value and the range: the one check every command's numbers
// go through before it runs.
func checkFlagRanges(c *cobra.Command) error {
	var err error
	c.Flags().Visit(func(f *pflag.Flag) {
		if err != nil || !numericFlag(f) {
			return
		}
		rg, ok := flagRanges[f.Name]
		if c.Name() == "serve" && f.Name == "workers" {
			// serve --workers 0: no workers of its own, only pools that join
			// its NATS queue (serve says so without one).
			rg = func() flagRange {
				return flagRange{lo: 0, hi: float64(config.MaxWorkers()), note: "0: none, for an owner whose NATS queue pools serve; at most 4 per core on this machine"}
			}
		}
		if !ok {
			err = usagef("--%s: no range is known for this flag (a bug: add it to flagRanges)", f.Name)
			return
		}
		r := rg()
		v, perr := strconv.ParseFloat(f.Value.String(), 64)
		if perr != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < r.lo || (r.hi != 0 && v > r.hi) {
			want := fmt.Sprintf("at least %g", r.lo)
			if r.hi != 0 {
				want = fmt.Sprintf("%g to %g", r.lo, r.hi)
			}
			if r.note != "" {
				want += "; " + r.note
			}
			err = usagef("%s: --%s %s is out of range (%s)", c.CommandPath(), f.Name, f.Value.String(), want)
		}
	})
	return err
}
