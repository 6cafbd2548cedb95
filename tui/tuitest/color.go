package tuitest

import "github.com/signet-dspy/signet/tui"

// Styled is the screen as the terminal gets it, colours and all: goldens
// of it keep the styling a plain Screen strips.
func Styled(m tui.Model) string { return m.View().Content }
