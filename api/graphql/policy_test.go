package graphql_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api/graphql"
	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// The service's policies decide over GraphQL as over REST: each refusal is
// an error whose extensions.code is the service's code and whose message
// names the rule.
func TestPolicies(t *testing.T) {
	s := start(t)
	s.create(t, "qa")
	ann := s.user(t, "ann", model.RoleMLUser, 5)
	bob := s.user(t, "bob", model.RoleMLUser, 0)
	eve := s.user(t, "eve", model.RoleMLEngineer, 0)
	vars := func(q string) map[string]any {
		return map[string]any{"p": "qa", "in": map[string]any{"question": q}, "wait": true}
	}

	// execute: an ml_user only on a program in production.
	s.refused(t, ann, executeMutation, vars("Where is Oslo?"), "forbidden",
		"ann (ml_user) may not execute program:qa", "an ml_user only runs programs in production (qa is draft)")
	s.refused(t, eve, executeMutation, vars("Where is Oslo?"), "forbidden", `rule "execute: admin or ml_user"`)
	s.deploy(t, "qa")
	x := s.execute(t, ann, "qa", "Where is Oslo?", true)
	if x.State != "COMPLETED" || x.Outputs["answer"] != "Oslo" || x.User != "ann" {
		t.Fatalf("ann executes qa in production: %+v", x)
	}
	// ... and while the user has credits.
	s.refused(t, bob, executeMutation, vars("Where is Oslo?"), "payment_required", "bob has no credits left")

	// compile: ml_engineer or admin.
	compile := `mutation($in: JSON!) { compileProgram(input: $in) { id state } }`
	req := map[string]any{"in": map[string]any{"program": "qa", "optimizer": "bootstrap",
		"train": map[string]any{"dataset": "none"}, "metric": map[string]any{"name": "exact_match"}}}
	s.refused(t, ann, compile, req, "forbidden", "ann (ml_user) may not compile program:qa", `rule "compile: admin or ml_engineer"`)
	// eve may: the service goes on to the dataset, which does not exist.
	s.refused(t, eve, compile, req, "not_found", "none")
	s.refused(t, eve, compile, map[string]any{"in": map[string]any{"program": "qa", "budget": "lots"}}, "invalid", "compileProgram input")
	if _, err := s.o.ImportDataset(context.Background(), app.ImportDatasetRequest{Name: "caps", File: "caps.jsonl", Split: model.Train,
		Data: strings.NewReader(`{"question": "Where is Paris?", "answer": "Paris"}` + "\n" + `{"question": "Where is Rome?", "answer": "Rome"}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	req["in"].(map[string]any)["train"] = map[string]any{"dataset": "caps"}
	var compiled struct {
		CompileProgram struct {
			ID, Program, Optimizer, State, Created string
			BaseVersion                            int
		}
	}
	s.ok(t, eve, `mutation($in: JSON!) { compileProgram(input: $in) { id program optimizer state baseVersion created } }`, req, &compiled)
	run := compiled.CompileProgram
	if run.ID == "" || run.Program != "qa" || run.Optimizer == "" || run.BaseVersion == 0 || run.Created == "" ||
		(run.State != "PENDING" && run.State != "RUNNING") {
		t.Fatalf("eve compiles qa: %+v", run)
	}
	id, err := model.ParseID(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.o.CancelOptimization(context.Background(), id); err != nil && !errors.Is(err, app.ErrFinished) {
		t.Fatal(err) // it was only to be started: no need to spend the test's time on it
	}

	// read: one's own executions; the local user's are not ann's.
	mine := s.execute(t, "", "qa", "Where is Lima?", true)
	s.refused(t, ann, `query($id: ID!) { execution(id: $id) { id } }`, map[string]any{"id": mine.ID}, "forbidden", "ann (ml_user) may not read execution:"+mine.ID)
	var own struct{ Execution struct{ ID string } }
	s.ok(t, ann, `query($id: ID!) { execution(id: $id) { id } }`, map[string]any{"id": x.ID}, &own)
	if own.Execution.ID != x.ID {
		t.Fatalf("ann reads her execution: %+v", own)
	}
	var list struct {
		Executions struct{ Executions []struct{ ID, User string } }
	}
	s.ok(t, ann, `{ executions { executions { id user } } }`, nil, &list)
	if len(list.Executions.Executions) != 1 || list.Executions.Executions[0].ID != x.ID {
		t.Fatalf("ann lists executions: %+v, want her one (%s)", list, x.ID)
	}
	s.ok(t, "", `{ executions { executions { id user } } }`, nil, &list)
	if len(list.Executions.Executions) != 2 {
		t.Fatalf("the local user lists executions: %+v, want both", list)
	}

	// A principal whose user is gone (the HTTP server read it before) is
	// unauthenticated, by the service.
	ghost := &app.Principal{Name: "ghost", Role: model.RoleAdmin}
	h := graphql.NewHandler(s.o)
	gts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(app.WithPrincipal(r.Context(), ghost)))
	}))
	defer gts.Close()
	gs := &server{o: s.o, url: gts.URL}
	gs.refused(t, "", `{ executions { executions { id } } }`, nil, "unauthenticated", `user "ghost" no longer exists`)
}
