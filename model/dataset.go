package model

import (
	"fmt"
	"time"
)

// Split is the part of a dataset an example belongs to.
type Split string

const (
	Train      Split = "train"
	Validation Split = "validation"
	Test       Split = "test"
)

// Splits lists every split.
var Splits = []Split{Train, Validation, Test}

// ParseSplit checks a split name given by a user; "val" and "dev" are
// accepted as the names DSPy users often use.
func ParseSplit(s string) (Split, error) {
	switch s {
	case "train":
		return Train, nil
	case "validation", "val", "dev":
		return Validation, nil
	case "test":
		return Test, nil
	}
	return "", fmt.Errorf("unknown split %q (want train, validation or test)", s)
}

// Dataset describes a set of examples; the examples are stored apart and
// paged, never loaded whole.
type Dataset struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Fields      []string      `json:"fields"`
	InputKeys   []string      `json:"input_keys,omitempty"`
	Counts      map[Split]int `json:"counts,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// Size is the number of examples over all splits.
func (d *Dataset) Size() int {
	n := 0
	for _, c := range d.Counts {
		n += c
	}
	return n
}

// Example is one row of a dataset, like dspy.Example: a record of fields of
// which InputKeys (on the dataset) are the inputs.
type Example struct {
	Dataset string         `json:"dataset,omitempty"`
	ID      ID             `json:"id"`
	Split   Split          `json:"split"`
	Data    map[string]any `json:"data"`
}
