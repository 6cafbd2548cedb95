// Package app is Signet's one application service: every operation a user
// can ask of a workspace, as typed Go methods taking a context.
//
// The workspace's owner implements Service over its store, its worker pool
// and its job kernel (package app/owner); any other Signet process on the
// workspace implements the same interface over the owner's socket (package
// api). The CLI and the workbench hold one Service and never know which side
// they are on. This package holds the contract only: the interface, its
// request and answer types, its events and its errors; it imports nothing of
// Signet's but model.
package app

import (
	"context"
	"io"
	"time"

	"github.com/signet-dspy/signet/model"
)

// Service is everything a user can do with a workspace.
type Service interface {
	Programs
	Datasets
	Indexes
	Executions
	Evaluations
	Optimizations
	Costs
	Workers
	Events
	Store
	Users
	// Status is the owner's state: process, pool, queue.
	Status(ctx context.Context) (*Status, error)
}

// Programs are versioned DSPy programs (model.Program): every save is a new
// immutable version.
type Programs interface {
	ListPrograms(ctx context.Context) ([]*model.Program, error)
	// ProgramSummaries are each named program's last run and month cost.
	ProgramSummaries(ctx context.Context, names []string) (map[string]ProgramSummary, error)
	// Program is one version; version 0 is the newest.
	Program(ctx context.Context, name string, version int) (*model.Program, error)
	ProgramVersions(ctx context.Context, name string) ([]*model.Program, error)
	CreateProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	// SaveProgram stores p as the program's next version.
	SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error)
	SetProgramStatus(ctx context.Context, name string, status model.ProgramStatus, note string) (*model.Program, error)
	DeleteProgram(ctx context.Context, name string) error
	// Flow is a program version's data flow (a worker reads the fields of a
	// custom module without a signature).
	Flow(ctx context.Context, name string, version int) (model.Flow, error)
	// Render is the exact messages each predictor would send, no LM called.
	Render(ctx context.Context, req RenderRequest) (*RenderResult, error)
	// ExportProgram is what DSPy's save() writes for a version (or one
	// standalone Python file).
	ExportProgram(ctx context.Context, req ExportRequest) (*ExportResult, error)
	// ImportProgram takes what DSPy's save() wrote, into a new program or a
	// new version of one.
	ImportProgram(ctx context.Context, req ImportProgramRequest) (*ImportProgramResult, error)
	// SetTrafficSplit divides the runs of a program that name no version
	// among its versions (an A/B test; see RunRequest.Key), replacing any
	// split before.
	SetTrafficSplit(ctx context.Context, split model.TrafficSplit) (*model.TrafficSplit, error)
	// TrafficSplit is a program's split: not_found when it has none.
	TrafficSplit(ctx context.Context, program string) (*model.TrafficSplit, error)
	ClearTrafficSplit(ctx context.Context, program string) error
	// TrafficReport compares the arms on the runs the split routed.
	TrafficReport(ctx context.Context, q TrafficQuery) (*model.TrafficReport, error)
}

// Indexes are retrieval indexes over a dataset's field (model.Index), that
// retrieve modules search by name.
type Indexes interface {
	// BuildIndex builds (or finds up to date) the index req names; its
	// progress is published as EventIndex events.
	BuildIndex(ctx context.Context, req IndexRequest) (*IndexResult, error)
	ListIndexes(ctx context.Context) ([]*model.Index, error)
	Index(ctx context.Context, name string) (*model.Index, error)
	DeleteIndex(ctx context.Context, name string) error
}

// Datasets are named sets of examples, split into train, validation and test.
type Datasets interface {
	ListDatasets(ctx context.Context) ([]*model.Dataset, error)
	Dataset(ctx context.Context, name string) (*model.Dataset, error)
	// ListExamples is a page of a dataset's examples (a split's, or all).
	ListExamples(ctx context.Context, q ExampleQuery) (*ExamplePage, error)
	Example(ctx context.Context, dataset string, id model.ID) (*model.Example, error)
	// ExampleAt is the n-th example (from 0) of a dataset or one split.
	ExampleAt(ctx context.Context, dataset string, split model.Split, n int) (*model.Example, error)
	// PutExample adds an example (no ID) or replaces one.
	PutExample(ctx context.Context, e *model.Example) (*model.Example, error)
	DeleteExample(ctx context.Context, dataset string, id model.ID) error
	// ImportDataset reads a dataset file, all or nothing.
	ImportDataset(ctx context.Context, req ImportDatasetRequest) (*ImportDatasetResult, error)
	// ExportDataset writes a dataset as a file to w.
	ExportDataset(ctx context.Context, req ExportDatasetRequest, w io.Writer) error
	DatasetStats(ctx context.Context, name string) (*model.DatasetStats, error)
	DeleteDataset(ctx context.Context, name string) error
	// RestoreExample puts a deleted example back with its ID, split and
	// data (the undo of DeleteExample); exists if the ID is there.
	RestoreExample(ctx context.Context, e *model.Example) (*model.Example, error)
	// RenameDataset gives a dataset a new name (its examples new IDs): a
	// copy under the new name, then the old one deleted.
	RenameDataset(ctx context.Context, name, to string) (*model.Dataset, error)
}

// Executions are runs of a program on one input: jobs of the kernel.
type Executions interface {
	// Run submits one execution; with Wait it answers once it has ended.
	Run(ctx context.Context, req RunRequest) (*model.Execution, error)
	// RunBatch submits one execution per example of a dataset.
	RunBatch(ctx context.Context, req BatchRequest) (*Batch, error)
	ListExecutions(ctx context.Context, q ExecutionQuery) (*ExecutionPage, error)
	Execution(ctx context.Context, id model.ID) (*model.Execution, error)
	// Spans is a page of an execution's trace after sequence number after.
	Spans(ctx context.Context, id model.ID, after uint64, limit int) (*SpanPage, error)
	CancelExecution(ctx context.Context, id model.ID) (*model.Execution, error)
	// Feedback gives an ended execution a score (one per execution: a
	// second replaces the first), which the traffic report compares.
	Feedback(ctx context.Context, id model.ID, f FeedbackRequest) (*model.Execution, error)
	// ImportTraces reads OpenTelemetry traces (OTLP/JSON) into ended
	// executions with their spans, one per trace, marked imported by an LM
	// of "otlp:…": they ran elsewhere, nothing re-runs them.
	ImportTraces(ctx context.Context, req ImportTracesRequest) (*ImportTracesResult, error)
	// ResumeExecutions recovers what an interrupted owner left and runs
	// every pending execution to its end; it answers once they are queued
	// again, with what it recovered (the executions' events say when they
	// end).
	ResumeExecutions(ctx context.Context) (*Recovered, error)
	// LMProfiles are the LM profiles a run may name (the config's and the
	// built-in ones), in name order.
	LMProfiles(ctx context.Context) ([]LMProfile, error)
}

// LMProfile is an LM profile as a run form offers it; no key value.
type LMProfile struct {
	Name    string `json:"name"`
	Model   string `json:"model"`
	Default bool   `json:"default,omitempty"` // what a run without one uses
	// KeyUnset is the key variable the profile reads when it is not set:
	// a run with it fails until it is.
	KeyUnset string `json:"key_unset,omitempty"`
}

// Evaluations score a program version on a dataset with a metric, as
// dspy.Evaluate does.
type Evaluations interface {
	Evaluate(ctx context.Context, req EvaluateRequest) (*model.Evaluation, error)
	ListEvaluations(ctx context.Context, q JobQuery) (*EvaluationPage, error)
	Evaluation(ctx context.Context, id model.ID) (*EvaluationDetail, error)
	CancelEvaluation(ctx context.Context, id model.ID) (*model.Evaluation, error)
}

// Optimizations compile a program version with a DSPy optimizer.
type Optimizations interface {
	// EstimateOptimization is the run Optimize would submit, not stored:
	// its Estimate, and its Budget lowered to what a monthly cap leaves.
	EstimateOptimization(ctx context.Context, req OptimizeRequest) (*model.Optimization, error)
	Optimize(ctx context.Context, req OptimizeRequest) (*model.Optimization, error)
	ListOptimizations(ctx context.Context, q JobQuery) (*OptimizationPage, error)
	Optimization(ctx context.Context, id model.ID) (*model.Optimization, error)
	Trials(ctx context.Context, id model.ID) ([]*model.Trial, error)
	CancelOptimization(ctx context.Context, id model.ID) (*model.Optimization, error)
	CompareOptimizations(ctx context.Context, ids []model.ID) (*Comparison, error)
	// PromoteOptimization makes a run's result the program's newest
	// version; a result that scored below its baseline needs force.
	PromoteOptimization(ctx context.Context, id model.ID, force bool) (*Promoted, error)
	// OptimizationDetail is a run (live while it runs) with its trials and
	// the examples their per-example results name: what the workbench's
	// detail of a run shows.
	OptimizationDetail(ctx context.Context, id model.ID) (*OptimizationDetail, error)
}

// Costs are what LM calls cost, per program per month, against the budgets.
type Costs interface {
	Cost(ctx context.Context, q CostQuery) (*CostReport, error)
	// SetBudget sets a monthly cap in USD: a program's, or the workspace's
	// when program is ""; 0 removes it.
	SetBudget(ctx context.Context, program string, usd float64) error
}

// Workers are the owner's pool of Python workers running DSPy.
type Workers interface {
	Pool(ctx context.Context) (*PoolStatus, error)
	// StartPool starts the pool if it does not run yet.
	StartPool(ctx context.Context) (*PoolStatus, error)
	// RestartWorker kills a worker (0: every worker) and lets the
	// supervisor start another; RecycleWorker replaces it once idle.
	RestartWorker(ctx context.Context, id int) (*PoolStatus, error)
	RecycleWorker(ctx context.Context, id int) (*PoolStatus, error)
}

// Events is the owner's live stream of what changes.
type Events interface {
	// Subscribe streams events until ctx ends or the owner goes (then the
	// channel closes). Job state changes are never dropped; span and
	// progress events may be when the subscriber falls far behind.
	Subscribe(ctx context.Context) (<-chan Event, error)
}

type noSpansKey struct{}

// WithoutSpans marks ctx as a Subscribe that wants no span events: the
// owner then does not publish spans to it at all (what a batch's client
// asks for; the spans stay in the store).
func WithoutSpans(ctx context.Context) context.Context {
	return context.WithValue(ctx, noSpansKey{}, true)
}

// WantsSpans says whether a Subscribe with ctx wants span events.
func WantsSpans(ctx context.Context) bool {
	no, _ := ctx.Value(noSpansKey{}).(bool)
	return !no
}

type endedOnlyKey struct{}

// EndedOnly marks ctx as a Subscribe that wants an execution's event only
// once it has ended (not as it is queued and starts): what a client that
// follows executions to their ends needs, two events fewer per execution.
func EndedOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, endedOnlyKey{}, true)
}

// WantsEndedOnly says whether a Subscribe with ctx wants only ended
// executions' events.
func WantsEndedOnly(ctx context.Context) bool {
	only, _ := ctx.Value(endedOnlyKey{}).(bool)
	return only
}

// Store is the workspace's database as a whole.
type Store interface {
	// Backup writes a full backup of the store to w (Badger's backup
	// stream, which `signet restore` loads) from one consistent snapshot;
	// work goes on meanwhile.
	Backup(ctx context.Context, w io.Writer) error
	// CheckStore reads every record and checks the indexes against them.
	CheckStore(ctx context.Context) (*StoreCheck, error)
}

// StoreCheck is what CheckStore found: no problems is a sound store.
type StoreCheck struct {
	Records  int            `json:"records"`
	Problems []StoreProblem `json:"problems"`
}

// StoreProblem is one damaged record or broken index entry.
type StoreProblem struct {
	Record  string `json:"record"` // what the record is, and its key in hex
	Problem string `json:"problem"`
}

// Status is the owner's state.
type Status struct {
	API       string    `json:"api"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Uptime    float64   `json:"uptime_s"`
	Workspace string    `json:"workspace"`
	Version   string    `json:"version"`
	Command   string    `json:"command"` // what the owner was started as: "serve", "run", ...
	Engine    string    `json:"engine"`  // "running", or "idle" until something needs the workers
	Pool      []Worker  `json:"pool"`
	Zygote    *Zygote   `json:"zygote,omitempty"`
	Queue     Queue     `json:"queue"`
	Clients   int       `json:"clients"` // requests of other processes being served now
	LM        string    `json:"lm"`      // the default LM profile
	// Background is an owner a command started in the background: it exits
	// after IdleExit seconds without work, at IdleAt if nothing comes (absent
	// while it has work: requests, event streams, jobs).
	Background bool       `json:"background"`
	IdleExit   float64    `json:"idle_exit_s,omitempty"`
	IdleAt     *time.Time `json:"idle_at,omitempty"`
	// LocalLM is the local model's server, once one is started (a serving
	// owner starts it ahead of the first call when the default profile is
	// the local model); the first of LocalLMs.
	LocalLM *LocalLM `json:"local_lm,omitempty"`
	// LocalLMs: as PoolStatus has them.
	LocalLMs []LocalLM `json:"local_lms,omitempty"`
	// LMEndpoints: as PoolStatus has them.
	LMEndpoints []LMEndpoint `json:"lm_endpoints,omitempty"`
	// NATS and Remote: as PoolStatus has them.
	NATS   *NATS        `json:"nats,omitempty"`
	Remote []RemotePool `json:"remote,omitempty"`
}

// LocalLM is the state of the local model's llama.cpp server.
type LocalLM struct {
	State     string  `json:"state"` // starting, priming, ready, restarting, failed, stopped
	PID       int     `json:"pid,omitempty"`
	URL       string  `json:"url,omitempty"` // its OpenAI-compatible base URL, on loopback
	Model     string  `json:"model,omitempty"`
	Uptime    float64 `json:"uptime_s,omitempty"`
	Restarts  int     `json:"restarts,omitempty"`
	LastError string  `json:"last_error,omitempty"`
	// Primed is the program whose first prompt the server was primed with
	// (owner: prime_local), or, while State is "priming", is being primed
	// with: "qa v1".
	Primed string `json:"primed,omitempty"`
}

// Queue counts the kernel's jobs that have not ended.
type Queue struct {
	Pending int `json:"pending"`
	Running int `json:"running"`
	Depth   int `json:"depth"` // pending + running
}

// PoolStatus is the pool and whether the kernel runs on it.
type PoolStatus struct {
	Engine string   `json:"engine"`
	Pool   []Worker `json:"pool"`
	// Zygote is the process the workers fork from (absent where they start
	// the plain way: SIGNET_ZYGOTE=0, macOS).
	Zygote *Zygote `json:"zygote,omitempty"`
	// LocalLM is the local model's server, once one is started: the first
	// of LocalLMs, for readers of one.
	LocalLM *LocalLM `json:"local_lm,omitempty"`
	// LocalLMs are every server of the local model, once started (local:
	// servers in the config; 1 by default), in the order of the endpoints
	// the local profiles list them as.
	LocalLMs []LocalLM `json:"local_lms,omitempty"`
	// LMEndpoints are the endpoints of the LM profiles that list several
	// (endpoint pools), as the workers have used them.
	LMEndpoints []LMEndpoint `json:"lm_endpoints,omitempty"`
	// NATS is the job queue remote workers pull from, when the owner has
	// one (signet serve --nats-listen or --nats).
	NATS *NATS `json:"nats,omitempty"`
	// Remote are the pools serving that queue (signet worker --join), the
	// owner's own workers among them as "local" when it runs any; by name.
	Remote []RemotePool `json:"remote,omitempty"`
}

// LocalPool is the name of the owner's own workers among the pools serving
// its NATS queue (RemotePool.Name), and of the pool in an execution's
// worker ("local/1").
const LocalPool = "local"

// NATS is the owner's connection to the queue remote workers pull from.
type NATS struct {
	URL      string  `json:"url"`      // where workers join: nats://HOST:PORT
	Embedded bool    `json:"embedded"` // a server this owner runs (--nats-listen), not a cluster it joined (--nats)
	Stream   string  `json:"stream"`   // the JetStream work-queue stream of jobs
	Waiting  int     `json:"waiting"`  // jobs in the stream no pool has taken yet
	AckWait  float64 `json:"ack_wait_s"`
	// Redelivered counts jobs handed to a second pool because the first did
	// not finish them within the ack wait (it died, or lost the server).
	Redelivered int `json:"redelivered"`
}

// RemotePool is one pool of workers serving the NATS queue: a `signet
// worker --join` process (or the owner's own pool), as its heartbeats say.
type RemotePool struct {
	Name    string    `json:"name"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// State is "ready", or "lost" when its heartbeats stopped (it is
	// forgotten a while later; its jobs come back after the ack wait).
	State    string   `json:"state"`
	LastSeen float64  `json:"last_seen_s"` // seconds since its last heartbeat
	Capacity int      `json:"capacity"`    // jobs it runs at once
	Running  int      `json:"running"`
	Served   int      `json:"served"` // jobs it has ended
	Workers  []Worker `json:"workers"`
}

// LMEndpoint is one endpoint of an LM profile's pool, summed over the
// workers: each worker balances its own share of the calls.
type LMEndpoint struct {
	Profile string `json:"profile"`
	APIBase string `json:"api_base"`
	// State is the worst any worker has it in: ejected (it failed lately),
	// backing_off (a 429's Retry-After), else healthy.
	State            string  `json:"state"`
	Workers          int     `json:"workers"`               // workers that have used it
	Ejected          int     `json:"ejected,omitempty"`     // workers that have it ejected now
	BackingOff       int     `json:"backing_off,omitempty"` // workers that have it backing off now
	Inflight         int     `json:"inflight"`
	Calls            int     `json:"calls"` // ended with a reply
	Errors           int     `json:"errors"`
	RateLimited      int     `json:"rate_limited"` // 429s, among Errors
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Latency          float64 `json:"latency_s"` // mean of Calls
	LastError        string  `json:"last_error,omitempty"`
}

// Zygote is the process that imports DSPy once and forks each worker.
type Zygote struct {
	State     string `json:"state"`
	PID       int    `json:"pid,omitempty"`
	Restarts  int    `json:"restarts,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Worker is one Python worker of the pool.
type Worker struct {
	ID        int     `json:"id"`
	State     string  `json:"state"`
	PID       int     `json:"pid,omitempty"`
	Uptime    float64 `json:"uptime_s,omitempty"`
	Served    int     `json:"served"`
	Restarts  int     `json:"restarts"`
	Inflight  int     `json:"inflight"`
	Current   string  `json:"current,omitempty"`
	LastError string  `json:"last_error,omitempty"`
	DSPy      string  `json:"dspy,omitempty"`
	Python    string  `json:"python,omitempty"`
}

// ProgramSummary is what the program list shows beside each program.
type ProgramSummary struct {
	LastRun   time.Time      `json:"last_run,omitzero"`
	LastState model.RunState `json:"last_state,omitempty"`
	MonthRuns int            `json:"month_runs"`
	MonthCost float64        `json:"month_cost"`
}

// RenderRequest asks for a program's prompts: a stored version, or an
// unsaved variant of it.
type RenderRequest struct {
	Program string         `json:"program"`
	Version int            `json:"version,omitempty"` // 0 = the newest
	Variant *model.Program `json:"variant,omitempty"` // rendered instead of the stored version
	Inputs  map[string]any `json:"inputs"`
	LM      string         `json:"lm,omitempty"`     // the profile whose adapter renders; "" = the program's or the default
	Module  string         `json:"module,omitempty"` // one module, or "" for all
}

// RenderResult is one entry per predictor of each module.
type RenderResult struct {
	Modules []RenderedPrompt `json:"modules"`
}

// RenderedPrompt is one predictor's prompt. Placeholders name the inputs
// known only during a run, rendered as {name}.
type RenderedPrompt struct {
	Module       string          `json:"module"`
	Predictor    string          `json:"predictor,omitempty"`
	Path         string          `json:"path,omitempty"`
	Messages     []model.Message `json:"messages"`
	Placeholders []string        `json:"placeholders"`
	Note         string          `json:"note,omitempty"`
}

// ExportRequest asks for what DSPy's save() writes for a version.
type ExportRequest struct {
	Program string `json:"program"`
	Version int    `json:"version,omitempty"`
	Python  bool   `json:"python,omitempty"` // a standalone Python file instead
}

// ExportResult is the saved JSON, or the Python file.
type ExportResult struct {
	Program string `json:"program"`
	Version int    `json:"version"`
	State   string `json:"state,omitempty"` // the JSON file's text
	Python  string `json:"python,omitempty"`
}

// ImportProgramRequest is what DSPy's save() wrote, for the program Name:
// a new version of it when it exists, else a new program whose module is
// inferred from the state (Type, Signature and Source say what cannot be).
type ImportProgramRequest struct {
	Name      string           `json:"name"`
	File      string           `json:"file"`            // the file's name, for the note and errors
	State     string           `json:"state,omitempty"` // the JSON text save() wrote
	Pickle    string           `json:"pickle,omitempty"`
	Type      model.ModuleType `json:"type,omitempty"`
	Signature string           `json:"signature,omitempty"`
	Source    string           `json:"source,omitempty"`
	BaseDir   string           `json:"base_dir,omitempty"` // what Source and Pickle are relative to
	Note      string           `json:"note,omitempty"`
}

// ImportProgramResult is the version made, and what the user should know.
type ImportProgramResult struct {
	Program  *model.Program `json:"program"`
	Created  bool           `json:"created"` // a new program rather than a new version
	Changes  int            `json:"changes"` // fields changed from the previous version
	Warnings []string       `json:"warnings,omitempty"`
}

// ExampleQuery selects a page of a dataset's examples.
type ExampleQuery struct {
	Dataset string      `json:"dataset"`
	Split   model.Split `json:"split,omitempty"`
	Cursor  string      `json:"cursor,omitempty"`
	Limit   int         `json:"limit,omitempty"`
}

// ExamplePage is a page of examples; Next continues it.
type ExamplePage struct {
	Examples []*model.Example `json:"examples"`
	Next     string           `json:"next_cursor,omitempty"`
}

// ImportDatasetRequest is a dataset file to read into a dataset.
type ImportDatasetRequest struct {
	Name        string      `json:"name"`
	File        string      `json:"file"`             // its name: errors say file:line:column
	Format      string      `json:"format,omitempty"` // jsonl, json or csv; "" = from the name and content
	Split       model.Split `json:"split,omitempty"`
	Inputs      []string    `json:"inputs,omitempty"`
	Description string      `json:"description,omitempty"`
	// Types parse CSV cells and check JSON values by DSPy type; TypesFrom
	// takes them from a program version's signatures ("NAME[@VERSION]").
	Types     map[string]string `json:"types,omitempty"`
	TypesFrom string            `json:"types_from,omitempty"`
	Data      io.Reader         `json:"-"` // the file's bytes
}

// IndexRequest asks for an index over a dataset's field.
type IndexRequest struct {
	Dataset   string `json:"dataset"`
	Field     string `json:"field"`
	IDField   string `json:"id_field,omitempty"`
	Retriever string `json:"retriever,omitempty"` // bm25 (default), embeddings or hybrid
	Embedder  string `json:"embedder,omitempty"`  // model.DefaultEmbedder unless set
	Name      string `json:"name,omitempty"`      // the dataset's name unless set
	Force     bool   `json:"force,omitempty"`     // rebuild even when up to date
}

// IndexResult is the index after a build; Rebuilt is false when it was
// already up to date.
type IndexResult struct {
	Index   *model.Index `json:"index"`
	Rebuilt bool         `json:"rebuilt"`
}

// ImportTracesRequest is an OTLP/JSON file (an ExportTraceServiceRequest)
// to import.
type ImportTracesRequest struct {
	File string    `json:"file"` // its name, for errors
	Data io.Reader `json:"-"`    // the file's bytes
}

// ImportTracesResult is what an import made: one execution per trace.
type ImportTracesResult struct {
	Executions []ImportedTrace `json:"executions"`
}

// ImportedTrace is one imported trace's execution.
type ImportedTrace struct {
	ID      model.ID `json:"id"`
	Program string   `json:"program"`
	LM      string   `json:"lm"`
	Spans   int      `json:"spans"`
}

// ImportDatasetResult is the dataset after the import.
type ImportDatasetResult struct {
	Dataset  *model.Dataset `json:"dataset"`
	Imported int            `json:"imported"`
}

// ExportDatasetRequest asks for a dataset (or one split) as a file.
type ExportDatasetRequest struct {
	Dataset string      `json:"dataset"`
	Split   model.Split `json:"split,omitempty"`
	Format  string      `json:"format"`
}

// RunRequest asks for one execution of a stored version, or of an unsaved
// variant of it (a prompt iteration, a module replay).
type RunRequest struct {
	Program string         `json:"program"`
	Version int            `json:"version,omitempty"` // 0 = the newest
	Variant *model.Program `json:"variant,omitempty"`
	Inputs  map[string]any `json:"inputs"`
	LM      string         `json:"lm,omitempty"` // profile; "" = the program's or the default
	NoCache bool           `json:"no_cache,omitempty"`
	Wait    bool           `json:"wait,omitempty"` // answer once the execution has ended
	// Key routes a run that names no version on a program with a traffic
	// split: the same key, the same version while the split stays the
	// same (a user's or a session's ID). Without one the run lands at
	// random.
	Key string `json:"key,omitempty"`
	// Timeout bounds the run (0: the program's timeout, else the config's
	// execution_timeout); past it the execution fails "timed out".
	Timeout time.Duration `json:"timeout_ns,omitempty"`
}

// BatchRequest runs a program on every example of a dataset (or a split).
type BatchRequest struct {
	Program string        `json:"program"`
	Version int           `json:"version,omitempty"`
	Data    model.DataRef `json:"data"`
	Limit   int           `json:"limit,omitempty"`
	LM      string        `json:"lm,omitempty"`
	Labels  []string      `json:"labels,omitempty"` // explicit labels (model.Labels)
	NoCache bool          `json:"no_cache,omitempty"`
}

// Batch is a submitted batch: its executions, in the examples' order, and
// how the program met the dataset.
type Batch struct {
	ID         model.ID       `json:"id"`
	Program    string         `json:"program"`
	Version    int            `json:"version"`
	Labeling   model.Labeling `json:"labeling"`
	Executions []model.ID     `json:"executions"`
	Examples   []model.ID     `json:"examples"`
}

// ExecutionQuery selects executions, newest first.
type ExecutionQuery struct {
	Program string         `json:"program,omitempty"`
	State   model.RunState `json:"state,omitempty"`
	Cursor  string         `json:"cursor,omitempty"`
	Limit   int            `json:"limit,omitempty"`
}

// ExecutionPage is a page of executions; Next continues it.
type ExecutionPage struct {
	Executions []*model.Execution `json:"executions"`
	Next       string             `json:"next_cursor,omitempty"`
}

// SpanPage is a page of a trace; Next is the after of the next page, 0 at
// its end.
type SpanPage struct {
	Spans []model.Span `json:"spans"`
	Next  uint64       `json:"next_after,omitempty"`
}

// Recovered counts what a recovery found.
type Recovered struct {
	Requeued int `json:"requeued"` // pending, queued again
	Retried  int `json:"retried"`  // running when the owner stopped, attempted again
	Failed   int `json:"failed"`   // running and out of attempts
}

// JobQuery selects evaluations or optimizations, newest first.
type JobQuery struct {
	Program string `json:"program,omitempty"`
	Cursor  string `json:"cursor,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// EvaluateRequest asks for an evaluation.
type EvaluateRequest struct {
	Program string        `json:"program"`
	Version int           `json:"version,omitempty"`
	Data    model.DataRef `json:"data"`
	Metric  model.Metric  `json:"metric"` // see MetricSpelled
	// Extra metrics are reported beside Metric (each spelled like it).
	Extra   []model.Metric `json:"extra,omitempty"`
	Labels  []string       `json:"labels,omitempty"`
	LM      string         `json:"lm,omitempty"`
	Threads int            `json:"threads,omitempty"`
	BaseDir string         `json:"base_dir,omitempty"` // what a custom metric's relative file is relative to
}

// MetricSpelled is the kind of a request's metric that is the metric as
// the user spells it, in Name (exact_match, path/to/file.py:function,
// judge:SIGNATURE: `--metric`), which the service parses; any other kind is
// a parsed model.Metric. A custom metric's file, when relative, is relative
// to the request's BaseDir: the caller's directory, not the owner's.
const MetricSpelled model.MetricKind = ""

// EvaluationPage is a page of evaluations.
type EvaluationPage struct {
	Evaluations []*model.Evaluation `json:"evaluations"`
	Next        string              `json:"next_cursor,omitempty"`
}

// EvaluationDetail is an evaluation with its per-example results.
type EvaluationDetail struct {
	*model.Evaluation
	Results []*model.EvalResult `json:"results"`
}

// OptimizeRequest asks for an optimization run.
type OptimizeRequest struct {
	Program      string         `json:"program"`
	Version      int            `json:"version,omitempty"`
	Optimizer    string         `json:"optimizer"` // a DSPy optimizer or an alias (mipro, bootstrap, ...)
	Settings     map[string]any `json:"settings,omitempty"`
	Train        model.DataRef  `json:"train"`
	Val          model.DataRef  `json:"val,omitzero"`
	Test         model.DataRef  `json:"test,omitzero"`
	Metric       model.Metric   `json:"metric"` // see MetricSpelled
	Labels       []string       `json:"labels,omitempty"`
	LM           string         `json:"lm,omitempty"`
	ReflectionLM string         `json:"reflection_lm,omitempty"`
	Budget       float64        `json:"budget,omitempty"` // USD: the run's own hard stop
	Threads      int            `json:"threads,omitempty"`
	Seed         int            `json:"seed,omitempty"`
	BaseDir      string         `json:"base_dir,omitempty"` // what a custom metric's relative file is relative to
}

// OptimizationPage is a page of optimization runs.
type OptimizationPage struct {
	Optimizations []*model.Optimization `json:"optimizations"`
	Next          string                `json:"next_cursor,omitempty"`
}

// OptimizationDetail is a run, its trials by N, and the examples of its
// scoring set that the trials' per-example results name (an example since
// deleted is left out).
type OptimizationDetail struct {
	Optimization *model.Optimization `json:"optimization"`
	Trials       []*model.Trial      `json:"trials"`
	Examples     []*model.Example    `json:"examples"`
}

// Comparison sets runs side by side, with the score against cost of every
// finished run of their programs, cheapest first.
type Comparison struct {
	model.Comparison
	Points []model.ScorePoint `json:"points"`
}

// Promoted is the version a promote made, and the run it came from.
type Promoted struct {
	Program      *model.Program      `json:"program"`
	Optimization *model.Optimization `json:"optimization"`
}

// CostQuery selects cost rollups: one program or all, one month or all.
type CostQuery struct {
	Program string `json:"program,omitempty"`
	Month   string `json:"month,omitempty"` // "2006-01"; "" = every month
	Days    bool   `json:"days,omitempty"`  // also the cost per day of Month (which it needs)
}

// CostReport is cost per program per month, against the budgets.
type CostReport struct {
	Month    string             `json:"month,omitempty"`
	Programs []CostRow          `json:"programs"`
	Total    float64            `json:"total"`
	Budgets  map[string]float64 `json:"budgets,omitempty"` // by program; the workspace's under ""
	Days     []float64          `json:"days,omitempty"`    // cost per day of Month, index 0 is day 1; the current month's end today
}

// CostRow is one program's month.
type CostRow struct {
	Program    string      `json:"program"`
	Month      string      `json:"month"`
	Executions int         `json:"executions"`
	Usage      model.Usage `json:"usage"`
	Cost       float64     `json:"cost"`
	// EmbedCache sums the embedding cache's hits and misses of the
	// month's retrievals.
	EmbedCache model.EmbedCache `json:"embed_cache,omitzero"`
}
