package model

import (
	"strings"
	"unicode"
)

// WordOpKind says whether a token of a word diff is kept, removed or added.
type WordOpKind int

// Kinds of WordOp.
const (
	WordSame WordOpKind = iota
	WordDel             // only in the old text
	WordAdd             // only in the new text
)

// WordOp is one token of a word diff: a word or a run of whitespace.
type WordOp struct {
	Kind WordOpKind
	Text string
}

// wordDiffCells bounds the LCS table; larger middles are shown as
// replaced whole.
const wordDiffCells = 4 << 20

// wordTokens splits text into words and runs of whitespace; joined they
// are the text again.
func wordTokens(text string) []string {
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

// WordDiff is a word-level diff of a and b (longest common subsequence of
// their tokens, after the common prefix and suffix are taken off): the
// workbench's side-by-side views and the comparison's Markdown both show
// changed words with it.
func WordDiff(a, b string) []WordOp {
	return diffTokens(wordTokens(a), wordTokens(b))
}

// WordDiffMarked is a word diff as one line of text, whitespace
// collapsed: each run of removed words wrapped by del, each run of added
// ones by add (the CLI's "[-old-] {+new+}", Markdown's ~~old~~ **new**).
func WordDiffMarked(a, b string, del, add func(string) string) string {
	var out, dels, adds []string
	flush := func() {
		if len(dels) > 0 {
			out = append(out, del(strings.Join(dels, " ")))
			dels = nil
		}
		if len(adds) > 0 {
			out = append(out, add(strings.Join(adds, " ")))
			adds = nil
		}
	}
	for _, op := range diffTokens(strings.Fields(a), strings.Fields(b)) {
		switch op.Kind {
		case WordDel:
			dels = append(dels, op.Text)
		case WordAdd:
			adds = append(adds, op.Text)
		default:
			flush()
			out = append(out, op.Text)
		}
	}
	flush()
	return strings.Join(out, " ")
}

// diffTokens diffs two token lists: the common prefix and suffix, then
// the longest common subsequence of the middles.
func diffTokens(ta, tb []string) []WordOp {
	pre := 0
	for pre < len(ta) && pre < len(tb) && ta[pre] == tb[pre] {
		pre++
	}
	suf := 0
	for suf < len(ta)-pre && suf < len(tb)-pre && ta[len(ta)-1-suf] == tb[len(tb)-1-suf] {
		suf++
	}
	var ops []WordOp
	for _, t := range ta[:pre] {
		ops = append(ops, WordOp{WordSame, t})
	}
	ops = append(ops, lcsWordOps(ta[pre:len(ta)-suf], tb[pre:len(tb)-suf])...)
	for _, t := range ta[len(ta)-suf:] {
		ops = append(ops, WordOp{WordSame, t})
	}
	return ops
}

func lcsWordOps(a, b []string) []WordOp {
	var ops []WordOp
	if len(a) == 0 || len(b) == 0 || (len(a)+1)*(len(b)+1) > wordDiffCells {
		for _, t := range a {
			ops = append(ops, WordOp{WordDel, t})
		}
		for _, t := range b {
			ops = append(ops, WordOp{WordAdd, t})
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
			ops = append(ops, WordOp{WordSame, a[i]})
			i++
			j++
		case at(i+1, j) >= at(i, j+1):
			ops = append(ops, WordOp{WordDel, a[i]})
			i++
		default:
			ops = append(ops, WordOp{WordAdd, b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, WordOp{WordDel, a[i]})
	}
	for ; j < m; j++ {
		ops = append(ops, WordOp{WordAdd, b[j]})
	}
	return ops
}
