package model

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func split(t *testing.T, program string, arms ...string) *TrafficSplit {
	t.Helper()
	s := &TrafficSplit{Program: program}
	for _, a := range arms {
		arm, err := ParseArm(a)
		if err != nil {
			t.Fatal(err)
		}
		s.Arms = append(s.Arms, arm)
	}
	return s
}

func TestTrafficSplitValidate(t *testing.T) {
	ok := [][]string{{"v3=90", "v4=10"}, {"1=100"}, {"v1=33.33", "v2=33.33", "v3=33.34"}, {"v2=50%", "v1=50%"}}
	for _, arms := range ok {
		if err := split(t, "qa", arms...).Validate(); err != nil {
			t.Errorf("%v: %v", arms, err)
		}
	}
	bad := []struct {
		arms []string
		want string
	}{
		{nil, "at least one arm"},
		{[]string{"v3=90", "v4=20"}, "sum to 110, not 100"},
		{[]string{"v3=90"}, "sum to 90, not 100"},
		{[]string{"v3=50", "v3=50"}, "v3 appears twice"},
		{[]string{"v3=0", "v4=100"}, "above 0"},
		{[]string{"v3=99.995", "v4=0.005"}, "steps of 0.01"},
		{strings.Fields("v1=10 v2=10 v3=10 v4=10 v5=10 v6=10 v7=10 v8=10 v9=10 v10=5 v11=5"), "at most 10"},
	}
	for _, b := range bad {
		err := split(t, "qa", b.arms...).Validate()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%v: err = %v, want it to say %q", b.arms, err, b.want)
		}
	}
	for _, s := range []string{"v3", "vx=10", "v0=10", "v3=ten"} {
		if _, err := ParseArm(s); err == nil {
			t.Errorf("ParseArm(%q): no error", s)
		}
	}
	if got := split(t, "qa", "v3=90", "v4=10").String(); got != "v3=90 v4=10" {
		t.Errorf("String = %q", got)
	}
}

// The same key lands on the same arm while the split is the same, and a
// 90/10 split over 2,000 distinct keys lands within ±3 points.
func TestRouteByKey(t *testing.T) {
	s := split(t, "qa", "v3=90", "v4=10")
	counts := map[int]int{}
	for i := range 2000 {
		key := fmt.Sprintf("customer-%d", i)
		a := s.Route(Bucket("qa", key))
		for range 3 {
			if again := s.Route(Bucket("qa", key)); again != a {
				t.Fatalf("key %s went to v%d, then v%d", key, a.Version, again.Version)
			}
		}
		counts[a.Version]++
	}
	if share := float64(counts[3]) / 20; share < 87 || share > 93 {
		t.Errorf("v3 served %.1f%% of 2,000 keys, want 90 ± 3", share)
	}
	// Without a key, at random: the same bound.
	counts = map[int]int{}
	for range 2000 {
		counts[s.Route(Bucket("qa", "")).Version]++
	}
	if share := float64(counts[3]) / 20; share < 87 || share > 93 {
		t.Errorf("v3 served %.1f%% of 2,000 keyless runs, want 90 ± 3", share)
	}
	// The arms cover the buckets in their order.
	if s.Route(0).Version != 3 || s.Route(8999).Version != 3 || s.Route(9000).Version != 4 || s.Route(Buckets-1).Version != 4 {
		t.Error("bucket boundaries are not at 90%")
	}
}

func TestTrafficReport(t *testing.T) {
	s := split(t, "qa", "v3=90", "v4=10")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var xs []*Execution
	for i := range 40 {
		v, score := 3, 0.4+0.01*float64(i%5)
		if i%4 == 0 {
			v, score = 4, 0.8+0.01*float64(i%5)
		}
		x := &Execution{Program: "qa", Version: v, Routed: true, State: Completed, Cost: 0.001, Duration: time.Duration(100+i) * time.Millisecond,
			CreatedAt: t0.Add(time.Duration(i) * time.Minute), Feedback: &Feedback{Score: score}}
		xs = append(xs, x)
	}
	xs = append(xs,
		&Execution{Program: "qa", Version: 3, Routed: true, State: Failed, CreatedAt: t0.Add(time.Hour)},
		&Execution{Program: "qa", Version: 3, Routed: false, State: Completed, CreatedAt: t0.Add(time.Hour)}, // ran at a version
		&Execution{Program: "qa", Version: 3, Routed: true, State: Running, CreatedAt: t0.Add(time.Hour)},    // not ended
		&Execution{Program: "qa", Version: 5, Routed: true, State: Completed, CreatedAt: t0.Add(time.Hour)},  // a former arm
		&Execution{Program: "qa", Version: 3, Routed: true, State: Completed, CreatedAt: t0.Add(-time.Hour)}, // before since
	)
	r := NewTrafficReport("qa", s, t0, xs)
	if len(r.Arms) != 3 || r.Arms[0].Version != 3 || r.Arms[1].Version != 4 || r.Arms[2].Version != 5 {
		t.Fatalf("arms %+v", r.Arms)
	}
	a, b := r.Arms[0], r.Arms[1]
	if a.N != 31 || a.Errors != 1 || b.N != 10 || r.Arms[2].Percent != 0 || a.Percent != 90 {
		t.Fatalf("counts: v3 n=%d errors=%d, v4 n=%d", a.N, a.Errors, b.N)
	}
	if a.Score.N != 30 || b.Score.N != 10 || a.Score.Low >= a.Score.Mean || a.Score.High <= a.Score.Mean {
		t.Errorf("scores %+v %+v", a.Score, b.Score)
	}
	near(t, "v3 total cost", a.TotalCost, 0.030, 1e-12)
	near(t, "v3 error rate", a.ErrorRate, 1.0/31, 1e-12)
	if a.LatencyP50 <= 0.1 || a.LatencyP95 < a.LatencyP50 {
		t.Errorf("latency p50 %v p95 %v", a.LatencyP50, a.LatencyP95)
	}
	if len(r.Tests) != 4 {
		t.Fatalf("tests %+v", r.Tests)
	}
	sc := r.Tests[0]
	if sc.Measure != "score" || sc.Version != 4 || sc.Baseline != 3 || sc.Verdict != "significant" || sc.P >= 0.05 || sc.Diff <= 0.3 {
		t.Errorf("score test %+v", sc)
	}
	if v5 := r.Tests[2]; !strings.HasPrefix(v5.Verdict, "not enough data") {
		t.Errorf("v5's test with one run: %+v", v5)
	}
	if q := quantile([]float64{1, 2, 3, 4}, 0.5); q != 2.5 {
		t.Errorf("median of 1..4 = %v", q)
	}
}
