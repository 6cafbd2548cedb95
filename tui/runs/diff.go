package runs

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui/format"
)

// The word diff of the iteration screen's side-by-side view.

// Kinds of diffOp.
const (
	diffSame = iota
	diffDel
	diffAdd
)

// diffOp is one token of a word diff: a word or a run of whitespace, kept,
// removed (only in the old text) or added (only in the new).
type diffOp struct {
	kind int
	text string
}

// diffCells bounds the LCS table; larger middles are shown as replaced
// whole.
const diffCells = 4 << 20

// tokens splits text into words and runs of whitespace; joined they are
// the text again.
func tokens(text string) []string {
	var out []string
	start := 0
	var inSpace bool
	for i, r := range text {
		sp := unicode.IsSpace(r)
		if i > start && sp != inSpace {
			out = append(out, text[start:i])
			start = i
		}
		inSpace = sp
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// wordDiff is a word-level diff of a and b (longest common subsequence of
// their tokens, after the common prefix and suffix are taken off).
func wordDiff(a, b string) []diffOp {
	ta, tb := tokens(a), tokens(b)
	pre := 0
	for pre < len(ta) && pre < len(tb) && ta[pre] == tb[pre] {
		pre++
	}
	suf := 0
	for suf < len(ta)-pre && suf < len(tb)-pre && ta[len(ta)-1-suf] == tb[len(tb)-1-suf] {
		suf++
	}
	var ops []diffOp
	for _, t := range ta[:pre] {
		ops = append(ops, diffOp{diffSame, t})
	}
	ma, mb := ta[pre:len(ta)-suf], tb[pre:len(tb)-suf]
	ops = append(ops, lcsOps(ma, mb)...)
	for _, t := range ta[len(ta)-suf:] {
		ops = append(ops, diffOp{diffSame, t})
	}
	return ops
}

func lcsOps(a, b []string) []diffOp {
	var ops []diffOp
	if len(a) == 0 || len(b) == 0 || (len(a)+1)*(len(b)+1) > diffCells {
		for _, t := range a {
			ops = append(ops, diffOp{diffDel, t})
		}
		for _, t := range b {
			ops = append(ops, diffOp{diffAdd, t})
		}
		return ops
	}
	n, m := len(a), len(b)
	// l[i][j] is the LCS length of a[i:] and b[j:].
	l := make([]int32, (n+1)*(m+1))
	at := func(i, j int) int32 { return l[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i*(m+1)+j] = at(i+1, j+1) + 1
			} else {
				l[i*(m+1)+j] = max(at(i+1, j), at(i, j+1))
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			ops = append(ops, diffOp{diffSame, a[i]})
			i++
			j++
		case at(i+1, j) >= at(i, j+1):
			ops = append(ops, diffOp{diffDel, a[i]})
			i++
		default:
			ops = append(ops, diffOp{diffAdd, b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, diffOp{diffDel, a[i]})
	}
	for ; j < m; j++ {
		ops = append(ops, diffOp{diffAdd, b[j]})
	}
	return ops
}

// renderDiff draws one side of a diff, wrapped to w: the tokens that are
// the same and those of kind side (diffDel for the old text, diffAdd for the
// new, diffSame for text alone), the changed words highlighted.
func renderDiff(s *themes.Styles, ops []diffOp, side, w int) string {
	var b strings.Builder
	for _, op := range ops {
		op.text = format.Text(op.text) // before styling adds escapes of its own
		switch {
		case op.kind == diffSame:
			b.WriteString(op.text)
		case op.kind != side:
			continue
		case strings.TrimSpace(op.text) == "":
			b.WriteString(op.text) // whitespace is never styled: it may hold a newline
		case side == diffDel:
			b.WriteString(s.DiffDel.Render(op.text))
		default:
			b.WriteString(s.DiffAdd.Render(op.text))
		}
	}
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		out = append(out, ansi.Wrap(strings.ReplaceAll(l, "\t", "    "), max(w, 4), " -"))
	}
	return strings.Join(out, "\n")
}
