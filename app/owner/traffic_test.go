package owner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// trafficOwner is an owner with qa v1 (answers "France") and v2 (answers
// "FRANCE": the test LM upper-cases when told to), in production, with a
// user of each role.
func trafficOwner(t *testing.T, python bool) (o *Owner, user, eng, admin context.Context) {
	t.Helper()
	o = openRunsOwner(t, "", runsConfig, python)
	ctx := context.Background()
	createPrograms(t, o, runsQA)
	v2 := *runsQA
	v2.Modules = []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: "Answer in uppercase."}}
	if _, err := o.SaveProgram(ctx, &v2); err != nil {
		t.Fatal(err)
	}
	if _, err := o.SetProgramStatus(ctx, "qa", model.Production, ""); err != nil {
		t.Fatal(err)
	}
	user = as(t, o, addUser(t, o, "ann", model.RoleMLUser, 100))
	eng = as(t, o, addUser(t, o, "eve", model.RoleMLEngineer, 0))
	admin = as(t, o, addUser(t, o, "ada", model.RoleAdmin, 0))
	return o, user, eng, admin
}

func arms(vs ...float64) []model.Arm {
	var out []model.Arm
	for i := 0; i < len(vs); i += 2 {
		out = append(out, model.Arm{Version: int(vs[i]), Percent: vs[i+1]})
	}
	return out
}

// Setting a split is an admin's, reading it anyone's; each change is
// audited and published; a bad split is refused naming what is wrong.
func TestTrafficSplitService(t *testing.T) {
	o, user, eng, admin := trafficOwner(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // the subscription's goroutine ends with it
	events, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.TrafficSplit(user, "qa"); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("no split yet: %v", err)
	}
	if _, err := o.SetTrafficSplit(eng, model.TrafficSplit{Program: "qa", Arms: arms(1, 50, 2, 50)}); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("an ml_engineer sets a split: %v, want forbidden", err)
	}
	if err := o.ClearTrafficSplit(user, "qa"); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("an ml_user clears a split: %v, want forbidden", err)
	}
	_, err = o.SetTrafficSplit(admin, model.TrafficSplit{Program: "qa", Arms: arms(1, 50, 4, 50)})
	wantCode(t, err, app.CodeInvalid, "v4: no such version (the newest is v3)")
	_, err = o.SetTrafficSplit(admin, model.TrafficSplit{Program: "qa", Arms: arms(1, 50, 2, 40)})
	wantCode(t, err, app.CodeInvalid, "sum to 90, not 100")
	_, err = o.SetTrafficSplit(admin, model.TrafficSplit{Program: "nope", Arms: arms(1, 100)})
	wantCode(t, err, app.CodeNotFound)

	sp, err := o.SetTrafficSplit(admin, model.TrafficSplit{Program: "qa", Arms: arms(1, 90, 2, 10), SetBy: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	if sp.SetBy != "ada" || sp.String() != "v1=90 v2=10" {
		t.Fatalf("split %+v", sp)
	}
	for ev := range events {
		if ev.Kind == app.EventProgram && ev.Program == "qa" {
			break
		}
	}
	read, err := o.TrafficSplit(user, "qa")
	if err != nil || read.String() != "v1=90 v2=10" {
		t.Fatalf("an ml_user reads the split: %+v, %v", read, err)
	}
	if err := o.ClearTrafficSplit(ctx, "qa"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, o.ClearTrafficSplit(ctx, "qa"), app.CodeNotFound, "qa has no traffic split")
	trail, err := o.Audit(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range trail {
		if r.Action == "program.traffic" || (r.Outcome == model.OutcomeDenied && r.Target == "program:qa") {
			got = append(got, r.Actor+" "+r.Outcome+" "+r.Detail)
		}
	}
	if len(got) != 4 || got[0] != "local ok cleared" || got[1] != "ada ok v1=90 v2=10" || !strings.HasPrefix(got[2], "ann denied") || !strings.HasPrefix(got[3], "eve denied") {
		t.Fatalf("audit trail, newest first: %q", got)
	}
}

// Runs without a version follow the split and record the version that
// served them; the same key keeps its version; feedback scores them and
// the report compares the arms.
func TestTrafficRouting(t *testing.T) {
	o, user, _, admin := trafficOwner(t, true)
	ctx := context.Background()
	if _, err := o.SetTrafficSplit(admin, model.TrafficSplit{Program: "qa", Arms: arms(1, 50, 2, 50)}); err != nil {
		t.Fatal(err)
	}
	question := func(i int) map[string]any {
		return map[string]any{"question": fmt.Sprintf("Case %d: where is Peru?", i)}
	}
	want := map[int]string{1: "Peru", 2: "PERU"}

	// One key, several runs with other inputs: one version, routed.
	first, err := o.Run(user, app.RunRequest{Program: "qa", Inputs: question(0), Key: "customer-7", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		x, err := o.Run(user, app.RunRequest{Program: "qa", Inputs: question(i), Key: "customer-7", Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		if x.Version != first.Version || !x.Routed || x.Outputs["answer"] != want[x.Version] {
			t.Fatalf("run %d of key customer-7: v%d routed=%v %v; the first ran v%d", i, x.Version, x.Routed, x.Outputs, first.Version)
		}
	}
	// A version named is not routed; v1 was saved as a draft, and an
	// ml_user may not run it by name, while the split may serve it.
	if _, err := o.Run(user, app.RunRequest{Program: "qa", Version: 1, Inputs: question(0)}); !errors.Is(err, app.ErrForbidden) {
		t.Fatalf("an ml_user runs draft v1 by name: %v, want forbidden", err)
	}
	named, err := o.Run(ctx, app.RunRequest{Program: "qa", Version: 2, Inputs: question(100), Wait: true})
	if err != nil || named.Routed || named.Version != 2 {
		t.Fatalf("a run of v2 by name: %+v, %v", named, err)
	}

	// Many keys at once: both versions serve, each its own answers.
	const n = 60
	xs := make([]*model.Execution, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			xs[i], errs[i] = o.Run(user, app.RunRequest{Program: "qa", Inputs: question(10 + i), Key: fmt.Sprint("k", i), Wait: true})
		})
	}
	wg.Wait()
	served := map[int]int{}
	for i, x := range xs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !x.Routed || x.State != model.Completed || x.Outputs["answer"] != want[x.Version] {
			t.Fatalf("run %d: v%d routed=%v %s %v", i, x.Version, x.Routed, x.State, x.Outputs)
		}
		if again := (&model.TrafficSplit{Arms: arms(1, 50, 2, 50)}).Route(model.Bucket("qa", fmt.Sprint("k", i))); again.Version != x.Version {
			t.Fatalf("key k%d ran v%d, its bucket is v%d's", i, x.Version, again.Version)
		}
		served[x.Version]++
	}
	if served[1] == 0 || served[2] == 0 {
		t.Fatalf("versions served: %v", served)
	}

	t.Run("feedback", func(t *testing.T) {
		one := 1.0
		_, err := o.Feedback(user, named.ID, app.FeedbackRequest{Score: &one})
		wantCode(t, err, app.CodeForbidden, "feedback: admins, or the user who created the execution")
		_, err = o.Feedback(user, first.ID, app.FeedbackRequest{})
		wantCode(t, err, app.CodeInvalid, "give a score")
		_, err = o.Feedback(user, model.NewID(), app.FeedbackRequest{Score: &one})
		wantCode(t, err, app.CodeNotFound)
		for i, x := range xs {
			// v2 scores higher: the report must tell the arms apart.
			s := 0.3 + 0.01*float64(i%7)
			if x.Version == 2 {
				s += 0.5
			}
			if _, err := o.Feedback(user, x.ID, app.FeedbackRequest{Score: &s, Note: "first"}); err != nil {
				t.Fatal(err)
			}
		}
		// A second feedback replaces the first, and is audited with it.
		half := 0.5
		x, err := o.Feedback(admin, xs[0].ID, app.FeedbackRequest{Score: &half, Note: "second look"})
		if err != nil || x.Feedback.Score != 0.5 || x.Feedback.By != "ada" || x.Feedback.Note != "second look" {
			t.Fatalf("second feedback: %+v, %v", x, err)
		}
		stored, err := o.Execution(ctx, xs[0].ID)
		if err != nil || stored.Feedback == nil || stored.Feedback.Score != 0.5 {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		trail, err := o.Audit(ctx, 1)
		if err != nil || trail[0].Action != "execution.feedback" || trail[0].Actor != "ada" || !strings.Contains(trail[0].Detail, "replaces") {
			t.Fatalf("audit: %+v, %v", trail[0], err)
		}
		xs[0] = stored
	})

	t.Run("report", func(t *testing.T) {
		r, err := o.TrafficReport(user, app.TrafficQuery{Program: "qa"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Arms) != 2 || r.Arms[0].Version != 1 || r.Arms[1].Version != 2 || r.Split == nil {
			t.Fatalf("arms %+v", r.Arms)
		}
		// Every routed run: the 4 of customer-7 and the 60; not the one
		// run by name.
		if got := r.Arms[0].N + r.Arms[1].N; got != n+4 {
			t.Fatalf("the report counts %d runs, want %d", got, n+4)
		}
		if r.Arms[0].Score.N+r.Arms[1].Score.N != n {
			t.Fatalf("scored: %d + %d, want %d", r.Arms[0].Score.N, r.Arms[1].Score.N, n)
		}
		if r.Arms[0].Latency.N == 0 || r.Arms[0].LatencyP95 < r.Arms[0].LatencyP50 {
			t.Fatalf("latency %+v", r.Arms[0])
		}
		score := r.Tests[0]
		if score.Measure != "score" || score.Diff < 0.4 || score.Verdict != "significant" {
			t.Fatalf("score test %+v", score)
		}
		_, err = o.TrafficReport(ctx, app.TrafficQuery{Program: "nope"})
		wantCode(t, err, app.CodeNotFound)
	})

	t.Run("running at the split's versions keeps working once it is cleared", func(t *testing.T) {
		if err := o.ClearTrafficSplit(admin, "qa"); err != nil {
			t.Fatal(err)
		}
		x, err := o.Run(user, app.RunRequest{Program: "qa", Inputs: question(1000), Key: "customer-7", Wait: true})
		if err != nil || x.Routed || x.Version != 3 {
			t.Fatalf("a run once the split is cleared: v%d routed=%v, %v", x.Version, x.Routed, err)
		}
	})
}
