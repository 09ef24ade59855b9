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

func sinDD(x float64) (dd, bool) {
	r, k, ok := reduce(x)
	if !ok {
		return dd{}, false
	}
	switch k & 3 {
	case 0:
		return sinPoly(r), true
	case 1:
		return cosPoly(r), true
	case 2:
		return sinPoly(r).neg(), true
	}
	return cosPoly(r).neg(), true
}

func cosDD(x float64) (dd, bool) {
	r, k, ok := reduce(x)
	if !ok {
		return dd{}, false
	}
	switch k & 3 {
	case 0:
		return cosPoly(r), true
	case 1:
		return sinPoly(r).neg(), true
	case 2:
		return cosPoly(r).neg(), true
	}
	return sinPoly(r), true
}

// sin is sin(x) rounded as glibc's.
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

// cos is cos(x) rounded as glibc's.
func cos(x float64) float64 {
	if math.Abs(x) < 0x1p-27 {
		return 1
	}
	if v, ok := cosDD(x); ok {
		return v.float()
	}
	return math.Cos(x)
}

// asin is asin(x) rounded as glibc's: one Newton step in double-double
// from Go's estimate.
func asin(x float64) float64 {
	if math.IsNaN(x) || math.Abs(x) > 1 {
		return math.NaN()
	}
	if math.Abs(x) < 0x1p-26 {
		return x
	}
	if math.Abs(x) == 1 {
		return math.Copysign(pio2a, x)
	}
	y0 := math.Asin(x)
	s, _ := sinDD(y0)
	c, _ := cosDD(y0)
	// y = y0 + (x - sin y0)/cos y0
	res := dd{x, 0}.add(s.neg())
	d := res.hi / c.float()
	return dd{y0, 0}.add(dd{d, 0}).float()
}
