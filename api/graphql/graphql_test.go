package graphql_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/signet-dspy/signet/api"
	"github.com/signet-dspy/signet/model"
)

// Every query and mutation round-trips through the handler to a real owner
// and its Python worker on the test LM.
func TestQueriesAndMutations(t *testing.T) {
	s := start(t)

	// createProgram takes the program as the REST API's JSON.
	var created struct {
		CreateProgram struct {
			Name, Status, Description, Created string
			Version                            int
			Modules                            []struct{ Name, Type, Signature string }
		}
	}
	s.ok(t, "", createMutation, map[string]any{"in": qaProgram("qa")}, &created)
	p := created.CreateProgram
	if p.Name != "qa" || p.Version != 1 || p.Status != "DRAFT" || p.Description != "answers questions" || p.Created == "" ||
		len(p.Modules) != 1 || p.Modules[0].Type != "predict" || p.Modules[0].Signature != "question -> answer" {
		t.Fatalf("createProgram: %+v", p)
	}
	bad := qaProgram("odd")
	bad["colour"] = "blue"
	s.refused(t, "", createMutation, map[string]any{"in": bad}, "invalid", "createProgram input", "colour")
	s.refused(t, "", createMutation, map[string]any{"in": qaProgram("qa")}, "exists", "qa")

	// program, programs.
	var got struct {
		Program  struct{ Name, Status string }
		Programs []struct{ Name string }
	}
	s.ok(t, "", `{ program(name: "qa") { name status } programs { name } }`, nil, &got)
	if got.Program.Name != "qa" || got.Program.Status != "DRAFT" || len(got.Programs) != 1 || got.Programs[0].Name != "qa" {
		t.Fatalf("program, programs: %+v", got)
	}
	s.refused(t, "", `{ program(name: "nope") { name } }`, nil, "not_found", "nope")
	s.refused(t, "", `{ program(name: "qa", version: 7) { name } }`, nil, "not_found")

	// deployProgram is SetProgramStatus: production unless told.
	var deployed struct {
		DeployProgram struct {
			Status, Note string
			Version      int
		}
	}
	s.ok(t, "", `mutation { deployProgram(name: "qa", note: "ship it") { status note } }`, nil, &deployed)
	if deployed.DeployProgram.Status != "PRODUCTION" || deployed.DeployProgram.Note != "ship it" {
		t.Fatalf("deployProgram: %+v", deployed)
	}
	s.ok(t, "", `mutation { deployProgram(name: "qa", status: TESTING) { status version } }`, nil, &deployed)
	if deployed.DeployProgram.Status != "TESTING" {
		t.Fatalf("deployProgram TESTING: %+v", deployed)
	}

	// executeProgram with wait answers with the outputs.
	x := s.execute(t, "", "qa", "What is the capital of France?", true)
	if x.State != "COMPLETED" || x.Outputs["answer"] != "France" || x.Program != "qa" || x.Version != deployed.DeployProgram.Version ||
		x.Tokens <= 0 || x.LatencyMs == nil || x.Ended == nil || x.User != "" || x.Error != "" {
		t.Fatalf("executeProgram wait: %+v", x)
	}
	// Without wait it answers at once; execution(id) reads it.
	y := s.execute(t, "", "qa", "Where is Rome?", false)
	if y.ID == "" || y.ID == x.ID || y.Inputs["question"] != "Where is Rome?" {
		t.Fatalf("executeProgram: %+v", y)
	}
	s.refused(t, "", `{ execution(id: "nope") { id } }`, nil, "invalid", "id")
	s.refused(t, "", `query($id: ID!) { execution(id: $id) { id } }`, map[string]any{"id": model.NewID().String()}, "not_found")
	s.refused(t, "", executeMutation, map[string]any{"p": "nope", "in": map[string]any{"question": "Who?"}}, "not_found", "nope")
	s.refused(t, "", `{ execution(id: $id) { id } }`, nil, "GRAPHQL_VALIDATION_FAILED")

	// execution with its spans (svc.Spans).
	var one struct {
		Execution struct {
			ID, State string
			Outputs   map[string]any
			Spans     struct {
				Spans []struct {
					Seq          int
					Kind, Name   string
					PromptTokens int
					Messages     []struct{ Role, Content string }
				}
				Next *int
			}
		}
	}
	s.ok(t, "", `query($id: ID!) { execution(id: $id) { id state outputs spans { spans { seq kind name promptTokens messages { role content } } next } } }`,
		map[string]any{"id": x.ID}, &one)
	if one.Execution.ID != x.ID || one.Execution.Outputs["answer"] != "France" || len(one.Execution.Spans.Spans) == 0 || one.Execution.Spans.Next != nil {
		t.Fatalf("execution %s: %+v", x.ID, one)
	}
	lm := false
	for _, sp := range one.Execution.Spans.Spans {
		if sp.Kind == string(model.SpanLM) && sp.PromptTokens > 0 && len(sp.Messages) > 0 &&
			strings.Contains(sp.Messages[len(sp.Messages)-1].Content, "capital of France") {
			lm = true
		}
	}
	if !lm {
		t.Errorf("execution %s: no LM span with the question in its messages: %+v", x.ID, one.Execution.Spans.Spans)
	}
	var paged struct {
		Execution struct {
			Spans struct {
				Spans []struct{ Seq int }
				Next  *int
			}
		}
	}
	s.ok(t, "", `query($id: ID!) { execution(id: $id) { spans(first: 1) { spans { seq } next } } }`, map[string]any{"id": x.ID}, &paged)
	if len(paged.Execution.Spans.Spans) != 1 || paged.Execution.Spans.Next == nil || *paged.Execution.Spans.Next != paged.Execution.Spans.Spans[0].Seq {
		t.Fatalf("a page of one span: %+v", paged)
	}

	// executions: newest first, a page at a time, by state.
	s.execute(t, "", "qa", "Is Berlin big?", true)
	var list struct {
		Executions struct {
			Executions []struct{ ID, State string }
			NextCursor *string
		}
	}
	listQuery := `query($after: String) { executions(program: "qa", first: 2, after: $after) { executions { id state } nextCursor } }`
	s.ok(t, "", listQuery, nil, &list)
	if len(list.Executions.Executions) != 2 || list.Executions.NextCursor == nil {
		t.Fatalf("executions page 1: %+v", list)
	}
	first := list.Executions.Executions
	s.ok(t, "", listQuery, map[string]any{"after": *list.Executions.NextCursor}, &list)
	if len(list.Executions.Executions) != 1 || list.Executions.NextCursor != nil || list.Executions.Executions[0].ID != x.ID {
		t.Fatalf("executions page 2: %+v (page 1 %+v; the first run %s)", list, first, x.ID)
	}
	s.ok(t, "", `{ executions(program: "other") { executions { id } nextCursor } }`, nil, &list)
	if len(list.Executions.Executions) != 0 {
		t.Fatalf("executions of another program: %+v", list)
	}
	s.ok(t, "", `{ executions(state: FAILED) { executions { id } nextCursor } }`, nil, &list)
	if len(list.Executions.Executions) != 0 {
		t.Fatalf("failed executions: %+v", list)
	}
	s.ok(t, "", `{ executions(state: COMPLETED, first: 10) { executions { id state } nextCursor } }`, nil, &list)
	if n := len(list.Executions.Executions); n < 2 || list.Executions.Executions[n-1].ID != x.ID || list.Executions.Executions[n-1].State != "COMPLETED" {
		t.Fatalf("completed executions: %+v, want the first run (%s) last", list, x.ID)
	}

	// A body over the REST routes' limit is refused before it is read whole.
	huge := qaProgram("huge")
	huge["description"] = strings.Repeat("x", api.MaxBody)
	if a := s.post(t, "", createMutation, map[string]any{"in": huge}); len(a.Errors) != 1 || !strings.Contains(a.Errors[0].Message, "too large") {
		t.Fatalf("a body over %d bytes: %+v", api.MaxBody, a.Errors)
	}

	// GET serves queries (not mutations).
	q := url.Values{"query": {`{ programs { name } }`}}
	req, _ := http.NewRequest(http.MethodGet, s.url+"?"+q.Encode(), nil)
	if a := s.send(t, "", req); len(a.Errors) != 0 || !strings.Contains(string(a.Data), `"qa"`) {
		t.Fatalf("GET query: %+v %s", a.Errors, a.Data)
	}
	q = url.Values{"query": {`mutation { deployProgram(name: "qa") { status } }`}}
	req, _ = http.NewRequest(http.MethodGet, s.url+"?"+q.Encode(), nil)
	if a := s.send(t, "", req); len(a.Errors) == 0 {
		t.Fatalf("GET mutation: %s, want an error", a.Data)
	}
}

// One query cannot walk the store: a page's complexity is its size times
// its items', and the limit refuses a page of executions with their spans,
// whatever first says; introspection stays within it.
func TestComplexityLimit(t *testing.T) {
	s := start(t)
	s.refused(t, "", `{ executions(first: 50) { executions { id spans { spans { seq name } } } } }`, nil, "COMPLEXITY_LIMIT_EXCEEDED")
	s.refused(t, "", `{ executions(first: 100000) { executions { id } } }`, nil, "COMPLEXITY_LIMIT_EXCEEDED")
	// A non-positive first is the service's default page, and costs as much.
	s.refused(t, "", `{ executions(first: -5) { executions { id spans(first: 1000) { spans { seq } } } } }`, nil, "COMPLEXITY_LIMIT_EXCEEDED")
	var schema struct {
		Schema struct{ Types []struct{ Name string } } `json:"__schema"`
	}
	s.ok(t, "", introspection, nil, &schema)
	names := map[string]bool{}
	for _, ty := range schema.Schema.Types {
		names[ty.Name] = true
	}
	for _, want := range []string{"Program", "Execution", "Span", "Optimization", "JSON", "ExecutionState", "Subscription"} {
		if !names[want] {
			t.Errorf("introspection: no type %s in %v", want, names)
		}
	}
}

// introspection is the core of the query GraphQL tools send.
const introspection = `query {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { kind name description
      fields(includeDeprecated: true) { name args { name type { kind name ofType { kind name ofType { kind name } } } }
        type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
      inputFields { name type { kind name ofType { kind name } } }
      enumValues(includeDeprecated: true) { name } }
    directives { name locations args { name } }
  }
}`
