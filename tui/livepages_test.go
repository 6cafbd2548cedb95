package tui_test

import (
	"strings"
	"testing"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// TestPagesFollowChangesMadeElsewhere: a program saved, a dataset
// imported and an optimization started elsewhere show on their pages when
// the owner's stream says so, the selection kept.
func TestPagesFollowChangesMadeElsewhere(t *testing.T) {
	progs := tuitest.SamplePrograms()
	dsets := tuitest.SampleDatasets()
	opts := tuitest.SampleOptimizations()
	m := tuitest.New(t, tui.Deps{Programs: tuitest.Programs{List: progs}, Datasets: dsets, Optimizations: opts,
		Events: tuitest.NoStream{}}, 120, 30)
	m = tuitest.Send(t, m, tuitest.Key("j")) // the second program
	second := progs[1].Name

	// Another terminal saves qa v4.
	v4 := *progs[0]
	v4.Version = 4
	progs[0] = &v4
	if strings.Contains(tuitest.LineWith(tuitest.Screen(m), "qa "), "v4") {
		t.Fatal("v4 shows before the stream told of it: the test shows nothing")
	}
	m = tuitest.Deliver(t, m, live.Msg{Programs: []string{"qa"}})
	if !strings.Contains(tuitest.LineWith(tuitest.Screen(m), "qa "), "v4") {
		t.Fatalf("the Programs page did not follow the save:\n%s", tuitest.Screen(m))
	}
	if !strings.Contains(tuitest.LineWith(tuitest.Screen(m), "▌"), second) {
		t.Fatalf("the selection moved off %s:\n%s", second, tuitest.Screen(m))
	}

	// A dataset imported by the CLI.
	m = tuitest.Send(t, m, tuitest.Key("2"))
	dsets.List = append(dsets.List, &model.Dataset{Name: "zebra", Fields: []string{"q", "a"}, Counts: map[model.Split]int{model.Train: 7}})
	m = tuitest.Deliver(t, m, live.Msg{Datasets: []string{"zebra"}})
	if !strings.Contains(tuitest.Screen(m), "zebra") {
		t.Fatalf("the Datasets page did not follow the import:\n%s", tuitest.Screen(m))
	}

	// An optimization started from the CLI.
	m = tuitest.Send(t, m, tuitest.Key("4"))
	opts.Mu.Lock()
	opts.Runs = append([]*model.Optimization{{ID: model.NewID(), Program: "from-the-cli", BaseVersion: 1, Optimizer: "gepa",
		State: model.Pending}}, opts.Runs...)
	opts.Mu.Unlock()
	m = tuitest.Deliver(t, m, live.Msg{Optimizations: true})
	if !strings.Contains(tuitest.Screen(m), "from-the-cli") {
		t.Fatalf("the Optimizations page did not follow the start:\n%s", tuitest.Screen(m))
	}
}
