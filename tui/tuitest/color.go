package tuitest

import "github.com/signet-dspy/signet/tui"

// ColorScreen is the screen with its colours: the ANSI escapes kept, for
// goldens of views whose colours carry meaning (an error in red).
func ColorScreen(m tui.Model) string { return m.View().Content }
