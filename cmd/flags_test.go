package cmd

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestEveryNumericFlagHasARange: each numeric flag of each command is in
// flagRanges, and a value below its range is a usage error naming it.
func TestEveryNumericFlagHasARange(t *testing.T) {
	type numFlag struct {
		path []string
		name string
	}
	var flags []numFlag
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if numericFlag(f) {
				flags = append(flags, numFlag{path, f.Name})
			}
		})
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk((&cli{}).rootCommand(), nil)
	if len(flags) < 10 {
		t.Fatalf("only %d numeric flags found", len(flags))
	}
	for _, nf := range flags {
		if _, ok := flagRanges[nf.name]; !ok {
			t.Errorf("signet %s --%s has no range in flagRanges", strings.Join(nf.path, " "), nf.name)
			continue
		}
		c, _, err := (&cli{}).rootCommand().Find(nf.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Flags().Set(nf.name, "-1000000"); err != nil {
			t.Fatal(err)
		}
		err = checkFlagRanges(c)
		if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), "--"+nf.name+" -1") || !strings.Contains(err.Error(), "is out of range") {
			t.Errorf("signet %s --%s -1000000: %v, want a usage error naming the flag", strings.Join(nf.path, " "), nf.name, err)
		}
	}
}
