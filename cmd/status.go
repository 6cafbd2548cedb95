package cmd

import (
	"fmt"
	"io"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/tui/format"
	"github.com/signet-dspy/signet/tui/live"
)

// printBeyondPool is what `signet status` says beyond the owner's own pool
// (issue 21), a line each: the endpoints of the LM profiles that list
// several, the NATS job queue and the pools serving it. What other
// processes reported (names, hosts, errors) is escaped for the terminal.
func printBeyondPool(w io.Writer, st *app.Status) {
	for _, e := range st.LMEndpoints {
		fmt.Fprintf(w, "endpoint   %s %s: %s, %d in flight, %s calls, %d errors (%d 429s), %s tokens in, %s out",
			e.Profile, e.APIBase, orDash(e.State), e.Inflight, format.Thousands(e.Calls), e.Errors, e.RateLimited,
			format.Tokens(e.PromptTokens), format.Tokens(e.CompletionTokens))
		if e.Calls > 0 {
			fmt.Fprintf(w, ", mean %s", format.Seconds(e.Latency))
		}
		if e.LastError != "" {
			fmt.Fprintf(w, " (last error: %s)", format.Line(clip(e.LastError, 60)))
		}
		fmt.Fprintln(w)
	}
	if q := st.NATS; q != nil {
		how := "joined"
		if q.Embedded {
			how = "embedded"
		}
		fmt.Fprintf(w, "nats       %s (%s, stream %s): %d waiting, ack wait %s, %d redelivered\n", q.URL, how, orDash(q.Stream),
			q.Waiting, roundSeconds(q.AckWait, time.Millisecond), q.Redelivered)
	}
	for _, p := range st.Remote {
		fmt.Fprintf(w, "pool       %s on %s pid %d: %s, seen %s ago, %d/%d running, %s served, ", format.Line(p.Name), format.Line(orDash(p.Host)), p.PID,
			p.State, roundSeconds(p.LastSeen, time.Second), p.Running, p.Capacity, format.Thousands(p.Served))
		switch {
		case p.Name == app.LocalPool:
			fmt.Fprintln(w, "the workers below")
		case len(p.Workers) == 0:
			fmt.Fprintln(w, "no workers")
		default:
			fmt.Fprintf(w, "workers %s\n", live.PoolSummary(&app.PoolStatus{Engine: "running", Pool: p.Workers}))
		}
	}
}

// roundSeconds is s seconds rounded to r: 30s, 1m35s.
func roundSeconds(s float64, r time.Duration) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(r)
}
