package model

// PLACEHOLDER: replaced by the full parser (helper task).

// Field is one field of a signature.
type Field struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"` // Python type expression as written; "" means str
}

// Signature is a parsed DSPy signature string.
type Signature struct {
	Inputs  []Field `json:"inputs"`
	Outputs []Field `json:"outputs"`
}

// Field finds a field by name among inputs and outputs.
func (s *Signature) Field(name string) *Field {
	for i := range s.Inputs {
		if s.Inputs[i].Name == name {
			return &s.Inputs[i]
		}
	}
	for i := range s.Outputs {
		if s.Outputs[i].Name == name {
			return &s.Outputs[i]
		}
	}
	return nil
}

func ParseSignature(s string) (*Signature, error) { return &Signature{}, nil }

func isIdentifier(s string) bool { return s != "" }
