package owner

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// The rules as app.Authorize names them in a refusal.
const (
	ruleRead    = "read: admins, or the user who created the record"
	ruleWrite   = "write: admin"
	ruleAdmin   = "administer: admin"
	ruleCancel  = "cancel: admins, or the user who started the job"
	ruleRate    = "feedback: admins, or the user who created the execution"
	ruleManage  = "manage users and tokens: admin"
	ruleCompile = "compile: admin or ml_engineer"
	ruleExecute = "execute: admin or ml_user"
	ruleProd    = "an ml_user only runs programs in production"
)

// policy is docs/api.md's policy table, by method of app.Service: for an
// ml_user and an ml_engineer, the rule a refusal names, or "" where the
// call is allowed. A method missing here fails TestEveryMethodGuarded.
var policy = map[string][2]string{
	// Programs: reads shared, writes admin.
	"ListPrograms":     {"", ""},
	"ProgramSummaries": {ruleRead, ruleRead}, // every user's cost
	"Program":          {"", ""},
	"ProgramVersions":  {"", ""},
	"Flow":             {"", ""},
	"Render":           {"", ""},
	"CreateProgram":    {ruleWrite, ruleWrite},
	"SaveProgram":      {ruleWrite, ruleWrite},
	"SetProgramStatus": {ruleWrite, ruleWrite},
	"DeleteProgram":    {ruleWrite, ruleWrite},
	"ExportProgram":    {ruleWrite, ruleWrite},
	"ImportProgram":    {ruleWrite, ruleWrite},
	// A/B traffic: the split is a write, the report a shared read.
	"SetTrafficSplit":   {ruleWrite, ruleWrite},
	"TrafficSplit":      {"", ""},
	"ClearTrafficSplit": {ruleWrite, ruleWrite},
	"TrafficReport":     {"", ""},
	// Indexes.
	"ListIndexes": {"", ""},
	"Index":       {"", ""},
	"BuildIndex":  {ruleWrite, ruleWrite},
	"DeleteIndex": {ruleWrite, ruleWrite},
	// Datasets.
	"ListDatasets":   {"", ""},
	"Dataset":        {"", ""},
	"ListExamples":   {"", ""},
	"Example":        {"", ""},
	"ExampleAt":      {"", ""},
	"DatasetStats":   {"", ""},
	"PutExample":     {ruleWrite, ruleWrite},
	"RestoreExample": {ruleWrite, ruleWrite},
	"DeleteExample":  {ruleWrite, ruleWrite},
	"DeleteDataset":  {ruleWrite, ruleWrite},
	"RenameDataset":  {ruleWrite, ruleWrite},
	"ImportDataset":  {ruleWrite, ruleWrite},
	"ExportDataset":  {ruleWrite, ruleWrite},
	// Executions: the walk's program is a draft.
	"Run":                  {ruleProd, ruleExecute},
	"RunBatch":             {ruleProd, ruleExecute},
	"ListExecutions":       {"", ""}, // one's own only
	"Execution":            {ruleRead, ruleRead},
	"Spans":                {ruleRead, ruleRead},
	"CancelExecution":      {ruleCancel, ruleCancel},
	"Feedback":             {ruleRate, ruleRate},
	"ResumeExecutions":     {ruleWrite, ruleWrite},
	"ImportTraces":         {ruleWrite, ruleWrite},
	"LMProfiles":           {"", ""},
	"Evaluate":             {ruleCompile, ""},
	"ListEvaluations":      {"", ""}, // one's own only
	"Evaluation":           {ruleRead, ruleRead},
	"CancelEvaluation":     {ruleCancel, ruleCancel},
	"EstimateOptimization": {ruleCompile, ""},
	"Optimize":             {ruleCompile, ""},
	"ListOptimizations":    {"", ""}, // one's own only
	"Optimization":         {ruleRead, ruleRead},
	"Trials":               {ruleRead, ruleRead},
	"OptimizationDetail":   {ruleRead, ruleRead},
	"CompareOptimizations": {ruleRead, ruleRead},
	"CancelOptimization":   {ruleCancel, ruleCancel},
	"PromoteOptimization":  {ruleWrite, ruleWrite},
	// Costs: one's own executions' cost.
	"Cost":      {"", ""},
	"SetBudget": {ruleWrite, ruleWrite},
	// The owner itself.
	"Status":        {ruleAdmin, ruleAdmin},
	"Pool":          {ruleAdmin, ruleAdmin},
	"StartPool":     {ruleAdmin, ruleAdmin},
	"RestartWorker": {ruleAdmin, ruleAdmin},
	"RecycleWorker": {ruleAdmin, ruleAdmin},
	"Backup":        {ruleAdmin, ruleAdmin},
	"CheckStore":    {ruleAdmin, ruleAdmin},
	"Subscribe":     {"", ""}, // one's own jobs' events only
	// Users.
	"AddUser":      {ruleManage, ruleManage},
	"ListUsers":    {ruleManage, ruleManage},
	"User":         {ruleRead, ruleRead}, // another user's
	"SetCredits":   {ruleManage, ruleManage},
	"CreateToken":  {ruleManage, ruleManage},
	"RevokeToken":  {ruleManage, ruleManage},
	"Audit":        {ruleManage, ruleManage},
	"Authenticate": {"", ""}, // what authenticates
}

// TestEveryMethodGuarded walks every method of app.Service, found by
// reflection (a method added without a row in the policy table fails
// here), as an ml_user and as an ml_engineer, on records of another user:
// each call the table refuses is forbidden naming its rule, each it
// allows is not refused.
func TestEveryMethodGuarded(t *testing.T) {
	o := openRunsOwner(t, "", runsConfig, false)
	bg := context.Background()
	createPrograms(t, o, runsQA)
	// Jobs of another user, zed.
	now := time.Now().UTC()
	x := &model.Execution{ID: model.NewID(), Program: "qa", Version: 1, State: model.Completed, User: "zed", CreatedAt: now, FinishedAt: now}
	v := &model.Evaluation{ID: model.NewID(), Program: "qa", Version: 1, State: model.Completed, User: "zed", CreatedAt: now, FinishedAt: now}
	run := &model.Optimization{ID: model.NewID(), Program: "qa", BaseVersion: 1, Optimizer: "BootstrapFewShot", State: model.Completed, User: "zed", CreatedAt: now, FinishedAt: now}
	if err := o.st.PutExecution(bg, x); err != nil {
		t.Fatal(err)
	}
	if err := o.st.PutEvaluation(bg, v); err != nil {
		t.Fatal(err)
	}
	if err := o.st.PutOptimization(bg, run); err != nil {
		t.Fatal(err)
	}
	ids := map[string]model.ID{
		"Execution": x.ID, "Spans": x.ID, "CancelExecution": x.ID, "Feedback": x.ID,
		"Evaluation": v.ID, "CancelEvaluation": v.ID,
		"Optimization": run.ID, "Trials": run.ID, "OptimizationDetail": run.ID, "CancelOptimization": run.ID, "PromoteOptimization": run.ID,
	}
	roles := [2]model.Role{model.RoleMLUser, model.RoleMLEngineer}
	var ctxs [2]context.Context
	for i, r := range roles {
		ctxs[i] = as(t, o, addUser(t, o, string(r)+"_1", r, 1))
	}
	addUser(t, o, "zed", model.RoleMLUser, 1)

	svc := reflect.TypeFor[app.Service]()
	ov := reflect.ValueOf(o)
	for i := range svc.NumMethod() {
		m := svc.Method(i)
		want, ok := policy[m.Name]
		if !ok {
			t.Errorf("app.Service.%s is not in the policy table (policy_test.go, docs/api.md): decide its rule and guard it", m.Name)
			continue
		}
		for ri, role := range roles {
			ctx, cancel := context.WithCancel(ctxs[ri])
			args := []reflect.Value{reflect.ValueOf(ctx)}
			for a := 1; a < m.Type.NumIn(); a++ {
				args = append(args, argFor(m.Name, m.Type.In(a), ids[m.Name], run.ID))
			}
			outs := ov.MethodByName(m.Name).Call(args)
			cancel()
			err, _ := outs[len(outs)-1].Interface().(error)
			switch rule := want[ri]; {
			case rule == "" && (errors.Is(err, app.ErrForbidden) || errors.Is(err, app.ErrUnauthenticated) && m.Name != "Authenticate"):
				t.Errorf("%s as %s: %v; the table allows it", m.Name, role, err)
			case rule != "" && (!errors.Is(err, app.ErrForbidden) || !strings.Contains(err.Error(), rule)):
				t.Errorf("%s as %s: %v; want forbidden naming %q", m.Name, role, err, rule)
			}
		}
	}

	// The lists an ml_user is allowed hold none of zed's jobs.
	xs, err := o.ListExecutions(ctxs[0], app.ExecutionQuery{})
	if err != nil || len(xs.Executions) != 0 {
		t.Errorf("ml_user lists executions: %d, %v; want none of zed's", len(xs.Executions), err)
	}
	vs, err := o.ListEvaluations(ctxs[1], app.JobQuery{})
	if err != nil || len(vs.Evaluations) != 0 {
		t.Errorf("ml_engineer lists evaluations: %+v, %v; want none of zed's", vs, err)
	}
	runs, err := o.ListOptimizations(ctxs[1], app.JobQuery{})
	if err != nil || len(runs.Optimizations) != 0 {
		t.Errorf("ml_engineer lists optimizations: %+v, %v; want none of zed's", runs, err)
	}
	// The local principal sees them all.
	if all, err := o.ListOptimizations(bg, app.JobQuery{}); err != nil || len(all.Optimizations) != 1 {
		t.Errorf("local lists optimizations: %+v, %v", all, err)
	}
}

// argFor is an argument of type typ for method: the walk's records (the
// program "qa", zed's jobs), else a zero value that reaches the guard.
func argFor(method string, typ reflect.Type, id, run model.ID) reflect.Value {
	switch typ {
	case reflect.TypeFor[model.ID]():
		if id.IsZero() {
			id = model.NewID()
		}
		return reflect.ValueOf(id)
	case reflect.TypeFor[[]model.ID]():
		return reflect.ValueOf([]model.ID{run, run})
	case reflect.TypeFor[io.Writer]():
		return reflect.ValueOf(io.Discard)
	case reflect.TypeFor[string]():
		if method == "SetCredits" {
			return reflect.ValueOf("+") // the name is "qa" too: a user's
		}
		return reflect.ValueOf("qa")
	case reflect.TypeFor[model.ProgramStatus]():
		return reflect.ValueOf(model.Production)
	}
	if typ.Kind() == reflect.Pointer {
		p := reflect.New(typ.Elem())
		fillNames(p.Elem())
		return p
	}
	z := reflect.New(typ).Elem()
	fillNames(z)
	return z
}

// fillNames names the walk's program and dataset in a request ("qa"),
// and gives a record an ID.
func fillNames(v reflect.Value) {
	if v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case !f.CanSet():
		case f.Kind() == reflect.String && (name == "Program" || name == "Dataset" || name == "Name"):
			f.SetString("qa")
		case f.Type() == reflect.TypeFor[model.DataRef]():
			fillNames(f)
		case f.Type() == reflect.TypeFor[model.ID]() && name == "ID":
			f.Set(reflect.ValueOf(model.NewID())) // an example to restore

		}
	}
}
