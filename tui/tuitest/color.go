package tuitest

import "github.com/signet-dspy/signet/tui"

// ScreenANSI is the screen with its colours: the view's content with its
// ANSI escapes, for goldens that keep the styling a view is made of.
func ScreenANSI(m tui.Model) string { return m.View().Content }
