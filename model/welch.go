package model

import "math"

// The statistics of the traffic report: Welch's t-test between two arms
// (unequal variances, unequal sizes) and the Student-t distribution it
// needs, through the regularized incomplete beta function.

// Summary is the mean and the sample variance of n values.
type Summary struct {
	N    int
	Mean float64
	Var  float64 // sample variance (n-1); 0 below two values
}

// Summarize is xs's mean and variance (two passes, for accuracy).
func Summarize(xs []float64) Summary {
	s := Summary{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N < 2 {
		return s
	}
	for _, x := range xs {
		d := x - s.Mean
		s.Var += d * d
	}
	s.Var /= float64(s.N - 1)
	return s
}

// Interval95 is the 95% confidence interval of the mean, from Student's t
// with n-1 degrees of freedom; ok is false below two values.
func (s Summary) Interval95() (lo, hi float64, ok bool) {
	if s.N < 2 {
		return 0, 0, false
	}
	h := StudentTQuantile(0.975, float64(s.N-1)) * math.Sqrt(s.Var/float64(s.N))
	return s.Mean - h, s.Mean + h, true
}

// Welch is Welch's t-test of b's mean against a's: t, its degrees of
// freedom (Welch–Satterthwaite) and the two-sided p-value. ok is false
// when the test cannot be made: fewer than two values in either, or no
// variance in both.
func Welch(a, b Summary) (t, df, p float64, ok bool) {
	if a.N < 2 || b.N < 2 {
		return 0, 0, 0, false
	}
	va, vb := a.Var/float64(a.N), b.Var/float64(b.N)
	se2 := va + vb
	if se2 == 0 {
		return 0, 0, 0, false
	}
	t = (b.Mean - a.Mean) / math.Sqrt(se2)
	df = se2 * se2 / (va*va/float64(a.N-1) + vb*vb/float64(b.N-1))
	return t, df, StudentTTwoSided(t, df), true
}

// StudentTTwoSided is P(|T| ≥ |t|) for Student's t with df degrees of
// freedom: I_x(df/2, 1/2) with x = df/(df+t²).
func StudentTTwoSided(t, df float64) float64 {
	if math.IsInf(t, 0) {
		return 0
	}
	return RegIncBeta(df/2, 0.5, df/(df+t*t))
}

// StudentTCDF is P(T ≤ t) for Student's t with df degrees of freedom.
func StudentTCDF(t, df float64) float64 {
	tail := StudentTTwoSided(t, df) / 2
	if t < 0 {
		return tail
	}
	return 1 - tail
}

// StudentTQuantile is the t with StudentTCDF(t, df) = q, for 0 < q < 1,
// found by bisection (the CDF is monotone; 200 halvings reach float64's
// precision from any bracket used here).
func StudentTQuantile(q, df float64) float64 {
	if q == 0.5 {
		return 0
	}
	lo, hi := -1.0, 1.0
	for StudentTCDF(lo, df) > q {
		lo *= 2
	}
	for StudentTCDF(hi, df) < q {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if StudentTCDF(mid, df) < q {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-12*math.Max(1, math.Abs(mid)) {
			break
		}
	}
	return (lo + hi) / 2
}

// RegIncBeta is the regularized incomplete beta function I_x(a, b), by
// its continued fraction (modified Lentz), using the symmetry
// I_x(a,b) = 1 - I_{1-x}(b,a) where the fraction converges slowly.
func RegIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaFraction(a, b, x) / a
	}
	return 1 - front*betaFraction(b, a, 1-x)/b
}

// betaFraction evaluates the incomplete beta's continued fraction.
func betaFraction(a, b, x float64) float64 {
	const tiny, eps = 1e-300, 1e-15
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	f := d
	for m := 1; m <= 500; m++ {
		fm := float64(m)
		// The even step, then the odd one.
		num := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d, c = 1+num*d, 1+num/c
		d = 1 / nonTiny(d, tiny)
		c = nonTiny(c, tiny)
		f *= d * c
		num = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d, c = 1+num*d, 1+num/c
		d = 1 / nonTiny(d, tiny)
		c = nonTiny(c, tiny)
		delta := d * c
		f *= delta
		if math.Abs(delta-1) < eps {
			break
		}
	}
	return f
}

func nonTiny(v, tiny float64) float64 {
	if math.Abs(v) < tiny {
		return tiny
	}
	return v
}
