package geohash

import "math"

// Redis computes distances with glibc's sin, cos and asin, which are
// correctly rounded (or all but), while Go's math package is a few ulps
// off in several percent of calls: a stored STOREDIST score or a point
// right on a radius would differ. These evaluate the functions in
// double-double arithmetic (about 106 bits) and round once.

// dd is an unevaluated sum hi+lo with |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) dd {
	s := a + b
	bb := s - a
	return dd{s, (a - (s - bb)) + (b - bb)}
}

func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

func twoProd(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

func (a dd) add(b dd) dd {
	s := twoSum(a.hi, b.hi)
	t := twoSum(a.lo, b.lo)
	s.lo += t.hi
	s = quickTwoSum(s.hi, s.lo)
	s.lo += t.lo
	return quickTwoSum(s.hi, s.lo)
}

func (a dd) neg() dd { return dd{-a.hi, -a.lo} }

func (a dd) mul(b dd) dd {
	p := twoProd(a.hi, b.hi)
	p.lo += a.hi*b.lo + a.lo*b.hi
	return quickTwoSum(p.hi, p.lo)
}

func (a dd) mulF(b float64) dd {
	p := twoProd(a.hi, b)
	p.lo += a.lo * b
	return quickTwoSum(p.hi, p.lo)
}

func (a dd) divF(b float64) dd {
	q1 := a.hi / b
	p := twoProd(q1, b)
	s := twoSum(a.hi, -p.hi)
	s.lo -= p.lo
	s.lo += a.lo
	q2 := (s.hi + s.lo) / b
	return quickTwoSum(q1, q2)
}

func (a dd) float() float64 { return a.hi + a.lo }

// π/2 to about 160 bits, in three parts.
const (
	pio2a = 1.5707963267948966      // 0x3FF921FB54442D18
	pio2b = 6.123233995736766e-17   // 0x3C91A62633145C07
	pio2c = -1.4973849048591698e-33 // 0xB91F1976B7ED8FBC
)

// invFact[i] is 1/i! in double-double.
var invFact = func() [34]dd {
	var f [34]dd
	f[0] = dd{1, 0}
	for i := 1; i < len(f); i++ {
		f[i] = f[i-1].divF(float64(i))
	}
	return f
}()

// reduce returns r and k with x = k*π/2 + r, |r| <= π/4 (about), or ok
// false when x is too large for this reduction.
func reduce(x float64) (r dd, k int64, ok bool) {
	if math.Abs(x) > 1e6 || math.IsNaN(x) {
		return dd{}, 0, false
	}
	kf := math.Round(x / pio2a)
	r = dd{x, 0}.add(twoProd(kf, pio2a).neg())
	r = r.add(twoProd(kf, pio2b).neg())
	r = r.add(dd{-kf * pio2c, 0})
	return r, int64(kf), true
}

// sinPoly and cosPoly are the Taylor series of the reduced argument.
func sinPoly(r dd) dd {
	r2 := r.mul(r)
	s := invFact[31]
	for i := 29; i >= 1; i -= 2 {
		t := s.mul(r2).neg()
		s = invFact[i].add(t)
	}
	return s.mul(r)
}

func cosPoly(r dd) dd {
	r2 := r.mul(r)
	s := invFact[32]
	for i := 30; i >= 0; i -= 2 {
		t := s.mul(r2).neg()
		s = invFact[i].add(t)
	}
	return s
}

// The reduced argument r is split as a + b with a = j/64: sin and cos of
// a come from tables built with the series above, those of the small b
// from short series whose tails are evaluated in plain doubles. The
// result is accurate to about 2^-70, far below glibc's own rounding
// errors, and costs a few dozen operations.
const tableScale = 64

var sinTab, cosTab = func() (s, c [2*tableN + 1]dd) {
	for j := -tableN; j <= tableN; j++ {
		a := dd{float64(j) / tableScale, 0}
		s[j+tableN], c[j+tableN] = sinPoly(a), cosPoly(a)
	}
	return s, c
}()

// tableN covers |r| <= π/4 plus the reduction's slack.
const tableN = 52

// sinCosSmall returns sin b and cos b for |b| <= 1/128.
func sinCosSmall(b dd) (sb, cb dd) {
	p := b.hi * b.hi
	// sin b = b + b³(-1/6 + p/120 - p²/5040 + p³/362880), with b.lo's
	// first-order effect on the cube.
	t := b.hi*p*(-1.0/6+p*(1.0/120+p*(-1.0/5040+p*(1.0/362880)))) - b.lo*p/2
	sb = b.add(dd{t, 0})
	// cos b = 1 - b²/2 + p²(1/24 - p/720 + p²/40320).
	b2 := twoProd(b.hi, b.hi)
	b2.lo += 2 * b.hi * b.lo
	q := p * p * (1.0/24 + p*(-1.0/720+p*(1.0/40320)))
	cb = dd{1, 0}.add(dd{-b2.hi / 2, -b2.lo / 2}).add(dd{q, 0})
	return sb, cb
}

// sinCosReduced returns sin r and cos r for the reduced argument.
func sinCosReduced(r dd) (sr, cr dd) {
	j := int(math.Round(r.hi * tableScale))
	if j < -tableN || j > tableN {
		return sinPoly(r), cosPoly(r)
	}
	b := twoSum(r.hi, -float64(j)/tableScale)
	b.lo += r.lo
	b = quickTwoSum(b.hi, b.lo)
	sb, cb := sinCosSmall(b)
	sa, ca := sinTab[j+tableN], cosTab[j+tableN]
	// sin(a+b) = sin a cos b + cos a sin b; cos(a+b) = cos a cos b - sin a sin b.
	sr = sa.mul(cb).add(ca.mul(sb))
	cr = ca.mul(cb).add(sa.mul(sb).neg())
	return sr, cr
}

func sinDD(x float64) (dd, bool) {
	r, k, ok := reduce(x)
	if !ok {
		return dd{}, false
	}
	s, c := sinCosReduced(r)
	switch k & 3 {
	case 0:
		return s, true
	case 1:
		return c, true
	case 2:
		return s.neg(), true
	}
	return c.neg(), true
}

func cosDD(x float64) (dd, bool) {
	r, k, ok := reduce(x)
	if !ok {
		return dd{}, false
	}
	s, c := sinCosReduced(r)
	switch k & 3 {
	case 0:
		return c, true
	case 1:
		return s.neg(), true
	case 2:
		return c.neg(), true
	}
	return s, true
}

// sin is sin(x) correctly rounded (but for ties closer than 2^-70).
func sin(x float64) float64 {
	if x == 0 || math.Abs(x) < 0x1p-26 {
		// sin(x) = x - x³/6 rounds to x (keeping -0).
		return x
	}
	if v, ok := sinDD(x); ok {
		return v.float()
	}
	return math.Sin(x)
}

// cos is cos(x) correctly rounded (but for ties closer than 2^-70).
func cos(x float64) float64 {
	if math.Abs(x) < 0x1p-27 {
		return 1
	}
	if v, ok := cosDD(x); ok {
		return v.float()
	}
	return math.Cos(x)
}

// asin is asin(x) correctly rounded (but for ties closer than 2^-70):
// one Newton step on sin in double-double from an estimate good to a few
// ulps (Go's Asin loses accuracy near ±1, hence the half-angle form).
func asin(x float64) float64 {
	if math.IsNaN(x) || math.Abs(x) > 1 {
		return math.NaN()
	}
	ax := math.Abs(x)
	if ax < 0x1p-26 {
		return x
	}
	if ax == 1 {
		return math.Copysign(pio2a, x)
	}
	y0 := math.Asin(ax)
	if ax > 0.5 {
		y0 = pio2a - 2*math.Asin(math.Sqrt((1-ax)/2))
	}
	s, _ := sinDD(y0)
	// y = y0 + (x - sin y0)/cos y0
	res := dd{ax, 0}.add(s.neg())
	d := res.hi / math.Cos(y0)
	return math.Copysign(dd{y0, 0}.add(dd{d, 0}).float(), x)
}
