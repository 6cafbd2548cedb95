package model

import (
	"fmt"
	"slices"
	"strings"
)

// Predictor is the state of one dspy.Predict inside a module, in the form
// DSPy's dump_state() gives it, named by its path in the module's
// named_predictors(): "self" for a bare Predict, "predict" for a
// ChainOfThought, "react" and "extract.predict" for a ReAct,
// "first_hop.predict" for a user module's attribute.
//
// A module without stored predictors is built as DSPy's constructor builds
// it from the module's signature, instructions and field descriptions. A
// stored predictor is applied after construction with DSPy's own
// load_state, so what is stored here is what runs, and an import of a DSPy
// file followed by an export gives the same file back. An empty
// Instructions, and a field not listed, keep what the constructor made.
type Predictor struct {
	Name         string           `json:"name" yaml:"name"`
	Instructions string           `json:"instructions,omitempty" yaml:"instructions,omitempty"`
	Fields       []PredictorField `json:"fields,omitempty" yaml:"fields,omitempty"`
	// Demos are dicts of field values as DSPy keeps them; a bootstrapped
	// demo carries "augmented": true.
	Demos []map[string]any `json:"demos,omitempty" yaml:"demos,omitempty"`
	// Other holds the rest of the predictor's DSPy state (non-empty
	// "traces" or "train", a decision "fields" map) verbatim, so nothing
	// DSPy saves is lost on the way through Signet.
	Other map[string]any `json:"other,omitempty" yaml:"other,omitempty"`
}

// PredictorField is one field of a predictor's signature, in signature
// order. Prefix and Description are what DSPy saves (with_updated_fields
// changes them; COPRO does); Type and Input say what the field is, as the
// worker read it from the built signature.
type PredictorField struct {
	Name        string `json:"name" yaml:"name"`
	Input       bool   `json:"input,omitempty" yaml:"input,omitempty"`
	Type        string `json:"type,omitempty" yaml:"type,omitempty"`
	Prefix      string `json:"prefix,omitempty" yaml:"prefix,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// PredictorNames are the predictors DSPy's constructor makes for a module
// type, in named_predictors() order; nil for custom modules (their code
// decides) and retrieve modules (none).
func PredictorNames(t ModuleType) []string {
	switch t {
	case Predict:
		return []string{"self"}
	case ChainOfThought:
		return []string{"predict"}
	case ReAct:
		return []string{"react", "extract.predict"}
	}
	return nil
}

// PredictorPath is a predictor's key in the program's dump_state(): the
// module's attribute name, then the predictor's path inside it ("self" is
// the module itself).
func PredictorPath(module, predictor string) string {
	if predictor == "self" || predictor == "" {
		return module
	}
	return module + "." + predictor
}

// Predictor returns the stored state of the named predictor, or nil.
func (m *Module) Predictor(name string) *Predictor {
	for i := range m.Predictors {
		if m.Predictors[i].Name == name {
			return &m.Predictors[i]
		}
	}
	return nil
}

// SetInstructions changes the module's own instructions (the ones its
// constructor receives) and forgets the stored instructions of the
// predictors the constructor derives from them, so the module is rebuilt
// as DSPy's constructor would build it: a ReAct module's agent text is
// generated again around the new instructions, never kept twice.
func (m *Module) SetInstructions(text string) {
	m.Instructions = text
	for i := range m.Predictors {
		m.Predictors[i].Instructions = ""
	}
}

// SetPredictorInstructions sets one predictor's instructions, adding its
// state when the module had none stored for it.
func (m *Module) SetPredictorInstructions(name, text string) {
	m.predictor(name).Instructions = text
}

// SetPredictorDemos sets one predictor's demos.
func (m *Module) SetPredictorDemos(name string, demos []map[string]any) {
	m.predictor(name).Demos = demos
}

func (m *Module) predictor(name string) *Predictor {
	if p := m.Predictor(name); p != nil {
		return p
	}
	m.Predictors = append(m.Predictors, Predictor{Name: name})
	return &m.Predictors[len(m.Predictors)-1]
}

// DemoCount is the number of demos the module's predictors hold, the
// module's own demos counted for the predictors that have none stored.
func (m *Module) DemoCount() int {
	n := 0
	stored := map[string]bool{}
	for _, p := range m.Predictors {
		n += len(p.Demos)
		stored[p.Name] = true
	}
	if len(m.Demos) > 0 {
		names := PredictorNames(m.Type)
		if names == nil {
			return n + len(m.Demos)
		}
		for _, name := range names {
			if !stored[name] {
				n += len(m.Demos)
			}
		}
	}
	return n
}

func validatePredictors(where string, m *Module) error {
	known := PredictorNames(m.Type)
	seen := map[string]bool{}
	for j, p := range m.Predictors {
		at := fmt.Sprintf("%s.predictors[%d]", where, j)
		if !validPredictorName(p.Name) {
			return &FieldError{Field: at + ".name", Msg: fmt.Sprintf("%q is not a predictor path (\"self\", or dotted Python identifiers such as \"extract.predict\")", p.Name)}
		}
		if seen[p.Name] {
			return &FieldError{Field: at + ".name", Msg: fmt.Sprintf("predictor %q is listed twice", p.Name)}
		}
		seen[p.Name] = true
		switch {
		case m.Type == Retrieve:
			return &FieldError{Field: at + ".name", Msg: "a retrieve module has no predictors"}
		case known != nil && !slices.Contains(known, p.Name):
			return &FieldError{Field: at + ".name", Msg: fmt.Sprintf("a %s module has no predictor %q (it has %s)", m.Type, p.Name, strings.Join(known, ", "))}
		}
		fields := map[string]bool{}
		for k, f := range p.Fields {
			if !isIdentifier(f.Name) {
				return &FieldError{Field: fmt.Sprintf("%s.fields[%d].name", at, k), Msg: fmt.Sprintf("%q is not a field name", f.Name)}
			}
			if fields[f.Name] {
				return &FieldError{Field: fmt.Sprintf("%s.fields[%d].name", at, k), Msg: fmt.Sprintf("field %q is listed twice", f.Name)}
			}
			fields[f.Name] = true
		}
	}
	return nil
}

func validPredictorName(s string) bool {
	if s == "self" {
		return true
	}
	for _, part := range strings.Split(s, ".") {
		if !isIdentifier(part) {
			return false
		}
	}
	return s != ""
}
