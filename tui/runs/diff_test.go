package runs

import (
	"strings"
	"testing"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
)

func TestRenderWordDiff(t *testing.T) {
	p, err := themes.Get(themes.Dark)
	if err != nil {
		t.Fatal(err)
	}
	s := themes.New(p)
	ops := model.WordDiff("answer: France", "answer: FRANCE")
	right := RenderWordDiff(s, ops, model.WordAdd, 40)
	left := RenderWordDiff(s, ops, model.WordDel, 40)
	if !strings.Contains(right, s.DiffAdd.Render("FRANCE")) || strings.Contains(right, "France") {
		t.Errorf("new side: %q", right)
	}
	if !strings.Contains(left, s.DiffDel.Render("France")) || strings.Contains(left, "FRANCE") {
		t.Errorf("old side: %q", left)
	}
	if strings.Contains(left, s.DiffDel.Render("answer:")) {
		t.Error("an unchanged word is highlighted")
	}
}
