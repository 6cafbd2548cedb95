package model

import (
	"fmt"
	"slices"
	"strings"
)

// Labeling is how a program meets a dataset: which fields of an example
// the program reads (Inputs), which the metric compares with its outputs
// (Labels, dspy.Example.labels()), and which it ignores (Ignored: ids,
// metadata). Labels computes it; runs, optimizations and evaluations use
// it alike.
type Labeling struct {
	Inputs  []string `json:"inputs"`
	Labels  []string `json:"labels"`
	Ignored []string `json:"ignored,omitempty"`
	// Guessed is set when no labels were given and Go cannot read the
	// program's outputs (a custom module without a signature): then every
	// column that is not an input is a label. Note says so in words.
	Guessed bool   `json:"guessed,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Labels is the one rule for a dataset's labels: the program's output
// fields that are columns of the dataset, unless explicit labels are given
// (each must be a column and not an input). Every other column that is not
// an input is ignored, so an id column never counts against a prediction.
// f is the program's flow (Program.StaticFlow, or a worker's when a custom
// module has no signature: bridge's Pool.Flow).
//
// When the flow still has opaque modules, their outputs are unknown; then,
// without explicit labels, every non-input column is a label and Guessed is
// set. That fallback lives here alone.
func Labels(program string, f Flow, d *Dataset, explicit []string) (Labeling, error) {
	var lab Labeling
	lab.Inputs = slices.Clone(f.Inputs)
	if len(f.Opaque) > 0 {
		// Its inputs are unknown too: the dataset's own input keys say more.
		for _, k := range d.InputKeys {
			if !slices.Contains(lab.Inputs, k) {
				lab.Inputs = append(lab.Inputs, k)
			}
		}
	}
	columns := d.Fields
	switch {
	case len(explicit) > 0:
		for _, l := range explicit {
			switch {
			case !slices.Contains(columns, l):
				return Labeling{}, &FieldError{Field: "labels." + l,
					Msg: fmt.Sprintf("%q is not a field of dataset %s (its fields: %s)", l, d.Name, strings.Join(columns, ", "))}
			case slices.Contains(lab.Inputs, l):
				return Labeling{}, &FieldError{Field: "labels." + l,
					Msg: fmt.Sprintf("%q is an input of program %s, not a label", l, program)}
			case slices.Contains(lab.Labels, l):
				return Labeling{}, &FieldError{Field: "labels." + l, Msg: fmt.Sprintf("%q is given twice", l)}
			}
			lab.Labels = append(lab.Labels, l)
		}
	case len(f.Opaque) > 0:
		for _, c := range columns {
			if !slices.Contains(lab.Inputs, c) {
				lab.Labels = append(lab.Labels, c)
			}
		}
		lab.Guessed = true
		lab.Note = fmt.Sprintf("the outputs of custom module %s are unknown (it has no signature): every column that is not an input is a label (%s); give labels to choose",
			strings.Join(f.Opaque, ", "), strings.Join(lab.Labels, ", "))
	default:
		for _, o := range f.Outputs {
			if slices.Contains(columns, o) && !slices.Contains(lab.Inputs, o) {
				lab.Labels = append(lab.Labels, o)
			}
		}
	}
	for _, c := range columns {
		if !slices.Contains(lab.Inputs, c) && !slices.Contains(lab.Labels, c) {
			lab.Ignored = append(lab.Ignored, c)
		}
	}
	return lab, nil
}

// Split divides one example's data into the program's inputs and the
// labels; ignored fields are in neither. A missing input is not an error
// here: the caller decides (an execution refuses it).
func (l Labeling) Split(data map[string]any) (inputs, labels map[string]any) {
	inputs, labels = map[string]any{}, map[string]any{}
	for _, k := range l.Inputs {
		if v, ok := data[k]; ok {
			inputs[k] = v
		}
	}
	for _, k := range l.Labels {
		if v, ok := data[k]; ok {
			labels[k] = v
		}
	}
	return inputs, labels
}

// ParseLabels reads a comma-separated list of labels ("a,b"), as --labels
// takes it; "" is none.
func ParseLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
