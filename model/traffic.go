package model

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// MaxArms bounds a traffic split: more arms than this split the traffic
// too thin for any of them to say anything.
const MaxArms = 10

// Buckets is how finely a split divides traffic: a run lands in one of
// Buckets buckets, so percentages count to two decimals.
const Buckets = 10000

// TrafficSplit divides the runs of a program that name no version among
// some of its versions, by percentage: an A/B test between versions. The
// first arm is the baseline the report compares the others with.
type TrafficSplit struct {
	Program string    `json:"program"`
	Arms    []Arm     `json:"arms"`
	SetAt   time.Time `json:"set_at"`
	SetBy   string    `json:"set_by,omitempty"` // the user who set it ("local" for the workspace's own)
}

// Arm is one version and its share of the traffic, in percent.
type Arm struct {
	Version int     `json:"version"`
	Percent float64 `json:"percent"`
}

// String is the arm as the command line spells it: "v3=90".
func (a Arm) String() string {
	return fmt.Sprintf("v%d=%s", a.Version, strconv.FormatFloat(a.Percent, 'f', -1, 64))
}

// String is the split as the command line spells it: "v3=90 v4=10".
func (s *TrafficSplit) String() string {
	parts := make([]string, len(s.Arms))
	for i, a := range s.Arms {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}

// ParseArm reads "v3=90" (or "3=90"): a version and its percentage.
func ParseArm(s string) (Arm, error) {
	v, p, ok := strings.Cut(s, "=")
	if !ok {
		return Arm{}, fmt.Errorf("arm %q: want VERSION=PERCENT, as in v3=90", s)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(v, "v"), "V"))
	if err != nil || n <= 0 {
		return Arm{}, fmt.Errorf("arm %q: version %q is not a version number (v1, v2, ...)", s, v)
	}
	pct, err := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64)
	if err != nil {
		return Arm{}, fmt.Errorf("arm %q: percentage %q is not a number", s, p)
	}
	return Arm{Version: n, Percent: pct}, nil
}

// Validate checks the arms: 1 to MaxArms of them, distinct versions, each
// share above 0 in steps of 0.01, summing to 100. That the versions exist
// is the store's to check.
func (s *TrafficSplit) Validate() error {
	if err := ValidName("program", s.Program); err != nil {
		return err
	}
	if len(s.Arms) == 0 {
		return &FieldError{Field: "arms", Msg: "a split needs at least one arm (v3=90 v4=10)"}
	}
	if len(s.Arms) > MaxArms {
		return &FieldError{Field: "arms", Msg: fmt.Sprintf("%d arms: a split has at most %d", len(s.Arms), MaxArms)}
	}
	seen := map[int]bool{}
	total := 0
	for _, a := range s.Arms {
		if a.Version <= 0 {
			return &FieldError{Field: "arms", Msg: fmt.Sprintf("version %d: want a version number ≥ 1", a.Version)}
		}
		if seen[a.Version] {
			return &FieldError{Field: "arms", Msg: fmt.Sprintf("v%d appears twice", a.Version)}
		}
		seen[a.Version] = true
		b := a.buckets()
		if math.IsNaN(a.Percent) || a.Percent <= 0 || a.Percent > 100 || math.Abs(float64(b)-a.Percent*100) > 1e-6 {
			return &FieldError{Field: "arms", Msg: fmt.Sprintf("v%d=%v: want a percentage above 0 and at most 100, in steps of 0.01", a.Version, a.Percent)}
		}
		total += b
	}
	if total != Buckets {
		return &FieldError{Field: "arms", Msg: fmt.Sprintf("the percentages sum to %s, not 100", strconv.FormatFloat(float64(total)/100, 'f', -1, 64))}
	}
	return nil
}

func (a Arm) buckets() int { return int(math.Round(a.Percent * 100)) }

// Bucket is where a run with routing key key lands, in [0, Buckets): a
// hash of the program and the key (FNV-1a), so that the same key goes to
// the same arm for as long as the split stays the same. A run without a
// key lands at random.
func Bucket(program, key string) int {
	if key == "" {
		return rand.IntN(Buckets)
	}
	h := fnv.New64a()
	h.Write([]byte(program))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int(h.Sum64() % Buckets)
}

// Route is the arm a bucket falls in: the arms cover [0, Buckets) in
// their order, each as many buckets as its share.
func (s *TrafficSplit) Route(bucket int) Arm {
	end := 0
	for _, a := range s.Arms {
		end += a.buckets()
		if bucket < end {
			return a
		}
	}
	return s.Arms[len(s.Arms)-1]
}

// Feedback is a score a caller gave an execution after it ended (one per
// execution: a second replaces the first), which the traffic report
// compares the arms on.
type Feedback struct {
	Score float64   `json:"score"`
	Note  string    `json:"note,omitempty"`
	By    string    `json:"by,omitempty"` // the user who gave it ("" for the workspace's own)
	At    time.Time `json:"at"`
}

// MaxFeedbackNote bounds a feedback's note.
const MaxFeedbackNote = 4096

// Validate checks a feedback's score is a number and its note short.
func (f *Feedback) Validate() error {
	if math.IsNaN(f.Score) || math.IsInf(f.Score, 0) {
		return &FieldError{Field: "score", Msg: "want a finite number (0..1 is usual)"}
	}
	if len(f.Note) > MaxFeedbackNote {
		return &FieldError{Field: "note", Msg: fmt.Sprintf("%d bytes: a note is at most %d", len(f.Note), MaxFeedbackNote)}
	}
	return nil
}
