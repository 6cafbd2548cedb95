package programs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/signet-dspy/signet/model"
	"github.com/signet-dspy/signet/tui"
	"github.com/signet-dspy/signet/tui/live"
	"github.com/signet-dspy/signet/tui/tuitest"
)

// trafficRepo is the sample repository with qa's 90/10 split and report.
func trafficRepo() *tuitest.Repo {
	r := tuitest.SampleRepo()
	r.Traffic = map[string]*model.TrafficReport{}
	return r
}

// T opens the traffic view of the selected program (from the list or its
// detail): the split with its shares and the report; ctrl+r reads it
// again; esc goes back where it was.
func TestProgramsTrafficView(t *testing.T) {
	repo := trafficRepo()
	repo.Traffic["qa"] = tuitest.SampleTrafficReport()
	m := openProgram(t, repoModel(t, repo, 140, 40), "qa")
	m = tuitest.Send(t, tuitest.Send(t, m, tuitest.Esc()), tuitest.Key("T"))
	if name, loaded, open := progs(m).Traffic(); !open || !loaded || name != "qa" {
		t.Fatalf("T on the list: traffic view of %q, loaded %v, open %v", name, loaded, open)
	}
	tuitest.WantScreen(t, m, "qa  traffic", "Split", "set 2h ago by ada", "v1    ██████████████████·· 90%", "v2    ██·················· 10%",
		"ARM", "SCORE (95% CI)", "v2 vs v1 on score", ": significant", "v2 vs v1 on latency")
	asked := repo.TrafficAsked
	m = tuitest.Send(t, m, tuitest.Ctrl('r'))
	if repo.TrafficAsked != asked+1 {
		t.Fatalf("ctrl+r read the report %d times", repo.TrafficAsked-asked)
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if _, _, open := progs(m).Traffic(); open || progs(m).Detail() != nil || selectedName(m) != "qa" {
		t.Fatal("esc did not go back to the list, on qa")
	}
	// From the detail, back to the detail.
	m = tuitest.Send(t, openProgram(t, m, "qa"), tuitest.Key("T"))
	if _, _, open := progs(m).Traffic(); !open {
		t.Fatal("T in the detail opened nothing")
	}
	m = tuitest.Send(t, m, tuitest.Esc())
	if progs(m).Detail() == nil {
		t.Fatal("esc did not go back to the detail")
	}

	// A program without a split says so, and how to set one.
	m = tuitest.Send(t, openProgram(t, tuitest.Send(t, m, tuitest.Esc()), "summarize"), tuitest.Key("T"))
	tuitest.WantScreen(t, m, "No traffic split: runs without a version run the newest.", "signet program traffic summarize v1=90 v2=10", "No arms.")
}

// The history shows each version's share of the split.
func TestProgramsVersionsShowTraffic(t *testing.T) {
	repo := trafficRepo()
	repo.Traffic["qa"] = tuitest.SampleTrafficReport()
	m := tuitest.Send(t, openProgram(t, repoModel(t, repo, 120, 24), "qa"), tuitest.Key("v"))
	s := tuitest.Screen(m)
	if !strings.Contains(s, "TRAFFIC") || !strings.Contains(s, "traffic v1=90 v2=10") {
		t.Fatalf("history lacks the split:\n%s", s)
	}
	for v, share := range map[string]string{"v1": "90%", "v2": "10%"} {
		if line := tuitest.LineWith(s, " "+v+" "); !strings.Contains(line, share) {
			t.Errorf("%s's row %q lacks %s", v, line, share)
		}
	}
	// Without a split, no column.
	m = tuitest.Send(t, openProgram(t, repoModel(t, trafficRepo(), 120, 24), "qa"), tuitest.Key("v"))
	if strings.Contains(tuitest.Screen(m), "TRAFFIC") {
		t.Fatal("a history without a split shows a TRAFFIC column")
	}
}

func TestProgramsTrafficGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			repo := trafficRepo()
			repo.Traffic["qa"] = tuitest.SampleTrafficReport()
			qa := func() tui.Model { return openProgram(t, repoModel(t, repo, sz[0], sz[1]), "qa") }
			for _, sc := range []struct {
				name string
				m    tui.Model
			}{
				{"traffic", tuitest.Send(t, qa(), tuitest.Key("T"))},
				{"versions", tuitest.Send(t, qa(), tuitest.Key("v"))},
			} {
				t.Run(sc.name, func(t *testing.T) { golden.RequireEqual(t, []byte(tuitest.Screen(sc.m))) })
			}
		})
	}
}

// A split changed elsewhere (the CLI, another terminal) reaches the open
// traffic view: the program's change reads the report again.
func TestProgramsTrafficFollowsChanges(t *testing.T) {
	repo := trafficRepo()
	repo.Traffic["qa"] = tuitest.SampleTrafficReport()
	m := tuitest.Send(t, openProgram(t, repoModel(t, repo, 120, 30), "qa"), tuitest.Key("T"))
	tuitest.WantScreen(t, m, "90%", "10%")
	changed := *repo.Traffic["qa"]
	changed.Split = &model.TrafficSplit{Program: "qa", Arms: []model.Arm{{Version: 1, Percent: 50}, {Version: 2, Percent: 50}}, SetAt: tuitest.Now}
	repo.Traffic["qa"] = &changed
	m = tuitest.Deliver(t, m, live.Msg{Programs: []string{"rag-support"}})
	if strings.Contains(tuitest.Screen(m), "50%") {
		t.Fatal("another program's change reloaded qa's split")
	}
	m = tuitest.Deliver(t, m, live.Msg{Programs: []string{"qa"}})
	tuitest.WantScreen(t, m, "v1    ██████████·········· 50%", "v2    ██████████·········· 50%")
}
