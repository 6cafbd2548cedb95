package model

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// MinTestN is how many values each arm needs before the report calls a
// difference significant or not: below it the verdict is "not enough
// data", whatever the p-value.
const MinTestN = 10

// TrafficReport compares the arms of a program's traffic split on the
// executions the split routed (Execution.Routed) since Since.
type TrafficReport struct {
	Program string        `json:"program"`
	Split   *TrafficSplit `json:"split,omitempty"` // nil once cleared
	Since   time.Time     `json:"since,omitzero"`
	Arms    []ArmReport   `json:"arms"`
	// Tests compare each arm after the first with the first (the
	// baseline): on score, and on latency.
	Tests []ArmTest `json:"tests"`
}

// ArmReport is one version's executions.
type ArmReport struct {
	Version int     `json:"version"`
	Percent float64 `json:"percent"` // its share in the split; 0 when no longer in it
	N       int     `json:"n"`       // ended executions
	Errors  int     `json:"errors"`  // of them, failed
	// ErrorRate is Errors/N.
	ErrorRate float64 `json:"error_rate"`
	// Score is over the executions with a score: feedback, else the
	// metric score an evaluation gave.
	Score   Stat `json:"score"`
	Latency Stat `json:"latency_s"` // completed runs, cache hits left out
	// LatencyP50 and LatencyP95 are seconds.
	LatencyP50 float64 `json:"latency_p50_s"`
	LatencyP95 float64 `json:"latency_p95_s"`
	MeanCost   float64 `json:"mean_cost"`
	TotalCost  float64 `json:"total_cost"`
}

// Stat is a mean with its 95% interval over N values (Low and High are
// set from two values on).
type Stat struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Low  float64 `json:"low,omitempty"`
	High float64 `json:"high,omitempty"`
	sum  Summary
}

// ArmTest is Welch's t-test of an arm against the baseline on one measure.
type ArmTest struct {
	Version  int     `json:"version"`
	Baseline int     `json:"baseline"`
	Measure  string  `json:"measure"` // score or latency
	Diff     float64 `json:"diff"`    // the arm's mean minus the baseline's
	T        float64 `json:"t,omitempty"`
	DF       float64 `json:"df,omitempty"`
	P        float64 `json:"p,omitempty"`
	// Verdict is "significant" (p < 0.05), "not significant", or why
	// there is no test ("not enough data: ...").
	Verdict string `json:"verdict"`
}

// ScoreOf is the score an execution carries: its feedback's, else the
// metric score of the evaluation it was part of.
func ScoreOf(x *Execution) (float64, bool) {
	if x.Feedback != nil {
		return x.Feedback.Score, true
	}
	if x.Eval != nil && x.Eval.Score != nil {
		return *x.Eval.Score, true
	}
	return 0, false
}

// NewTrafficReport builds the report over xs: the ended, routed
// executions of program created at or after since. The split's arms come
// first in its order (the first is the baseline), then any other version
// that served routed runs meanwhile, in version order.
func NewTrafficReport(program string, split *TrafficSplit, since time.Time, xs []*Execution) *TrafficReport {
	r := &TrafficReport{Program: program, Split: split, Since: since, Arms: []ArmReport{}, Tests: []ArmTest{}}
	type acc struct {
		scores, lat []float64
	}
	byVersion := map[int]int{}
	var accs []acc
	arm := func(v int) int {
		if i, ok := byVersion[v]; ok {
			return i
		}
		byVersion[v] = len(r.Arms)
		r.Arms = append(r.Arms, ArmReport{Version: v})
		accs = append(accs, acc{})
		return len(r.Arms) - 1
	}
	if split != nil {
		for _, a := range split.Arms {
			r.Arms[arm(a.Version)].Percent = a.Percent
		}
	}
	var others []*Execution
	for _, x := range xs {
		if !x.Routed || x.Program != program || !x.State.Terminal() || x.CreatedAt.Before(since) {
			continue
		}
		if _, ok := byVersion[x.Version]; !ok {
			others = append(others, x)
			continue
		}
		add(&r.Arms[byVersion[x.Version]], &accs[byVersion[x.Version]].scores, &accs[byVersion[x.Version]].lat, x)
	}
	slices.SortStableFunc(others, func(a, b *Execution) int { return cmp.Compare(a.Version, b.Version) })
	for _, x := range others {
		i := arm(x.Version)
		add(&r.Arms[i], &accs[i].scores, &accs[i].lat, x)
	}
	for i := range r.Arms {
		a := &r.Arms[i]
		if a.N > 0 {
			a.ErrorRate = float64(a.Errors) / float64(a.N)
			a.MeanCost = a.TotalCost / float64(a.N)
		}
		a.Score = statOf(accs[i].scores)
		a.Latency = statOf(accs[i].lat)
		a.LatencyP50, a.LatencyP95 = quantile(accs[i].lat, 0.50), quantile(accs[i].lat, 0.95)
	}
	for i := 1; i < len(r.Arms); i++ {
		base, a := &r.Arms[0], &r.Arms[i]
		r.Tests = append(r.Tests, test(base.Version, a.Version, "score", base.Score, a.Score),
			test(base.Version, a.Version, "latency", base.Latency, a.Latency))
	}
	return r
}

func add(a *ArmReport, scores, lat *[]float64, x *Execution) {
	a.N++
	if x.State == Failed {
		a.Errors++
	}
	a.TotalCost += x.Cost
	if s, ok := ScoreOf(x); ok {
		*scores = append(*scores, s)
	}
	if x.State == Completed && !x.CacheHit && x.Duration > 0 {
		*lat = append(*lat, x.Duration.Seconds())
	}
}

func statOf(xs []float64) Stat {
	s := Summarize(xs)
	st := Stat{N: s.N, Mean: s.Mean, sum: s}
	if lo, hi, ok := s.Interval95(); ok {
		st.Low, st.High = lo, hi
	}
	return st
}

// quantile is the q-quantile of xs by linear interpolation between order
// statistics (numpy's default); 0 for none.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

func test(base, version int, measure string, a, b Stat) ArmTest {
	t := ArmTest{Version: version, Baseline: base, Measure: measure}
	if a.N > 0 && b.N > 0 {
		t.Diff = b.Mean - a.Mean
	}
	if a.N < MinTestN || b.N < MinTestN {
		t.Verdict = fmt.Sprintf("not enough data: %d and %d values, want %d each", a.N, b.N, MinTestN)
		return t
	}
	tt, df, p, ok := Welch(a.sum, b.sum)
	if !ok {
		t.Verdict = "not enough data: no variance in either arm"
		return t
	}
	t.T, t.DF, t.P = tt, df, p
	t.Verdict = "not significant"
	if p < 0.05 {
		t.Verdict = "significant"
	}
	return t
}

// String is the test in one line: "v4 vs v3 on score: +0.050 (t=2.10,
// df=38.2, p=0.042): significant".
func (t ArmTest) String() string {
	s := fmt.Sprintf("v%d vs v%d on %s", t.Version, t.Baseline, t.Measure)
	if t.Diff != 0 || t.DF > 0 {
		s += fmt.Sprintf(": %+.3g", t.Diff)
		if t.Measure == "latency" {
			s += "s"
		}
	}
	if t.DF > 0 {
		s += fmt.Sprintf(" (t=%.2f, df=%.1f, p=%.3g)", t.T, t.DF, t.P)
	}
	return s + ": " + t.Verdict
}

// String is the stat as "0.720 [0.690, 0.750]", or "-" over no values.
func (s Stat) String() string {
	switch {
	case s.N == 0:
		return "-"
	case s.N < 2:
		return fmt.Sprintf("%.3f", s.Mean)
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", s.Mean, s.Low, s.High)
}
