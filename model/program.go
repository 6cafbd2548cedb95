package model

import (
	"fmt"
	"slices"
	"time"
)

// ProgramStatus is the deployment stage of a program, changed only by an
// explicit action that is recorded in its history.
type ProgramStatus string

const (
	Draft      ProgramStatus = "draft"
	Testing    ProgramStatus = "testing"
	Production ProgramStatus = "production"
)

// ParseProgramStatus checks a status name given by a user.
func ParseProgramStatus(s string) (ProgramStatus, error) {
	switch ProgramStatus(s) {
	case Draft, Testing, Production:
		return ProgramStatus(s), nil
	}
	return "", fmt.Errorf("unknown status %q (want draft, testing or production)", s)
}

// ModuleType is the DSPy module a pipeline step is built as.
type ModuleType string

const (
	Predict        ModuleType = "predict"
	ChainOfThought ModuleType = "chain_of_thought"
	ReAct          ModuleType = "react"
	Retrieve       ModuleType = "retrieve"
	Custom         ModuleType = "custom"
)

// ModuleTypes lists the supported module types.
var ModuleTypes = []ModuleType{Predict, ChainOfThought, ReAct, Retrieve, Custom}

// Program is a named, versioned pipeline of modules over a shared record of
// fields: each module reads its inputs from the record (program inputs plus
// earlier modules' outputs) and adds its outputs to it.
type Program struct {
	Name        string        `json:"name" yaml:"name"`
	Description string        `json:"description,omitempty" yaml:"description,omitempty"`
	Status      ProgramStatus `json:"status,omitempty" yaml:"status,omitempty"`
	Version     int           `json:"version,omitempty" yaml:"version,omitempty"`
	// LM names an LM profile; keys live only in the environment variable the
	// profile names, never here.
	LM string `json:"lm,omitempty" yaml:"lm,omitempty"`
	// Timeout bounds one execution of the program ("30s", "2m"); "" leaves
	// it to the run's --timeout or the config's execution_timeout.
	Timeout string   `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	Modules []Module `json:"modules" yaml:"modules"`
	// CompiledFrom is the optimization run this version came out of.
	CompiledFrom string    `json:"compiled_from,omitempty" yaml:"compiled_from,omitempty"`
	Note         string    `json:"note,omitempty" yaml:"note,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero" yaml:"created_at,omitempty"`
	// BaseDir is the absolute directory that relative paths of user code
	// (a module's source, ReAct tools) resolve against: the program file's,
	// for a program read from one. The paths stay as the user wrote them, so
	// program files are portable; BaseDir is never written into one.
	BaseDir string `json:"base_dir,omitempty" yaml:"-"`
}

// Module is one step of a program: a DSPy module with a signature.
type Module struct {
	Name         string     `json:"name" yaml:"name"`
	Type         ModuleType `json:"type" yaml:"type"`
	Signature    string     `json:"signature,omitempty" yaml:"signature,omitempty"`
	Instructions string     `json:"instructions,omitempty" yaml:"instructions,omitempty"`
	// Fields holds per-field descriptions (DSPy's desc=...).
	Fields map[string]string `json:"fields,omitempty" yaml:"fields,omitempty"`
	// Demos are hand-written demos for the module's predictors that have
	// no stored state in Predictors (the simple form of a program file).
	Demos []map[string]any `json:"demos,omitempty" yaml:"demos,omitempty"`
	// Predictors is the state of the predictors inside the module, as DSPy
	// dumps it (see Predictor): what an optimizer or an import set.
	Predictors []Predictor `json:"predictors,omitempty" yaml:"predictors,omitempty"`
	LM         string      `json:"lm,omitempty" yaml:"lm,omitempty"`
	// Source is the user's own DSPy code for custom modules, ReAct tools and
	// retrievers: "path/to/file.py:ClassOrFactory", relative to the
	// program's BaseDir unless absolute.
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
	// Retriever makes a retrieve module search an index Signet built
	// (`signet index`) instead of calling the user's Source.
	Retriever *Retriever     `json:"retriever,omitempty" yaml:"retriever,omitempty"`
	Config    map[string]any `json:"config,omitempty" yaml:"config,omitempty"`
}

// simpleName says whether name matches ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$
// (the reference in the tests): written out, since every execution record
// written checks its program's name, and the regexp cost more than the
// rest of that check.
func simpleName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ValidName checks names of programs and datasets: they appear in keys,
// file names and command lines, so they stay simple.
func ValidName(kind, name string) error {
	if !simpleName(name) {
		return &FieldError{Field: kind + ".name", Msg: fmt.Sprintf("%q is not a valid name (letters, digits, '_', '.', '-'; up to 128; starts with a letter or digit)", name)}
	}
	return nil
}

// Validate checks a program definition: names, module types, signatures and
// the data flow (every module input is a program input or an earlier output).
func (p *Program) Validate() error {
	if err := ValidName("program", p.Name); err != nil {
		return err
	}
	if p.Status != "" {
		if _, err := ParseProgramStatus(string(p.Status)); err != nil {
			return &FieldError{Field: "status", Msg: err.Error()}
		}
	}
	if p.Timeout != "" {
		if _, err := ParseTimeout(p.Timeout); err != nil {
			return &FieldError{Field: "timeout", Msg: err.Error()}
		}
	}
	if len(p.Modules) == 0 {
		return &FieldError{Field: "modules", Msg: "a program needs at least one module"}
	}
	seen := map[string]bool{}
	for i := range p.Modules {
		m := &p.Modules[i]
		where := fmt.Sprintf("modules[%d]", i)
		if m.Name != "" {
			where = fmt.Sprintf("modules[%d] (%s)", i, m.Name)
		}
		if !isIdentifier(m.Name) {
			return &FieldError{Field: where + ".name", Msg: fmt.Sprintf("%q is not a Python identifier", m.Name)}
		}
		if seen[m.Name] {
			return &FieldError{Field: where + ".name", Msg: fmt.Sprintf("duplicate module name %q", m.Name)}
		}
		seen[m.Name] = true
		if !validModuleType(m.Type) {
			return &FieldError{Field: where + ".type", Msg: fmt.Sprintf("unknown module type %q (want predict, chain_of_thought, react, retrieve or custom)", m.Type)}
		}
		if err := validatePredictors(where, m); err != nil {
			return err
		}
		if err := validateRetriever(where, m); err != nil {
			return err
		}
		if m.Type == Custom {
			if m.Source == "" {
				return &FieldError{Field: where + ".source", Msg: "a custom module needs source: path/to/file.py:Name"}
			}
			if m.Signature == "" {
				continue
			}
		}
		sig, err := ParseSignature(m.Signature)
		if err != nil {
			return &FieldError{Field: where + ".signature", Msg: err.Error(), Err: err}
		}
		for name := range m.Fields {
			if sig.Field(name) == nil {
				return &FieldError{Field: where + ".fields." + name, Msg: fmt.Sprintf("no field %q in signature %q", name, m.Signature)}
			}
		}
	}
	return nil
}

// LMProfile is the one rule for which LM profile a run of p uses: the one
// asked for, else the program's, else def (the workspace's default). A
// module naming its own profile still uses it for that module's calls.
func (p *Program) LMProfile(asked, def string) string {
	if asked != "" {
		return asked
	}
	if p != nil && p.LM != "" {
		return p.LM
	}
	return def
}

// MaxTimeout is the longest execution timeout accepted anywhere.
const MaxTimeout = 24 * time.Hour

// ParseTimeout reads an execution timeout such as "30s" or "5m": positive,
// at most MaxTimeout.
func ParseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > MaxTimeout {
		return 0, fmt.Errorf("%q is not a positive duration of at most 24h, such as 30s or 5m", s)
	}
	return d, nil
}

// ExecTimeout is the program's own execution timeout, 0 when it has none
// (or an invalid one, which Validate refuses).
func (p *Program) ExecTimeout() time.Duration {
	if p == nil || p.Timeout == "" {
		return 0
	}
	d, _ := ParseTimeout(p.Timeout)
	return d
}

// Inputs are the fields a caller must supply: the input fields of every
// module that no earlier module produces, in first-use order.
func (p *Program) Inputs() []Field {
	produced := map[string]bool{}
	seen := map[string]bool{}
	var out []Field
	for _, m := range p.Modules {
		sig, err := ParseSignature(m.Signature)
		if err != nil {
			continue
		}
		for _, f := range sig.Inputs {
			if !produced[f.Name] && !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f)
			}
		}
		for _, f := range sig.Outputs {
			produced[f.Name] = true
		}
	}
	return out
}

// Flow is a program's data flow: the fields a caller gives (in first-use
// order) and the fields its modules produce (in pipeline order).
type Flow struct {
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
	// Opaque names the custom modules without a signature whose fields
	// only their Python code knows; bridge's Pool.Flow asks a worker, and
	// then none is opaque.
	Opaque []string `json:"opaque,omitempty"`
}

// StaticFlow is the flow as the modules' signatures give it, with the
// custom modules that have none listed in Opaque.
func (p *Program) StaticFlow() Flow {
	var f Flow
	for _, in := range p.Inputs() {
		f.Inputs = append(f.Inputs, in.Name)
	}
	for _, m := range p.Modules {
		if m.Type == Custom && m.Signature == "" {
			f.Opaque = append(f.Opaque, m.Name)
			continue
		}
		sig, err := ParseSignature(m.Signature)
		if err != nil {
			continue
		}
		for _, o := range sig.Outputs {
			if !slices.Contains(f.Outputs, o.Name) {
				f.Outputs = append(f.Outputs, o.Name)
			}
		}
	}
	return f
}

func validModuleType(t ModuleType) bool {
	for _, v := range ModuleTypes {
		if v == t {
			return true
		}
	}
	return false
}

// FieldError names the field of a record that is wrong and why.
type FieldError struct {
	Field string
	Msg   string
	Err   error // the cause, such as a *SignatureError with its column
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return e.Err }
