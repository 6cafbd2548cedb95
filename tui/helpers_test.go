package tui_test

import (
	"testing"

	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// newTestModel is the workbench over the sample programs and datasets.
func newTestModel(t testing.TB, w, h int) tui.Model {
	t.Helper()
	return tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: tuitest.SamplePrograms()}, Datasets: tuitest.SampleDatasets()}, w, h)
}
