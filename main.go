// Signet is a terminal workbench for DSPy programs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/signet-dspy/signet/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
