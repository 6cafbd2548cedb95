package runs

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/format"
)

// RenderWordDiff draws one side of a word diff (model.WordDiff), wrapped
// to w: the tokens that are the same and those of kind side (model.WordDel
// for the old text, model.WordAdd for the new, model.WordSame for text
// alone), the changed words highlighted. The iteration screen and the
// comparison of optimization runs show changes with it.
func RenderWordDiff(s *themes.Styles, ops []model.WordOp, side model.WordOpKind, w int) string {
	var b strings.Builder
	for _, op := range ops {
		op.Text = format.Text(op.Text) // before styling adds escapes of its own
		switch {
		case op.Kind == model.WordSame:
			b.WriteString(op.Text)
		case op.Kind != side:
			continue
		case strings.TrimSpace(op.Text) == "":
			b.WriteString(op.Text) // whitespace is never styled: it may hold a newline
		case side == model.WordDel:
			b.WriteString(s.DiffDel.Render(op.Text))
		default:
			b.WriteString(s.DiffAdd.Render(op.Text))
		}
	}
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		out = append(out, ansi.Wrap(strings.ReplaceAll(l, "\t", "    "), max(w, 4), " -"))
	}
	return strings.Join(out, "\n")
}
