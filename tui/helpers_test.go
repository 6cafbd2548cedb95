package tui_test

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/page"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// newTestModel is the workbench over the sample programs and datasets.
func newTestModel(t testing.TB, w, h int) tui.Model {
	t.Helper()
	return tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: tuitest.SampleDatasets()}, w, h)
}

func execs(m tui.Model) *tui.ExecutionsPage {
	return m.PageView(tui.PageExecutions).(*tui.ExecutionsPage)
}
func opts(m tui.Model) *tui.OptimizationsPage {
	return m.PageView(tui.PageOptimizations).(*tui.OptimizationsPage)
}
func wkrs(m tui.Model) *tui.WorkersPage { return m.PageView(tui.PageWorkers).(*tui.WorkersPage) }

// openDialog pushes d over the page on screen, as the page would, and
// runs what follows.
func openDialog(t testing.TB, m tui.Model, d page.Dialog) tui.Model {
	t.Helper()
	m, cmd := m.Open(d)
	return tuitest.Run(t, m, cmd)
}

// toTop delivers msg to the top dialog as the answer to one of its
// commands, and runs what follows.
func toTop(t testing.TB, m tui.Model, msg tea.Msg) tui.Model {
	t.Helper()
	return tuitest.Run(t, m, func() tea.Msg { return m.ToTop(msg) })
}

// toPage delivers msg to page p as the answer to one of its commands.
func toPage(t testing.TB, m tui.Model, p tui.Page, msg tea.Msg) tui.Model {
	t.Helper()
	return tuitest.Run(t, m, func() tea.Msg { return tui.ToPage(p, msg) })
}

// onTop calls f on the top dialog, and runs what follows.
func onTop(t testing.TB, m tui.Model, f func(*page.Env) tea.Cmd) tui.Model {
	t.Helper()
	m, cmd := m.CallTop(f)
	return tuitest.Run(t, m, cmd)
}
