package tuitest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signet-dspy/signet/app"
	"github.com/signet-dspy/signet/model"
)

var errReadOnly = errors.New("tuitest.Programs is read-only")

type Programs struct {
	List []*model.Program
	Err  error
}

func (f Programs) ListPrograms(context.Context) ([]*model.Program, error) {
	return f.List, f.Err
}

func SamplePrograms() []*model.Program {
	return []*model.Program{
		{
			Name: "qa", Status: model.Production, Version: 3,
			Description: "Answers short factual questions.",
			Modules: []model.Module{{
				Name: "answer", Type: model.ChainOfThought,
				Signature:    "question -> answer",
				Instructions: "Answer the question in one short sentence. If you do not know, say so plainly instead of guessing.",
			}},
		},
		{
			Name: "rag-support", Status: model.Testing, Version: 7,
			Description: "Retrieves help-centre passages and drafts a support reply.",
			Modules: []model.Module{
				{Name: "retrieve", Type: model.Retrieve, Signature: "question -> passages: list[str]", Source: "retriever.py:search"},
				{Name: "draft", Type: model.ChainOfThought, Signature: "question, passages: list[str] -> reply",
					Instructions: "Write a friendly reply that cites the passages it uses.\nKeep it under 120 words."},
				{Name: "check", Type: model.Predict, Signature: "reply, passages: list[str] -> grounded: bool"},
			},
		},
		{
			Name: "summarize", Status: model.Draft, Version: 1,
			Description: "Summarizes a document into three bullet points.",
			Modules: []model.Module{{Name: "summarize", Type: model.Predict, Signature: "document -> summary",
				Instructions: "Three bullets, each under fifteen words."}},
		},
		{
			Name: "classify_intent", Status: model.Draft, Version: 2,
			Description: "Routes a customer message to one of eight intents.",
			Modules:     []model.Module{{Name: "classify", Type: model.Predict, Signature: "message -> intent"}},
		},
	}
}

func (f Programs) ProgramSummaries(_ context.Context, names []string) (map[string]app.ProgramSummary, error) {
	out := map[string]app.ProgramSummary{}
	for i, n := range names {
		if i%2 == 0 {
			out[n] = app.ProgramSummary{LastRun: Now.Add(-time.Duration(i+3) * time.Hour), MonthRuns: 10 * (i + 1), MonthCost: 0.0042 * float64(i+1)}
		}
	}
	return out, f.Err
}

// TrafficSplit: the read-only sample has none.
func (f Programs) TrafficSplit(_ context.Context, program string) (*model.TrafficSplit, error) {
	return nil, app.Errorf(app.CodeNotFound, "traffic split of program %q: not found", program)
}

// TrafficReport: the read-only sample's are empty.
func (f Programs) TrafficReport(_ context.Context, q app.TrafficQuery) (*model.TrafficReport, error) {
	return &model.TrafficReport{Program: q.Program, Arms: []model.ArmReport{}, Tests: []model.ArmTest{}}, f.Err
}

func (f Programs) ProgramVersions(_ context.Context, name string) ([]*model.Program, error) {
	for _, p := range f.List {
		if p.Name == name {
			return []*model.Program{p}, nil
		}
	}
	return nil, fmt.Errorf("program %q: not found", name)
}

func (f Programs) SaveProgram(context.Context, *model.Program) (*model.Program, error) {
	return nil, errReadOnly
}

func (f Programs) CreateProgram(context.Context, *model.Program) (*model.Program, error) {
	return nil, errReadOnly
}

func (f Programs) SetProgramStatus(context.Context, string, model.ProgramStatus, string) (*model.Program, error) {
	return nil, errReadOnly
}

func (f Programs) DeleteProgram(context.Context, string) error { return errReadOnly }

// Repo is a program repository with versions, as the store keeps them.
type Repo struct {
	mu        sync.Mutex
	versions  map[string][]*model.Program // oldest first
	clock     time.Time
	Summaries map[string]app.ProgramSummary
	Saves     int
	// Traffic are the programs' traffic reports (each with its split),
	// by name; TrafficAsked counts the reports read.
	Traffic      map[string]*model.TrafficReport
	TrafficAsked int
}

var Epoch = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

func NewRepo(ps ...*model.Program) *Repo {
	r := &Repo{versions: map[string][]*model.Program{}, clock: Epoch, Summaries: map[string]app.ProgramSummary{}}
	for _, p := range ps {
		c := *p
		c.Version = 1
		if c.Status == "" {
			c.Status = model.Draft
		}
		c.CreatedAt = r.tick()
		r.versions[p.Name] = []*model.Program{&c}
	}
	return r
}

func (r *Repo) tick() time.Time {
	r.clock = r.clock.Add(time.Hour)
	return r.clock
}

func (r *Repo) Head(name string) *model.Program {
	vs := r.versions[name]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// add stores p as the next version (the store's SaveProgram, status kept
// from p here so tests can script histories).
func (r *Repo) Add(p *model.Program) *model.Program {
	c := *p
	c.Version = len(r.versions[p.Name]) + 1
	c.CreatedAt = r.tick()
	r.versions[p.Name] = append(r.versions[p.Name], &c)
	return &c
}

func (r *Repo) ListPrograms(context.Context) ([]*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*model.Program
	for name := range r.versions {
		out = append(out, r.Head(name))
	}
	slices.SortFunc(out, func(a, b *model.Program) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (r *Repo) ProgramSummaries(_ context.Context, names []string) (map[string]app.ProgramSummary, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]app.ProgramSummary{}
	for _, n := range names {
		if s, ok := r.Summaries[n]; ok {
			out[n] = s
		}
	}
	return out, nil
}

func (r *Repo) ProgramVersions(_ context.Context, name string) ([]*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.versions[name] == nil {
		return nil, fmt.Errorf("program %q: not found", name)
	}
	return slices.Clone(r.versions[name]), nil
}

func (r *Repo) SaveProgram(_ context.Context, p *model.Program) (*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	h := r.Head(p.Name)
	if h == nil {
		return nil, fmt.Errorf("program %q: not found", p.Name)
	}
	c := *p
	c.Status = h.Status
	r.Saves++
	return r.Add(&c), nil
}

func (r *Repo) CreateProgram(_ context.Context, p *model.Program) (*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if r.Head(p.Name) != nil {
		return nil, fmt.Errorf("program %q: exists", p.Name)
	}
	c := *p
	c.Status = model.Draft
	return r.Add(&c), nil
}

func (r *Repo) SetProgramStatus(_ context.Context, name string, st model.ProgramStatus, note string) (*model.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.Head(name)
	if h == nil {
		return nil, fmt.Errorf("program %q: not found", name)
	}
	c := *h
	c.Status, c.Note = st, note
	return r.Add(&c), nil
}

func (r *Repo) DeleteProgram(_ context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.versions[name] == nil {
		return fmt.Errorf("program %q: not found", name)
	}
	delete(r.versions, name)
	return nil
}

// TrafficSplit is the split of the program's report in Traffic.
func (r *Repo) TrafficSplit(_ context.Context, program string) (*model.TrafficSplit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rep := r.Traffic[program]; rep != nil && rep.Split != nil {
		return rep.Split, nil
	}
	return nil, app.Errorf(app.CodeNotFound, "traffic split of program %q: not found", program)
}

// TrafficReport is the program's report in Traffic, else one with no
// split and no arms.
func (r *Repo) TrafficReport(_ context.Context, q app.TrafficQuery) (*model.TrafficReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.TrafficAsked++
	if r.versions[q.Program] == nil {
		return nil, app.Errorf(app.CodeNotFound, "program %q: not found", q.Program)
	}
	if rep := r.Traffic[q.Program]; rep != nil {
		return rep, nil
	}
	return &model.TrafficReport{Program: q.Program, Arms: []model.ArmReport{}, Tests: []model.ArmTest{}}, nil
}

// SampleTrafficReport is qa's 90/10 split of v1 and v2 with the report
// over 200 routed runs: v2 scores higher, significantly.
func SampleTrafficReport() *model.TrafficReport {
	split := &model.TrafficSplit{Program: "qa", Arms: []model.Arm{{Version: 1, Percent: 90}, {Version: 2, Percent: 10}},
		SetAt: Now.Add(-2 * time.Hour), SetBy: "ada"}
	var xs []*model.Execution
	for i := range 200 {
		v, score := 1, 0.55+0.02*float64(i%10)
		if i%10 == 0 {
			v, score = 2, 0.8+0.02*float64(i%3)
		}
		x := &model.Execution{Program: "qa", Version: v, Routed: true, State: model.Completed, Cost: 0.0004 * float64(v),
			Duration: time.Duration(800+5*(i%40)) * time.Millisecond, CreatedAt: Now.Add(-time.Hour)}
		if i%13 == 0 {
			x.State, x.Error = model.Failed, "timed out"
		}
		if i%2 == 0 {
			x.Feedback = &model.Feedback{Score: score}
		}
		xs = append(xs, x)
	}
	return model.NewTrafficReport("qa", split, split.SetAt, xs)
}

// SampleRepo is the shell's sample programs with a history for qa (v1 →
// v2 changed the instruction), runs and costs.
func SampleRepo() *Repo {
	r := NewRepo(SamplePrograms()...)
	qa := *r.Head("qa")
	qa.Modules = slices.Clone(qa.Modules)
	qa.Modules[0].Instructions = "Answer in one word."
	qa.Modules[0].Fields = map[string]string{"question": "a short factual question"}
	qa.Modules[0].Demos = []map[string]any{{"question": "Capital of France?", "answer": "Paris"}}
	qa.Note = "shorter answers"
	r.Add(&qa)
	r.Summaries["qa"] = app.ProgramSummary{LastRun: Now.Add(-3 * time.Hour), LastState: model.Completed, MonthRuns: 12, MonthCost: 0.042}
	r.Summaries["rag-support"] = app.ProgramSummary{LastRun: Now.Add(-5 * 24 * time.Hour), MonthRuns: 300, MonthCost: 1.5}
	return r
}

// SampleTemplates are extra templates for a new program, as cmd gives the
// demo's examples (WithTemplates).
func SampleTemplates() []*model.Program {
	return []*model.Program{{Name: "facts", Description: "Recall facts, then answer.",
		Modules: []model.Module{{Name: "answer", Type: model.Predict, Signature: "question -> answer"}}}}
}
