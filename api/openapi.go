package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

// operation is one route of routes.go as the OpenAPI document describes
// it. The tests hold the table to the Server's routes and each row's types
// to its app.Service method's, and the document to docs/openapi.json.
type operation struct {
	pattern string // as the Server registers it: "GET /v1/programs/{name}"
	method  string // the app.Service method it calls; "" where none does
	summary string
	query   []param
	// body is the JSON request body; with file, the body is a file and
	// body's fields come in the Signet-Request header instead.
	body reflect.Type
	file bool
	// response is the JSON answer's type; for an answer that is not one
	// JSON value, contentType is its type and response (if any) the type
	// of each line.
	response    reflect.Type
	contentType string
}

// param is a query parameter: a JSON type (string, integer, boolean), or
// the schema of a Go type (of).
type param struct {
	name, typ, doc string
	of             reflect.Type
	repeated       bool
}

func typ[T any]() reflect.Type { return reflect.TypeFor[T]() }

// empty is the answer of an operation with nothing to say: {}.
var empty = typ[struct{}]()

var (
	qVersion = param{name: "version", typ: "integer", doc: "the version; 0 or absent = the newest"}
	qLimit   = param{name: "limit", typ: "integer", doc: "the page's size; 0 or absent = the default"}
	qCursor  = param{name: "cursor", typ: "string", doc: "the next_cursor of the page before"}
	qProgram = param{name: "program", typ: "string", doc: "only this program's"}
	qSplit   = param{name: "split", of: typ[model.Split](), doc: "absent = every split"}
)

// operations is every route of routes.go, in its order. A route added
// there needs its row here (TestOpenAPICoversEveryRoute says which), then
// `go test ./api -run OpenAPI -update` rewrites docs/openapi.json.
var operations = []operation{
	{pattern: "GET /v1/status", method: "Status", summary: "The owner's state: process, pool, queue", response: typ[*app.Status]()},

	{pattern: "GET /v1/programs", method: "ListPrograms", summary: "Every program (its newest version)", response: typ[[]*model.Program]()},
	{pattern: "GET /v1/program-summaries", method: "ProgramSummaries", summary: "Each named program's last run and month cost",
		query: []param{{name: "name", typ: "string", doc: "a program; repeated", repeated: true}}, response: typ[map[string]app.ProgramSummary]()},
	{pattern: "POST /v1/programs", method: "CreateProgram", summary: "Create a program (its version 1)", body: typ[model.Program](), response: typ[*model.Program]()},
	{pattern: "GET /v1/programs/{name}", method: "Program", summary: "One version of a program", query: []param{qVersion}, response: typ[*model.Program]()},
	{pattern: "PUT /v1/programs/{name}", method: "SaveProgram", summary: "Save the program's next version", body: typ[model.Program](), response: typ[*model.Program]()},
	{pattern: "DELETE /v1/programs/{name}", method: "DeleteProgram", summary: "Delete a program and its versions", response: empty},
	{pattern: "GET /v1/programs/{name}/versions", method: "ProgramVersions", summary: "Every version of a program", response: typ[[]*model.Program]()},
	{pattern: "PUT /v1/programs/{name}/status", method: "SetProgramStatus", summary: "Set a program's deployment status (draft, testing, production)",
		body: typ[statusBody](), response: typ[*model.Program]()},
	{pattern: "GET /v1/programs/{name}/flow", method: "Flow", summary: "A version's data flow", query: []param{qVersion}, response: typ[model.Flow]()},
	{pattern: "POST /v1/programs/{name}/export", method: "ExportProgram", summary: "What DSPy's save() writes for a version, or a Python file",
		body: typ[app.ExportRequest](), response: typ[*app.ExportResult]()},
	{pattern: "POST /v1/programs/{name}/import", method: "ImportProgram", summary: "Import what DSPy's save() wrote, as a new program or version",
		body: typ[app.ImportProgramRequest](), response: typ[*app.ImportProgramResult]()},
	{pattern: "PUT /v1/programs/{name}/traffic", method: "SetTrafficSplit", summary: "Split the runs that name no version between versions (A/B)",
		body: typ[model.TrafficSplit](), response: typ[*model.TrafficSplit]()},
	{pattern: "GET /v1/programs/{name}/traffic", method: "TrafficSplit", summary: "A program's traffic split", response: typ[*model.TrafficSplit]()},
	{pattern: "DELETE /v1/programs/{name}/traffic", method: "ClearTrafficSplit", summary: "Remove a program's traffic split", response: empty},
	{pattern: "GET /v1/programs/{name}/traffic/report", method: "TrafficReport", summary: "Compare the arms of a traffic split (Welch's t-test)",
		query:    []param{{name: "since", typ: "string", doc: "a Go duration (24h, 90m): the runs of the last DUR; absent = since the split was set"}},
		response: typ[*model.TrafficReport]()},
	{pattern: "POST /v1/render", method: "Render", summary: "The exact messages each predictor would send; no LM called",
		body: typ[app.RenderRequest](), response: typ[*app.RenderResult]()},

	{pattern: "GET /v1/indexes", method: "ListIndexes", summary: "Every retrieval index", response: typ[[]*model.Index]()},
	{pattern: "POST /v1/indexes", method: "BuildIndex", summary: "Build (or find up to date) an index over a dataset's field",
		body: typ[app.IndexRequest](), response: typ[*app.IndexResult]()},
	{pattern: "GET /v1/indexes/{name}", method: "Index", summary: "One index", response: typ[*model.Index]()},
	{pattern: "DELETE /v1/indexes/{name}", method: "DeleteIndex", summary: "Delete an index", response: empty},

	{pattern: "GET /v1/datasets", method: "ListDatasets", summary: "Every dataset", response: typ[[]*model.Dataset]()},
	{pattern: "GET /v1/datasets/{name}", method: "Dataset", summary: "One dataset", response: typ[*model.Dataset]()},
	{pattern: "DELETE /v1/datasets/{name}", method: "DeleteDataset", summary: "Delete a dataset and its examples", response: empty},
	{pattern: "POST /v1/datasets/{name}/rename", method: "RenameDataset", summary: "Give a dataset a new name",
		body: typ[renameBody](), response: typ[*model.Dataset]()},
	{pattern: "GET /v1/datasets/{name}/stats", method: "DatasetStats", summary: "A dataset's statistics", response: typ[*model.DatasetStats]()},
	{pattern: "GET /v1/datasets/{name}/examples", method: "ListExamples", summary: "A page of a dataset's examples",
		query: []param{qSplit, qCursor, qLimit}, response: typ[*app.ExamplePage]()},
	{pattern: "GET /v1/datasets/{name}/examples/{id}", method: "Example", summary: "One example", response: typ[*model.Example]()},
	{pattern: "GET /v1/datasets/{name}/at", method: "ExampleAt", summary: "The n-th example (from 0) of a dataset or a split",
		query: []param{qSplit, {name: "n", typ: "integer", doc: "the position, from 0"}}, response: typ[*model.Example]()},
	{pattern: "PUT /v1/datasets/{name}/examples", method: "PutExample", summary: "Add an example (no id) or replace one",
		body: typ[model.Example](), response: typ[*model.Example]()},
	{pattern: "POST /v1/datasets/{name}/examples/restore", method: "RestoreExample", summary: "Put a deleted example back with its id",
		body: typ[model.Example](), response: typ[*model.Example]()},
	{pattern: "DELETE /v1/datasets/{name}/examples/{id}", method: "DeleteExample", summary: "Delete an example", response: empty},
	{pattern: "POST /v1/datasets/{name}/import", method: "ImportDataset", summary: "Import a dataset file (the body), all or nothing",
		body: typ[app.ImportDatasetRequest](), file: true, response: typ[*app.ImportDatasetResult]()},
	{pattern: "GET /v1/datasets/{name}/export", method: "ExportDataset", summary: "A dataset (or a split) as a file",
		query: []param{qSplit, {name: "format", typ: "string", doc: "jsonl, json or csv"}}, contentType: "application/octet-stream"},

	{pattern: "GET /v1/backup", method: "Backup", summary: "A full backup of the store, streamed (an error after the first byte comes in the Signet-Error trailer)",
		contentType: "application/octet-stream"},
	{pattern: "GET /v1/store/check", method: "CheckStore", summary: "Read every record and check the indexes", response: typ[*app.StoreCheck]()},

	{pattern: "POST /v1/executions", method: "Run", summary: "Run a program once (with wait: answer once it has ended)",
		body: typ[app.RunRequest](), response: typ[*model.Execution]()},
	{pattern: "POST /v1/batches", method: "RunBatch", summary: "Run a program on every example of a dataset",
		body: typ[app.BatchRequest](), response: typ[*app.Batch]()},
	{pattern: "GET /v1/executions", method: "ListExecutions", summary: "A page of executions, newest first",
		query: []param{qProgram, {name: "state", of: typ[model.RunState](), doc: "only executions in this state"}, qCursor, qLimit}, response: typ[*app.ExecutionPage]()},
	{pattern: "POST /v1/traces/import", method: "ImportTraces", summary: "Import OpenTelemetry traces (the body: OTLP/JSON) as ended executions with their spans",
		body: typ[app.ImportTracesRequest](), file: true, response: typ[*app.ImportTracesResult]()},
	{pattern: "POST /v1/executions/resume", method: "ResumeExecutions", summary: "Recover what an interrupted owner left and run it",
		response: typ[*app.Recovered]()},
	{pattern: "GET /v1/lm-profiles", method: "LMProfiles", summary: "The LM profiles a run may name", response: typ[[]app.LMProfile]()},
	{pattern: "GET /v1/executions/{id}", method: "Execution", summary: "One execution", response: typ[*model.Execution]()},
	{pattern: "GET /v1/executions/{id}/spans", method: "Spans", summary: "A page of an execution's trace",
		query: []param{{name: "after", typ: "integer", doc: "the sequence number after which the page starts"}, qLimit}, response: typ[*app.SpanPage]()},
	{pattern: "POST /v1/executions/{id}/feedback", method: "Feedback", summary: "Score an ended execution (one feedback per execution)",
		body: typ[app.FeedbackRequest](), response: typ[*model.Execution]()},
	{pattern: "POST /v1/executions/{id}/cancel", method: "CancelExecution", summary: "Cancel an execution", response: typ[*model.Execution]()},

	{pattern: "POST /v1/evaluations", method: "Evaluate", summary: "Evaluate a program version on a dataset with a metric",
		body: typ[app.EvaluateRequest](), response: typ[*model.Evaluation]()},
	{pattern: "GET /v1/evaluations", method: "ListEvaluations", summary: "A page of evaluations, newest first",
		query: []param{qProgram, qCursor, qLimit}, response: typ[*app.EvaluationPage]()},
	{pattern: "GET /v1/evaluations/{id}", method: "Evaluation", summary: "An evaluation with its per-example results", response: typ[*app.EvaluationDetail]()},
	{pattern: "POST /v1/evaluations/{id}/cancel", method: "CancelEvaluation", summary: "Cancel an evaluation", response: typ[*model.Evaluation]()},

	{pattern: "POST /v1/optimizations/estimate", method: "EstimateOptimization", summary: "The run an optimization would submit, with its estimate; not stored",
		body: typ[app.OptimizeRequest](), response: typ[*model.Optimization]()},
	{pattern: "POST /v1/optimizations", method: "Optimize", summary: "Compile a program version with a DSPy optimizer",
		body: typ[app.OptimizeRequest](), response: typ[*model.Optimization]()},
	{pattern: "GET /v1/optimizations", method: "ListOptimizations", summary: "A page of optimization runs, newest first",
		query: []param{qProgram, qCursor, qLimit}, response: typ[*app.OptimizationPage]()},
	{pattern: "GET /v1/optimizations/compare", method: "CompareOptimizations", summary: "Runs side by side, with score against cost",
		query: []param{{name: "id", of: idType, doc: "a run; repeated", repeated: true}}, response: typ[*app.Comparison]()},
	{pattern: "GET /v1/optimizations/{id}", method: "Optimization", summary: "One optimization run", response: typ[*model.Optimization]()},
	{pattern: "GET /v1/optimizations/{id}/trials", method: "Trials", summary: "A run's trials", response: typ[[]*model.Trial]()},
	{pattern: "GET /v1/optimizations/{id}/detail", method: "OptimizationDetail", summary: "A run with its trials and the examples they name",
		response: typ[*app.OptimizationDetail]()},
	{pattern: "POST /v1/optimizations/{id}/cancel", method: "CancelOptimization", summary: "Cancel a run", response: typ[*model.Optimization]()},
	{pattern: "POST /v1/optimizations/{id}/promote", method: "PromoteOptimization", summary: "Make a run's result the program's newest version",
		query: []param{{name: "force", typ: "boolean", doc: "promote a result that scored below its baseline"}}, response: typ[*app.Promoted]()},

	{pattern: "GET /v1/cost", method: "Cost", summary: "Cost per program per month, against the budgets",
		query: []param{qProgram, {name: "month", typ: "string", doc: "2006-01; absent = every month"},
			{name: "days", typ: "boolean", doc: "also the cost per day of month"}}, response: typ[*app.CostReport]()},
	{pattern: "PUT /v1/budgets", method: "SetBudget", summary: "Set a monthly cap in USD (a program's, or the workspace's); 0 removes it",
		body: typ[budgetBody](), response: empty},

	{pattern: "GET /v1/pool", method: "Pool", summary: "The worker pool", response: typ[*app.PoolStatus]()},
	{pattern: "POST /v1/pool/start", method: "StartPool", summary: "Start the pool if it does not run", response: typ[*app.PoolStatus]()},
	{pattern: "POST /v1/pool/restart", method: "RestartWorker", summary: "Kill a worker (0: every one); the supervisor starts another",
		query: []param{{name: "worker", typ: "integer", doc: "the worker's id; 0 = every worker"}}, response: typ[*app.PoolStatus]()},
	{pattern: "POST /v1/pool/recycle", method: "RecycleWorker", summary: "Replace a worker once idle",
		query: []param{{name: "worker", typ: "integer", doc: "the worker's id; 0 = every worker"}}, response: typ[*app.PoolStatus]()},

	{pattern: "POST /v1/users", method: "AddUser", summary: "Add a user", body: typ[model.User](), response: typ[*model.User]()},
	{pattern: "GET /v1/users", method: "ListUsers", summary: "Every user", response: typ[[]*model.User]()},
	{pattern: "GET /v1/users/{name}", method: "User", summary: "A user with its tokens (never their values)", response: typ[*app.UserDetail]()},
	{pattern: "POST /v1/users/{name}/credits", method: "SetCredits", summary: "Add (+), take (-) or set (=) a user's credits",
		body: typ[creditsBody](), response: typ[*model.User]()},
	{pattern: "POST /v1/users/{name}/tokens", method: "CreateToken", summary: "Create a token (its value is in this answer only)",
		body: typ[tokenBody](), response: typ[*app.NewToken]()},
	{pattern: "POST /v1/tokens/{id}/revoke", method: "RevokeToken", summary: "Revoke a token", response: typ[*app.TokenInfo]()},
	{pattern: "GET /v1/audit", method: "Audit", summary: "The audit trail, newest first",
		query: []param{{name: "limit", typ: "integer", doc: "how many records; 0 = the default"}}, response: typ[[]*model.AuditRecord]()},
	{pattern: "POST /v1/authenticate", method: "Authenticate", summary: "Who a token's holder is",
		body: typ[authBody](), response: typ[*app.Principal]()},

	{pattern: "GET /v1/events", method: "Subscribe", summary: "The live stream of changes: one JSON event a line until the client goes (server-sent events with Accept: text/event-stream, each event's data the same line)",
		query: []param{{name: "hold", typ: "boolean", doc: "the owner waits for this stream before it stops"},
			{name: "spans", typ: "boolean", doc: "false: no span events (default true)"},
			{name: "ended", typ: "boolean", doc: "an execution's event only once it has ended"},
			{name: "execution", typ: "string", doc: "follow this execution only (its events and spans)"},
			{name: "optimization", typ: "string", doc: "follow this optimization only"}},
		response: typ[app.Event](), contentType: "application/x-ndjson"},
	{pattern: "GET /v1/openapi.json", summary: "This document", contentType: "application/json"},
}

// errorStatuses are the statuses of the error body (ErrorBody) every
// operation may answer with (statusOf), and what each means.
var errorStatuses = []struct {
	status int
	what   string
}{
	{400, "invalid: a request that cannot be done as asked (a bad field, a bad file)"},
	{401, "unauthenticated: no valid bearer token (HTTP face only)"},
	{402, "payment_required: an execution by a user without credits left"},
	{403, "forbidden: a policy's refusal, naming its rule"},
	{404, "not_found: no such program, dataset, execution, route, ..."},
	{409, "exists, finished, budget or regressed: a create of something that exists, a cancel of a job that ended, a monthly cap, a promote below baseline"},
	{500, "internal: a bug, or a failure nobody can act on"},
	{503, "unavailable: the owner is stopping, or the pool cannot start"},
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// OpenAPI is the OpenAPI 3.1 document of the /v1 API, generated from the
// route table and the Go types of its bodies.
func OpenAPI() ([]byte, error) { return openAPIDoc() }

var openAPIDoc = sync.OnceValues(func() ([]byte, error) {
	b, err := json.MarshalIndent(openAPI(false), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
})

// OpenAPIHandler answers GET /v1/openapi.json.
func OpenAPIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := OpenAPI()
		if err != nil {
			writeError(w, app.Errorf(app.CodeInternal, "the OpenAPI document: %w", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

// openAPI is the document; closed, its answers' objects may have no
// member but their fields (what the tests hold live answers to).
func openAPI(closed bool) schema {
	answers, requests := []reflect.Type{typ[ErrorBody]()}, []reflect.Type{}
	for _, op := range operations {
		answers, requests = append(answers, op.response), append(requests, op.body)
	}
	s := newSchemas(answers, requests, closed)
	errors := schema{}
	for _, e := range errorStatuses {
		errors[strconv.Itoa(e.status)] = schema{"description": e.what,
			"content": schema{"application/json": schema{"schema": s.ref(typ[ErrorBody](), false)}}}
	}
	paths := schema{}
	for _, op := range operations {
		method, path, _ := strings.Cut(op.pattern, " ")
		item, _ := paths[path].(schema)
		if item == nil {
			item = schema{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = s.operation(op, path)
	}
	return schema{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"info": schema{
			"title":   "Signet API",
			"version": Version,
			"description": "The application service of a Signet workspace over HTTP/JSON (docs/api.md). " +
				"The same routes answer on the owner's unix socket, which needs no token (the socket's " +
				"permissions and peer check admit the workspace's own user), and on `signet serve --http`, " +
				"where every request carries a bearer token.",
		},
		"paths": paths,
		"components": schema{
			"schemas":   s.defs,
			"responses": errors,
			"securitySchemes": schema{"bearer": schema{"type": "http", "scheme": "bearer",
				"description": "A token of `signet token create` (HTTP only; the unix socket needs none)."}},
		},
		"security": []any{schema{"bearer": []string{}}},
	}
}

// operation is op's Operation Object.
func (s *schemas) operation(op operation, path string) schema {
	id := op.method
	if id == "" {
		id = "OpenAPI"
	}
	out := schema{"operationId": id, "summary": op.summary, "tags": []string{tag(path)}}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		sc := schema{"type": "string"}
		if m[1] == "id" {
			sc = s.ref(idType, false)
		}
		params = append(params, schema{"name": m[1], "in": "path", "required": true, "schema": sc})
	}
	for _, q := range op.query {
		sc := schema{"type": q.typ}
		if q.of != nil {
			sc = s.ref(q.of, false)
		}
		// The ranges intParam holds numbers to.
		if rg, ok := numRanges[q.name]; ok && q.typ == "integer" {
			sc["minimum"] = rg.lo
			if rg.hi != 0 {
				sc["maximum"] = rg.hi
			}
		}
		p := schema{"name": q.name, "in": "query", "description": q.doc, "schema": sc}
		if q.repeated {
			p["schema"] = schema{"type": "array", "items": sc}
			p["explode"] = true
		}
		params = append(params, p)
	}
	if op.body != nil && op.file {
		params = append(params, schema{"name": requestHeader, "in": "header",
			"description": "the request's fields, as JSON: the body is the file",
			"content":     schema{"application/json": schema{"schema": s.inputs.ref(op.body, false)}}})
		out["requestBody"] = schema{"required": true, "content": schema{"application/octet-stream": schema{}}}
	} else if op.body != nil {
		out["requestBody"] = schema{"required": true, "content": schema{"application/json": schema{"schema": s.inputs.ref(op.body, false)}}}
	}
	if params != nil {
		out["parameters"] = params
	}
	ok := schema{"description": op.summary}
	switch {
	case op.contentType == "application/x-ndjson":
		// One JSON value a line: the schema is each line's.
		ok["description"] = op.summary + "; the schema is each line's"
		ok["content"] = schema{op.contentType: schema{"schema": s.ref(op.response, false)},
			"text/event-stream": schema{"schema": schema{"type": "string", "description": "event: KIND, data: the same JSON line"}}}
	case op.contentType == "application/octet-stream":
		ok["content"] = schema{op.contentType: schema{}}
	case op.contentType != "":
		ok["content"] = schema{op.contentType: schema{"schema": schema{"type": "object"}}}
	default:
		ok["content"] = schema{"application/json": schema{"schema": s.ref(op.response, false)}}
	}
	responses := schema{"200": ok}
	for _, e := range errorStatuses {
		responses[strconv.Itoa(e.status)] = schema{"$ref": "#/components/responses/" + strconv.Itoa(e.status)}
	}
	out["responses"] = responses
	return out
}

// tag groups operations by their path's first element after /v1.
func tag(path string) string {
	rest := strings.TrimPrefix(path, "/"+Version+"/")
	first, _, _ := strings.Cut(rest, "/")
	return first
}
