package model

import "strings"

// WordDiff is a word-level diff of two texts for a terminal: words only a
// has as [-removed-], words only b has as {+added+}, common ones as they are.
func WordDiff(a, b string) string {
	x, y := strings.Fields(a), strings.Fields(b)
	// Longest common subsequence over words; instructions are short.
	n, m := len(x), len(y)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out, del, ins []string
	flush := func() {
		if len(del) > 0 {
			out = append(out, "[-"+strings.Join(del, " ")+"-]")
			del = nil
		}
		if len(ins) > 0 {
			out = append(out, "{+"+strings.Join(ins, " ")+"+}")
			ins = nil
		}
	}
	for i, j := 0, 0; i < n || j < m; {
		switch {
		case i < n && j < m && x[i] == y[j]:
			flush()
			out = append(out, x[i])
			i++
			j++
		case j < m && (i == n || l[i][j+1] >= l[i+1][j]):
			ins = append(ins, y[j])
			j++
		default:
			del = append(del, x[i])
			i++
		}
	}
	flush()
	return strings.Join(out, " ")
}
