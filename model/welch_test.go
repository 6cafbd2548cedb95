package model

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

// The Student-t distribution against values known in closed form (df 1 is
// Cauchy's, df 2 has an algebraic CDF) and scipy's.
func TestStudentT(t *testing.T) {
	// scipy.stats.t.sf(2.0, 10) * 2
	near(t, "p(t=2, df=10)", StudentTTwoSided(2, 10), 0.0733880347707, 1e-9)
	// scipy.stats.t.ppf(0.975, 10), t.ppf(0.975, 1), norm.ppf(0.975)
	near(t, "t.ppf(0.975, 10)", StudentTQuantile(0.975, 10), 2.228138851964938, 1e-8)
	near(t, "t.ppf(0.975, 1)", StudentTQuantile(0.975, 1), 12.706204736174698, 1e-6)
	near(t, "t.ppf(0.975, 1e7)", StudentTQuantile(0.975, 1e7), 1.959963984540054, 1e-5)
	for _, x := range []float64{-30, -3, -1, -0.2, 0, 0.5, 1, 4, 50} {
		near(t, "Cauchy CDF", StudentTCDF(x, 1), 0.5+math.Atan(x)/math.Pi, 1e-12)
		near(t, "df=2 CDF", StudentTCDF(x, 2), 0.5+x/(2*math.Sqrt(2+x*x)), 1e-12)
	}
	if p := StudentTTwoSided(0, 7); p != 1 {
		t.Errorf("p(t=0) = %v, want 1", p)
	}
}

// tDensityTail integrates Student's t density from |t| to far out by
// Simpson's rule: an independent check of the continued fraction.
func tDensityTail(x, df float64) float64 {
	lg1, _ := math.Lgamma((df + 1) / 2)
	lg2, _ := math.Lgamma(df / 2)
	c := math.Exp(lg1-lg2) / math.Sqrt(df*math.Pi)
	f := func(u float64) float64 { return c * math.Pow(1+u*u/df, -(df+1)/2) }
	// Substitute u = |x| + s/(1-s) to map [|x|, ∞) onto [0, 1).
	g := func(s float64) float64 {
		if s >= 1 {
			return 0
		}
		return f(math.Abs(x)+s/(1-s)) / ((1 - s) * (1 - s))
	}
	const n = 200000
	h := 1.0 / n
	sum := g(0) + g(1)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * g(float64(i)*h)
	}
	return 2 * sum * h / 3
}

func TestWelch(t *testing.T) {
	a := Summarize([]float64{1, 2, 3, 4, 5})
	b := Summarize([]float64{2, 4, 6, 8, 10})
	if a.Mean != 3 || a.Var != 2.5 || b.Mean != 6 || b.Var != 10 {
		t.Fatalf("summaries %+v %+v", a, b)
	}
	tt, df, p, ok := Welch(a, b)
	if !ok {
		t.Fatal("no test")
	}
	near(t, "t", tt, 3/math.Sqrt(2.5), 1e-12)
	near(t, "df", df, 6.25/1.0625, 1e-12)
	near(t, "p", p, tDensityTail(tt, df), 1e-7)
	near(t, "p (R's t.test)", p, 0.1075, 5e-4)

	if _, _, _, ok := Welch(Summarize([]float64{1}), b); ok {
		t.Error("a test with one value in an arm")
	}
	if _, _, _, ok := Welch(Summarize([]float64{1, 1}), Summarize([]float64{2, 2})); ok {
		t.Error("a test with no variance")
	}
	lo, hi, ok := a.Interval95()
	// mean ± t.ppf(0.975, 4) * sqrt(2.5/5); t.ppf(0.975, 4) = 2.7764451051977987
	if !ok {
		t.Fatal("no interval")
	}
	near(t, "interval low", lo, 3-2.7764451051977987*math.Sqrt(0.5), 1e-7)
	near(t, "interval high", hi, 3+2.7764451051977987*math.Sqrt(0.5), 1e-7)
}
