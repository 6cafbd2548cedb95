// Package spantree is the trace view's model: the spans of one execution
// as a tree, filled a page or a span at a time (a span that comes again
// replaces the one with its seq), folded and unfolded, with a cursor and a
// window over the visible rows, and the moves a trace needs: next or
// previous LM call, the program module a span belongs to. It draws
// nothing; the trace screen (package runs) renders what it holds.
//
// It holds 100k spans: rows are laid out again only after a change, and
// the window is what a renderer draws.
package spantree

import "github.com/signet-dspy/signet/model"

// Node is one span in the tree.
type Node struct {
	Span      model.Span
	Parent    int32 // index of the parent node, -1 for a root
	Children  []int32
	Depth     int32
	Collapsed bool
}

// Tree is the spans of one execution. The zero value is not ready: use New.
type Tree struct {
	nodes []Node
	byID  map[string]int32
	bySeq map[uint64]int32
	roots []int32
	rows  []int32 // visible nodes in tree order
	dirty bool

	cursor, offset int
	height         int // rows in the window
}

// New is an empty tree.
func New() *Tree {
	return &Tree{byID: map[string]int32{}, bySeq: map[uint64]int32{}, height: 1}
}

// Len is the number of spans in the tree.
func (t *Tree) Len() int { return len(t.nodes) }

// Node is node n (an index from Row or Selected).
func (t *Tree) Node(n int32) *Node { return &t.nodes[n] }

// Has reports whether the span with seq is in the tree.
func (t *Tree) Has(seq uint64) bool {
	_, ok := t.bySeq[seq]
	return ok
}

// Knows reports whether a span with that ID is in the tree: a span whose
// parent it knows can be placed under it.
func (t *Tree) Knows(id string) bool {
	_, ok := t.byID[id]
	return ok
}

// Merge adds spans, or replaces the ones it holds (same seq): a span is
// read when it starts and again when it ends. A span whose parent is not
// in the tree is a root.
func (t *Tree) Merge(spans []model.Span) {
	for _, sp := range spans {
		if i, ok := t.bySeq[sp.Seq]; ok {
			t.nodes[i].Span = sp
			continue
		}
		idx := int32(len(t.nodes))
		n := Node{Span: sp, Parent: -1}
		if p, ok := t.byID[sp.Parent]; ok && sp.Parent != "" {
			n.Parent, n.Depth = p, t.nodes[p].Depth+1
			t.nodes[p].Children = append(t.nodes[p].Children, idx)
		} else {
			t.roots = append(t.roots, idx)
		}
		t.nodes = append(t.nodes, n)
		if sp.ID != "" {
			t.byID[sp.ID] = idx
		}
		t.bySeq[sp.Seq] = idx
		t.dirty = true
	}
}

// LastSeq is the seq of the last span added, 0 for none.
func (t *Tree) LastSeq() uint64 {
	if len(t.nodes) == 0 {
		return 0
	}
	return t.nodes[len(t.nodes)-1].Span.Seq
}

// PollAfter is where a poll of a live execution reads from: just before
// the first span still open (its end replaces it under the same seq), the
// program's root span aside unless includeRoot (it closes with the
// execution), else after the last span added.
func (t *Tree) PollAfter(includeRoot bool) uint64 {
	after := t.LastSeq()
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.Span.End.IsZero() && (includeRoot || n.Parent >= 0) && n.Span.Seq-1 < after {
			after = n.Span.Seq - 1
		}
	}
	return after
}

// layout lays the visible rows out again after a change of the tree,
// keeping the cursor on the same span.
func (t *Tree) layout() {
	if !t.dirty {
		return
	}
	t.dirty = false
	sel := int32(-1)
	if t.cursor < len(t.rows) {
		sel = t.rows[t.cursor]
	}
	rows := t.rows[:0]
	stack := make([]int32, 0, 64)
	for i := len(t.roots) - 1; i >= 0; i-- {
		stack = append(stack, t.roots[i])
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		rows = append(rows, n)
		if nd := &t.nodes[n]; !nd.Collapsed {
			for i := len(nd.Children) - 1; i >= 0; i-- {
				stack = append(stack, nd.Children[i])
			}
		}
	}
	t.rows = rows
	if sel >= 0 && (t.cursor >= len(rows) || rows[t.cursor] != sel) {
		for i, r := range rows {
			if r == sel {
				t.cursor = i
				break
			}
		}
	}
	t.clamp()
}

// Rows is the number of visible rows.
func (t *Tree) Rows() int {
	t.layout()
	return len(t.rows)
}

// Row is the node at visible row pos.
func (t *Tree) Row(pos int) int32 {
	t.layout()
	return t.rows[pos]
}

// Cursor is the visible row the cursor is on.
func (t *Tree) Cursor() int {
	t.layout()
	return t.cursor
}

// Offset is the first visible row in the window.
func (t *Tree) Offset() int {
	t.layout()
	return t.offset
}

// Height is the number of rows in the window.
func (t *Tree) Height() int { return t.height }

// SetHeight sizes the window.
func (t *Tree) SetHeight(h int) {
	t.height = max(h, 1)
	t.clamp()
}

func (t *Tree) clamp() {
	n := len(t.rows)
	t.cursor = min(max(t.cursor, 0), max(n-1, 0))
	h := t.height
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+h {
		t.offset = t.cursor - h + 1
	}
	t.offset = min(max(t.offset, 0), max(n-h, 0))
}

// Selected is the node under the cursor, or -1 with no rows.
func (t *Tree) Selected() int32 {
	t.layout()
	if t.cursor < len(t.rows) {
		return t.rows[t.cursor]
	}
	return -1
}

// Move moves the cursor delta rows, within the rows.
func (t *Tree) Move(delta int) {
	t.layout()
	t.cursor += delta
	t.clamp()
}

// Page moves the cursor and the window pages windows (negative: up).
func (t *Tree) Page(pages int) {
	t.layout()
	t.cursor += pages * t.height
	t.offset += pages * t.height
	t.clamp()
}

// Top puts the cursor on the first row.
func (t *Tree) Top() { t.SetCursor(0) }

// Bottom puts the cursor on the last row.
func (t *Tree) Bottom() { t.SetCursor(t.Rows() - 1) }

// SetCursor puts the cursor on row pos.
func (t *Tree) SetCursor(pos int) {
	t.layout()
	t.cursor = pos
	t.clamp()
}

// Scroll moves the window delta rows (the mouse wheel), dragging the
// cursor along only as far as it must to stay in it.
func (t *Tree) Scroll(delta int) {
	t.layout()
	h := t.height
	t.offset = min(max(t.offset+delta, 0), max(len(t.rows)-h, 0))
	t.cursor = min(max(t.cursor, t.offset), t.offset+h-1)
	t.clamp()
}

// NextCall moves the cursor to the next (dir 1) or previous (dir -1) LM
// call among the visible rows; it stays put without one.
func (t *Tree) NextCall(dir int) {
	t.layout()
	for i := t.cursor + dir; i >= 0 && i < len(t.rows); i += dir {
		if t.nodes[t.rows[i]].Span.Kind == model.SpanLM {
			t.cursor = i
			t.clamp()
			return
		}
	}
}

// Toggle folds or unfolds the node under the cursor, if it has children.
func (t *Tree) Toggle() {
	if n := t.Selected(); n >= 0 && len(t.nodes[n].Children) > 0 {
		t.nodes[n].Collapsed = !t.nodes[n].Collapsed
		t.dirty = true
		t.layout()
	}
}

// ModuleNode is the program-module span node n belongs to: the ancestor
// just under the root (or n itself), or -1 for the root.
func (t *Tree) ModuleNode(n int32) int32 {
	for n >= 0 {
		p := t.nodes[n].Parent
		if p < 0 {
			return -1
		}
		if t.nodes[p].Parent < 0 && t.nodes[n].Span.Kind == model.SpanModule {
			return n
		}
		n = p
	}
	return -1
}

// SpanModule is the program module node n belongs to: its own module
// field, else the first descendant's.
func (t *Tree) SpanModule(n int32) string {
	if m := t.nodes[n].Span.Module; m != "" {
		return m
	}
	for _, c := range t.nodes[n].Children {
		if m := t.SpanModule(c); m != "" {
			return m
		}
	}
	return ""
}

// ModuleMessages are the prompt messages of module mod's first LM call in
// the tree.
func (t *Tree) ModuleMessages(mod string) []model.Message {
	for i := range t.nodes {
		if sp := &t.nodes[i].Span; sp.Kind == model.SpanLM && sp.Module == mod {
			return sp.Messages
		}
	}
	return nil
}
