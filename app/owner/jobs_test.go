package owner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/internal/testenv"
	"github.com/signet-dspy/signet/model"
)

// jobsKeyEnv is the key variable of the "keyed" profile, never set.
const jobsKeyEnv = "SIGNET_JOBS_TEST_KEY"

// jobsConfig is the test LM's profiles: "slow" takes its time, "priced"
// has prices (so an estimate has a cost), "keyed" needs a key that is not
// set.
const jobsConfig = `lm: test
profiles:
  test: {model: signet/test, cache: false}
  slow: {model: signet/test, cache: false, kwargs: {sleep_ms: 300}}
  priced: {model: signet/test, cache: false, price_in: 1000, price_out: 1000}
  keyed: {model: openai/gpt-4o-mini, api_key_env: ` + jobsKeyEnv + `}
`

// openJobsOwner opens a real owner on a new workspace with the test
// profiles, program qa (question -> answer) and two datasets: "caps"
// (validation: the test LM answers a capital question with the country's
// name, so France and Peru match their label, Japan and Chile do not) and
// "geo" (train and validation share questions, so demos raise the score).
// python is the workers' interpreter: a missing file proves that nothing
// starts a worker.
func openJobsOwner(t *testing.T, python string) *Owner {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(jobsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CONFIG", cfg)
	t.Setenv(jobsKeyEnv, "")
	ctx := context.Background()
	o, err := Open(ctx, Options{Dir: t.TempDir(), Create: true, Python: python, Workers: 1, DefaultWorkers: 1, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		o.Close(ctx, true)
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(o.Dir(), LogFile)); err == nil {
				t.Logf("workspace log:\n%s", b)
			}
		}
	})
	st := o.Store()
	if _, err := st.CreateProgram(ctx, &model.Program{Name: "qa", Modules: []model.Module{
		{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateProgram(ctx, &model.Program{Name: "keyed", Modules: []model.Module{
		{Name: "answer", Type: model.Predict, Signature: "question -> answer", LM: "keyed"}}}); err != nil {
		t.Fatal(err)
	}
	var caps []*model.Example
	for _, r := range [][2]string{{"France", "France"}, {"Japan", "Tokyo"}, {"Peru", "peru."}, {"Chile", "Santiago"}} {
		caps = append(caps, &model.Example{Split: model.Validation, Data: map[string]any{
			"question": "What is the capital of " + r[0] + "?", "answer": r[1]}})
	}
	importJobsData(t, o, "caps", caps)
	var geo []*model.Example
	for i, r := range [][2]string{{"France", "Paris"}, {"Japan", "Tokyo"}, {"Italy", "Rome"}, {"Spain", "Madrid"}} {
		for _, sp := range []model.Split{model.Train, model.Validation} {
			if sp == model.Validation && i >= 2 {
				r[0] += " today" // a question no demo answers
			}
			geo = append(geo, &model.Example{Split: sp, Data: map[string]any{
				"question": "What is the capital of " + r[0] + "?", "answer": r[1]}})
		}
	}
	importJobsData(t, o, "geo", geo)
	return o
}

func importJobsData(t *testing.T, o *Owner, name string, exs []*model.Example) {
	t.Helper()
	k := 0
	if _, err := o.Store().ImportExamples(context.Background(), &model.Dataset{Name: name}, func() (*model.Example, error) {
		if k == len(exs) {
			return nil, io.EOF
		}
		k++
		return exs[k-1], nil
	}); err != nil {
		t.Fatal(err)
	}
}

// services are the owner itself and a client of it over its real socket:
// every answer and error must be the same on both.
func services(o *Owner) []struct {
	name string
	svc  app.Service
} {
	return []struct {
		name string
		svc  app.Service
	}{{"owner", o}, {"client", api.NewClient(api.SocketPath(o.Dir()))}}
}

// wantErr checks an error's code, field and text.
func wantErr(t *testing.T, what string, err error, code app.Code, field, text string) {
	t.Helper()
	var ae *app.Error
	switch {
	case err == nil:
		t.Errorf("%s: no error, want %s", what, code)
	case app.CodeOf(err) != code || !errors.As(err, &ae):
		t.Errorf("%s: %v (code %s), want code %s", what, err, app.CodeOf(err), code)
	case ae.Field != field:
		t.Errorf("%s: field %q, want %q (%v)", what, ae.Field, field, err)
	case !strings.Contains(err.Error(), text):
		t.Errorf("%s: %q, want it to say %q", what, err, text)
	}
}

func spelled(s string) model.Metric { return model.Metric{Name: s, Kind: app.MetricSpelled} }

var (
	capsVal  = model.DataRef{Dataset: "caps", Split: model.Validation}
	geoTrain = model.DataRef{Dataset: "geo", Split: model.Train}
	geoVal   = model.DataRef{Dataset: "geo", Split: model.Validation}
)

// TestJobRequestsRefusedBeforeWorkers: a request the owner refuses is
// refused with its code, the field at fault and the words the CLI prints,
// the same through a client, and before any worker starts (the workers'
// interpreter does not even exist here).
func TestJobRequestsRefusedBeforeWorkers(t *testing.T) {
	o := openJobsOwner(t, filepath.Join(t.TempDir(), "no-python"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "metrics.py"), []byte("def m(example, pred, trace=None):\n    return 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eval := app.EvaluateRequest{Program: "qa", Data: capsVal, Metric: spelled("exact_match")}
	opt := app.OptimizeRequest{Program: "qa", Optimizer: "bootstrap", Train: geoTrain, Metric: spelled("exact_match")}
	evalCases := []struct {
		name        string
		edit        func(*app.EvaluateRequest)
		code        app.Code
		field, text string
	}{
		{"unknown metric", func(r *app.EvaluateRequest) { r.Metric = spelled("bleu") }, app.CodeInvalid, "metric", `unknown metric "bleu" (want exact_match`},
		{"bad judge", func(r *app.EvaluateRequest) { r.Metric = spelled("judge:question") }, app.CodeInvalid, "metric", `metric "judge:question": judge signature`},
		{"bad parsed metric", func(r *app.EvaluateRequest) { r.Metric = model.Metric{Name: "bleu", Kind: model.MetricBuiltin} }, app.CodeInvalid, "metric", `unknown built-in "bleu"`},
		{"relative metric without base", func(r *app.EvaluateRequest) { r.Metric = spelled("metrics.py:m") }, app.CodeInvalid, "metric", "metrics.py is a relative path, and the request has no base_dir"},
		{"missing metric file", func(r *app.EvaluateRequest) { r.Metric, r.BaseDir = spelled("nope.py:m"), dir }, app.CodeInvalid, "metric", "metric nope.py:m: nope.py does not exist"},
		{"metric file a directory", func(r *app.EvaluateRequest) { r.Metric = spelled(dir + "/sub.py:m") }, app.CodeInvalid, "metric", "sub.py is a directory"},
		{"unknown program", func(r *app.EvaluateRequest) { r.Program = "nope" }, app.CodeNotFound, "", `program "nope"`},
		{"unknown version", func(r *app.EvaluateRequest) { r.Version = 7 }, app.CodeNotFound, "", "qa"},
		{"unknown profile", func(r *app.EvaluateRequest) { r.LM = "nope" }, app.CodeInvalid, "", `no LM profile "nope"`},
		{"judge's profile without key", func(r *app.EvaluateRequest) { r.Metric = spelled("semantic_f1"); r.Metric.LM = "keyed" }, app.CodeInvalid, "", jobsKeyEnv + ", which is not set"},
		{"module's profile without key", func(r *app.EvaluateRequest) { r.Program = "keyed" }, app.CodeInvalid, "", jobsKeyEnv + ", which is not set"},
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.py"), 0o700); err != nil {
		t.Fatal(err)
	}
	optCases := []struct {
		name        string
		edit        func(*app.OptimizeRequest)
		code        app.Code
		field, text string
	}{
		{"unknown optimizer", func(r *app.OptimizeRequest) { r.Optimizer = "adam" }, app.CodeInvalid, "optimizer", `unknown optimizer "adam" (want mipro`},
		{"unknown metric", func(r *app.OptimizeRequest) { r.Metric = spelled("bleu") }, app.CodeInvalid, "metric", `unknown metric "bleu"`},
		{"bad auto", func(r *app.OptimizeRequest) { r.Optimizer, r.Settings = "mipro", map[string]any{"auto": "huge"} }, app.CodeInvalid, "settings.auto", `auto "huge": want light, medium or heavy`},
		{"unknown program", func(r *app.OptimizeRequest) { r.Program = "nope" }, app.CodeNotFound, "", `program "nope"`},
		{"reflection profile without key", func(r *app.OptimizeRequest) { r.Optimizer, r.ReflectionLM = "gepa", "keyed" }, app.CodeInvalid, "", jobsKeyEnv},
		{"module's profile without key", func(r *app.OptimizeRequest) { r.Program = "keyed" }, app.CodeInvalid, "", jobsKeyEnv},
	}
	ctx := context.Background()
	for _, s := range services(o) {
		for _, c := range evalCases {
			req := eval
			c.edit(&req)
			_, err := s.svc.Evaluate(ctx, req)
			wantErr(t, s.name+": evaluate: "+c.name, err, c.code, c.field, c.text)
		}
		for _, c := range optCases {
			req := opt
			c.edit(&req)
			_, err := s.svc.Optimize(ctx, req)
			wantErr(t, s.name+": optimize: "+c.name, err, c.code, c.field, c.text)
			_, err = s.svc.EstimateOptimization(ctx, req)
			wantErr(t, s.name+": estimate: "+c.name, err, c.code, c.field, c.text)
		}
		unknown := model.NewID()
		_, err := s.svc.Evaluation(ctx, unknown)
		wantErr(t, s.name+": evaluation", err, app.CodeNotFound, "", unknown.String())
		_, err = s.svc.CancelEvaluation(ctx, unknown)
		wantErr(t, s.name+": cancel evaluation", err, app.CodeNotFound, "", unknown.String())
		_, err = s.svc.Optimization(ctx, unknown)
		wantErr(t, s.name+": optimization", err, app.CodeNotFound, "", unknown.String())
		_, err = s.svc.Trials(ctx, unknown)
		wantErr(t, s.name+": trials", err, app.CodeNotFound, "", unknown.String())
		_, err = s.svc.CancelOptimization(ctx, unknown)
		wantErr(t, s.name+": cancel optimization", err, app.CodeNotFound, "", unknown.String())
		_, err = s.svc.PromoteOptimization(ctx, unknown, true)
		wantErr(t, s.name+": promote", err, app.CodeNotFound, "", unknown.String())
		_, err = s.svc.CompareOptimizations(ctx, []model.ID{unknown})
		wantErr(t, s.name+": compare one", err, app.CodeInvalid, "", "want at least two optimization runs, got 1")
		_, err = s.svc.CompareOptimizations(ctx, []model.ID{unknown, model.NewID()})
		wantErr(t, s.name+": compare unknown", err, app.CodeNotFound, "", unknown.String())
		_, err = s.svc.ListEvaluations(ctx, app.JobQuery{Program: "no good"})
		wantErr(t, s.name+": list evaluations", err, app.CodeInvalid, "program.name", `"no good" is not a valid name`)
		_, err = s.svc.ListOptimizations(ctx, app.JobQuery{Cursor: "garbage"})
		wantErr(t, s.name+": list optimizations", err, app.CodeInvalid, "", "")
	}
	ps, err := o.Pool(ctx)
	if err != nil || ps.Engine != "idle" || len(ps.Pool) != 0 {
		t.Errorf("after refusals the pool is %+v (%v): something started workers", ps, err)
	}
}

// TestStoredRunsWithoutWorkers: reading, comparing, promoting and
// cancelling runs that have ended needs no worker, and answers the same
// through a client.
func TestStoredRunsWithoutWorkers(t *testing.T) {
	o := openJobsOwner(t, filepath.Join(t.TempDir(), "no-python"))
	ctx := context.Background()
	st := o.Store()
	qa, err := st.GetProgram(ctx, "qa")
	if err != nil {
		t.Fatal(err)
	}
	better := *qa
	better.Modules = []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: "Answer with the capital."}}
	// A second apart, so that newest first is one order.
	at := time.Now().UTC().Add(-time.Hour)
	run := func(edit func(*model.Optimization)) *model.Optimization {
		at = at.Add(time.Second)
		r := &model.Optimization{ID: model.NewIDAt(at), Program: "qa", BaseVersion: 1, Optimizer: "bootstrap_fewshot", State: model.Completed,
			Metric: model.Metric{Name: "exact_match", Kind: model.MetricBuiltin}, Train: geoTrain, CreatedAt: at}
		edit(r)
		if err := st.PutOptimization(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	saved := run(func(r *model.Optimization) { r.BaselineScore, r.BestScore, r.Cost = 0.25, 0.75, 0.02 })
	better.CompiledFrom = saved.ID.String()
	v2, err := st.SaveProgram(ctx, &better)
	if err != nil {
		t.Fatal(err)
	}
	saved.ResultVersion = v2.Version
	if err := st.PutOptimization(ctx, saved); err != nil {
		t.Fatal(err)
	}
	if err := st.PutTrial(ctx, &model.Trial{Optimization: saved.ID, N: 0, Score: 0.25, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	regressed := run(func(r *model.Optimization) {
		r.Optimizer, r.BaselineScore, r.BestScore, r.Cost, r.Regressed = "labeled_fewshot", 0.5, 0.25, 0.01, true
		cand := better
		cand.CompiledFrom = r.ID.String()
		cand.Modules = []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer", Instructions: "Say anything."}}
		r.Candidate = &cand
	})
	failed := run(func(r *model.Optimization) {
		r.State, r.ErrorCode, r.Error = model.Failed, "bad_input", "settings.x: unknown"
	})

	for _, s := range services(o) {
		page, err := s.svc.ListOptimizations(ctx, app.JobQuery{Program: "qa"})
		if err != nil || len(page.Optimizations) != 3 || page.Optimizations[0].ID != failed.ID || page.Optimizations[2].ID != saved.ID {
			t.Fatalf("%s: list %+v %v", s.name, page, err)
		}
		got, err := s.svc.Optimization(ctx, saved.ID)
		if err != nil || got.ResultVersion != 2 || got.BestScore != 0.75 {
			t.Errorf("%s: optimization %+v %v", s.name, got, err)
		}
		trials, err := s.svc.Trials(ctx, saved.ID)
		if err != nil || len(trials) != 1 || trials[0].Score != 0.25 {
			t.Errorf("%s: trials %+v %v", s.name, trials, err)
		}
		if trials, err := s.svc.Trials(ctx, failed.ID); err != nil || trials == nil || len(trials) != 0 {
			t.Errorf("%s: no trials: %#v %v", s.name, trials, err)
		}
		_, err = s.svc.CancelOptimization(ctx, saved.ID)
		wantErr(t, s.name+": cancel a completed run", err, app.CodeFinished, "", "is completed")
		_, err = s.svc.PromoteOptimization(ctx, regressed.ID, false)
		wantErr(t, s.name+": promote a regressed result", err, app.CodeRegressed, "", "(0.500 → 0.250), so it did not become qa's newest version; promote with force (--force)")
		_, err = s.svc.PromoteOptimization(ctx, failed.ID, true)
		wantErr(t, s.name+": promote without a result", err, app.CodeInvalid, "", "it has no result to promote")
		c, err := s.svc.CompareOptimizations(ctx, []model.ID{saved.ID, regressed.ID})
		if err != nil {
			t.Fatalf("%s: compare: %v", s.name, err)
		}
		if len(c.Runs) != 2 || c.Runs[0].ID != saved.ID || !c.Runs[1].Regressed || len(c.Predictors) != 1 {
			t.Errorf("%s: compared %+v", s.name, c.Comparison)
		}
		// Every finished run of qa, cheapest first; the failed one is no point.
		if len(c.Points) != 2 || c.Points[0].ID != regressed.ID || c.Points[1].ID != saved.ID || c.Points[1].Score != 0.75 {
			t.Errorf("%s: points %+v", s.name, c.Points)
		}
	}
	// Forced, the candidate becomes the newest version, and the run says so.
	cl := api.NewClient(api.SocketPath(o.Dir()))
	pr, err := cl.PromoteOptimization(ctx, regressed.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	head, err := o.Program(ctx, "qa", 0)
	if err != nil || pr.Program.Version != 3 || head.Version != 3 || head.Modules[0].Instructions != "Say anything." ||
		pr.Optimization.ResultVersion != 3 || head.CompiledFrom != regressed.ID.String() {
		t.Errorf("forced promote: %+v of run %+v; head %+v %v", pr.Program, pr.Optimization, head, err)
	}
	ps, err := o.Pool(ctx)
	if err != nil || ps.Engine != "idle" {
		t.Errorf("the pool is %+v (%v): reading stored runs started workers", ps, err)
	}
}

// follow waits for the event of job id whose record has reached a
// terminal state.
func follow(t *testing.T, events <-chan app.Event, kind app.EventKind, id model.ID) app.Event {
	t.Helper()
	deadline := time.After(3 * time.Minute) // a hung run fails the test instead of the whole package
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the event stream ended before %s %s did", kind, id)
			}
			switch {
			case ev.Kind != kind || ev.Progress != nil:
			case kind == app.EventEvaluation && ev.Evaluation.ID == id && ev.Evaluation.State.Terminal(),
				kind == app.EventOptimization && ev.Optimization.ID == id && ev.Optimization.State.Terminal():
				return ev
			}
		case <-deadline:
			t.Fatalf("%s %s did not end", kind, id)
		}
	}
}

// TestEvaluateThroughWorkers runs evaluations in real workers with real
// DSPy: a spelled built-in metric submitted over the socket, and a custom
// metric whose file is relative to the caller's directory.
func TestEvaluateThroughWorkers(t *testing.T) {
	o := openJobsOwner(t, testenv.Python(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl := api.NewClient(api.SocketPath(o.Dir()))
	v, err := cl.Evaluate(ctx, app.EvaluateRequest{Program: "qa", Data: capsVal, Metric: spelled("answer_exact_match")})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != model.Pending || v.Total != 4 || v.Metric.Kind != model.MetricBuiltin || v.Version != 1 {
		t.Fatalf("submitted %+v", v)
	}
	end := follow(t, events, app.EventEvaluation, v.ID).Evaluation
	if end.State != model.Completed || end.N != 4 || end.Sum != 2 || end.Score != 0.5 {
		t.Errorf("ended %+v: want France and Peru right of 4", end)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "metrics.py"), []byte("def first_letter(example, pred, trace=None):\n"+
		"    return 0.5 if pred.answer[:1].lower() == example.answer[:1].lower() else 0.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	custom, err := o.Evaluate(ctx, app.EvaluateRequest{Program: "qa", Data: capsVal, Metric: spelled("metrics.py:first_letter"), BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "metrics.py") + ":first_letter"; custom.Metric.Source != want || custom.Metric.Name != "first_letter" {
		t.Errorf("custom metric %+v, want source %s", custom.Metric, want)
	}
	if end := follow(t, events, app.EventEvaluation, custom.ID).Evaluation; end.State != model.Completed || end.Sum != 1 {
		t.Errorf("custom metric ended %+v: want 0.5 for France and Peru", end)
	}

	// A label that is not a column is refused naming it, across the socket.
	_, err = cl.Evaluate(ctx, app.EvaluateRequest{Program: "qa", Data: capsVal, Metric: spelled("exact_match"), Labels: []string{"capital"}})
	wantErr(t, "unknown label", err, app.CodeInvalid, "labels.capital", "labels.capital")

	for _, s := range services(o) {
		d, err := s.svc.Evaluation(ctx, v.ID)
		if err != nil || d.Evaluation.Score != 0.5 || len(d.Results) != 4 {
			t.Fatalf("%s: evaluation %+v %v", s.name, d, err)
		}
		for i, r := range d.Results {
			if r.Index != i || r.Execution.IsZero() || r.State != model.Completed {
				t.Errorf("%s: result %d %+v", s.name, i, r)
			}
		}
		if d.Results[0].Score != 1 || d.Results[1].Score != 0 || d.Results[0].Outputs["answer"] != "France" {
			t.Errorf("%s: results %+v %+v", s.name, d.Results[0], d.Results[1])
		}
		page, err := s.svc.ListEvaluations(ctx, app.JobQuery{Program: "qa"})
		if err != nil || len(page.Evaluations) != 2 || page.Evaluations[0].ID != custom.ID || page.Evaluations[1].ID != v.ID {
			t.Errorf("%s: list %+v %v", s.name, page, err)
		}
		_, err = s.svc.CancelEvaluation(ctx, v.ID)
		wantErr(t, s.name+": cancel an ended evaluation", err, app.CodeFinished, "", "evaluation "+v.ID.String()+" is completed")
	}
}

// TestOptimizeThroughWorkers estimates and runs optimizations in real
// workers with real DSPy: the estimate carries the settings a run would
// have, a monthly cap refuses a run with the words `opt run` prints, a
// queued run is cancelled, and a run completes with its trials stored.
func TestOptimizeThroughWorkers(t *testing.T) {
	o := openJobsOwner(t, testenv.Python(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := api.NewClient(api.SocketPath(o.Dir()))

	est, err := cl.EstimateOptimization(ctx, app.OptimizeRequest{Program: "qa", Optimizer: "mipro", Train: geoTrain, Val: geoVal,
		Metric: spelled("exact_match"), LM: "priced", Budget: 5})
	if err != nil {
		t.Fatal(err)
	}
	if est.Optimizer != "mipro_v2" || est.Settings["auto"] != "light" || est.Estimate == nil || est.Estimate.Cost == nil ||
		est.Estimate.Train != 4 || est.Budget != 5 || !est.ID.IsZero() {
		t.Fatalf("estimate %+v (%+v)", est, est.Estimate)
	}
	sized, err := o.EstimateOptimization(ctx, app.OptimizeRequest{Program: "qa", Optimizer: "mipro", Train: geoTrain,
		Metric: spelled("exact_match"), Settings: map[string]any{"num_trials": 3, "num_candidates": 2}})
	if err != nil || sized.Settings["auto"] != nil {
		t.Errorf("a run sized by its settings gets auto %v (%v)", sized.Settings["auto"], err)
	}
	if page, err := o.ListOptimizations(ctx, app.JobQuery{}); err != nil || len(page.Optimizations) != 0 {
		t.Errorf("an estimate stored a run: %+v %v", page, err)
	}

	// A cap below the estimate refuses the run, through the socket too.
	if err := o.Store().SetBudget(ctx, "qa", *est.Estimate.Cost/2); err != nil {
		t.Fatal(err)
	}
	for _, s := range services(o) {
		_, err := s.svc.Optimize(ctx, app.OptimizeRequest{Program: "qa", Optimizer: "mipro", Train: geoTrain, Metric: spelled("exact_match"), LM: "priced"})
		wantErr(t, s.name+": over the cap", err, app.CodeBudget, "", "budget: program qa has spent $0.0000 of its $")
		wantErr(t, s.name+": over the cap", err, app.CodeBudget, "", "this optimization is estimated at $")
	}
	if err := o.Store().ClearBudget(ctx, "qa"); err != nil {
		t.Fatal(err)
	}

	events, err := o.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := app.OptimizeRequest{Program: "qa", Optimizer: "bootstrap", Train: geoTrain, Val: geoVal, Metric: spelled("exact_match"),
		LM: "slow", Settings: map[string]any{"max_bootstrapped_demos": 2, "max_labeled_demos": 4}, Threads: 2}
	first, err := cl.Optimize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// One run at a time: the second waits behind the slow first and is
	// cancelled at once.
	req.LM = "test"
	second, err := o.Optimize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.CancelOptimization(ctx, second.ID)
	if err != nil || got.State != model.Cancelled {
		t.Fatalf("cancelled queued run %+v %v", got, err)
	}
	_, err = cl.CancelOptimization(ctx, second.ID)
	wantErr(t, "cancel twice", err, app.CodeFinished, "", "is cancelled")

	done := follow(t, events, app.EventOptimization, first.ID).Optimization
	if done.State != model.Completed || done.ResultVersion != 2 || done.BestScore <= done.BaselineScore {
		t.Fatalf("run ended %+v", done)
	}
	trials, err := cl.Trials(ctx, first.ID)
	if err != nil || len(trials) < 2 || trials[0].N != 0 {
		t.Errorf("trials %+v %v", trials, err)
	}
	// The detail, through the socket: the trials with each example's
	// output, and the validation examples their results name.
	d, err := cl.OptimizationDetail(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Optimization.ID != first.ID || len(d.Trials) != len(trials) || len(d.Trials[0].Results) == 0 {
		t.Fatalf("detail %+v", d)
	}
	byID := map[model.ID]*model.Example{}
	for _, e := range d.Examples {
		byID[e.ID] = e
	}
	for _, r := range d.Trials[0].Results {
		e := byID[r.Example]
		if e == nil || e.Dataset != geoVal.Dataset {
			t.Fatalf("result %+v names no example of %s in %+v", r, geoVal, d.Examples)
		}
		if _, ok := r.Output["answer"]; !ok {
			t.Errorf("result %+v carries no output", r)
		}
	}
	// Submitted within a millisecond, the two have no order of their own.
	page, err := cl.ListOptimizations(ctx, app.JobQuery{Program: "qa"})
	if err != nil || len(page.Optimizations) != 2 {
		t.Fatalf("list %+v %v", page, err)
	}
	for _, x := range page.Optimizations {
		if want := map[model.ID]model.RunState{first.ID: model.Completed, second.ID: model.Cancelled}[x.ID]; x.State != want {
			t.Errorf("listed %s %s, want %s", x.ID, x.State, want)
		}
	}
	c, err := cl.CompareOptimizations(ctx, []model.ID{first.ID, second.ID})
	if err != nil || len(c.Runs) != 2 || len(c.Points) != 2 {
		t.Errorf("compare %+v %v", c, err)
	}
}
