package tui_test

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/themes"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// benchModel is a workbench at 200x60 over 10k programs and the sample
// datasets (one of 100k examples), as a user with a large workspace sees it.
func benchModel(b *testing.B) tui.Model {
	b.Helper()
	p, err := themes.Get(themes.Dark)
	if err != nil {
		b.Fatal(err)
	}
	progs := make([]*model.Program, 10000)
	base := tuitest.SamplePrograms()
	for i := range progs {
		pr := *base[i%len(base)]
		pr.Name = fmt.Sprintf("%s-%05d", pr.Name, i)
		progs[i] = &pr
	}
	m := tui.New(tui.Deps{Programs: tuitest.Programs{List: progs}, Datasets: tuitest.SampleDatasets()},
		tui.Options{Workspace: "/home/ada/signet-workspace", LMProfile: "local", Styles: themes.New(p)})
	nm, _ := m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m = nm.(tui.Model)
	return benchRun(b, m, m.Init())
}

func benchRun(b *testing.B, m tui.Model, cmd tea.Cmd) tui.Model {
	b.Helper()
	for cmd != nil {
		msg := cmd()
		if bm, ok := msg.(tea.BatchMsg); ok {
			for _, c := range bm {
				m = benchRun(b, m, c)
			}
			return m
		}
		var nm tea.Model
		nm, cmd = m.Update(msg)
		m = nm.(tui.Model)
	}
	return m
}

func benchKey(b *testing.B, m tui.Model, k tea.KeyPressMsg) tui.Model {
	b.Helper()
	nm, cmd := m.Update(k)
	return benchRun(b, nm.(tui.Model), cmd)
}

// benchFrames renders a frame per iteration, moving the cursor down a row
// each time so every frame differs, as when a user holds j.
func benchFrames(b *testing.B, m tui.Model) {
	b.Helper()
	down := tea.KeyPressMsg{Code: 'j', Text: "j"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m = benchKey(b, m, down)
		_ = m.View()
	}
}

// BenchmarkRenderPrograms: the Programs page (10k programs) at 200x60.
func BenchmarkRenderPrograms(b *testing.B) {
	benchFrames(b, benchModel(b))
}

// BenchmarkRenderProgramDetail: a program's detail pane at 200x60.
func BenchmarkRenderProgramDetail(b *testing.B) {
	m := benchModel(b)
	m = benchKey(b, m, tea.KeyPressMsg{Code: 'j', Text: "j"})
	m = benchKey(b, m, tea.KeyPressMsg{Code: tea.KeyEnter})
	benchFrames(b, m)
}

// BenchmarkRenderDatasets: the Datasets list at 200x60.
func BenchmarkRenderDatasets(b *testing.B) {
	benchFrames(b, benchKey(b, benchModel(b), tea.KeyPressMsg{Code: '2', Text: "2"}))
}

// BenchmarkRenderExamples: the examples table of a 100k-example dataset at
// 200x60, paging in as the cursor moves.
func BenchmarkRenderExamples(b *testing.B) {
	m := benchKey(b, benchModel(b), tea.KeyPressMsg{Code: '2', Text: "2"})
	m = benchKey(b, m, tea.KeyPressMsg{Code: tea.KeyEnter}) // "big" is first
	if s := tuitest.Screen(m); !strings.Contains(s, "big  100000 examples") {
		b.Fatalf("the big dataset's examples did not open:\n%s", s)
	}
	benchFrames(b, m)
}
