package geohash

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestScoreAndDecode(t *testing.T) {
	for _, tt := range []struct {
		long, lat float64
		score     uint64
		hash      string
		dlong     float64
		dlat      float64
	}{
		// Values from redis-server 7.0.15 (GEOADD, ZSCORE, GEOHASH, GEOPOS).
		{13.361389, 38.115556, 3479099956230698, "sqc8b49rny0", 13.36138933897018433, 38.11555639549629859},
		{15.087269, 37.502669, 3479447370796909, "sqdtr74hyu0", 15.08726745843887329, 37.50266842333162032},
		{1, 1, 3377822707026402, "s00twy01mt0", 0, 0},
	} {
		score, ok := Score(tt.long, tt.lat)
		if !ok || score != tt.score {
			t.Errorf("Score(%v, %v) = %d, %v; want %d", tt.long, tt.lat, score, ok, tt.score)
		}
		if s, ok := String(float64(score)); !ok || s != tt.hash {
			t.Errorf("String(%d) = %q, %v; want %q", score, s, ok, tt.hash)
		}
		long, lat, ok := DecodeScore(float64(score))
		if !ok || math.Abs(long-tt.long) > 1e-5 || math.Abs(lat-tt.lat) > 1e-5 {
			t.Errorf("DecodeScore(%d) = %v, %v, %v", score, long, lat, ok)
		}
		if tt.dlong != 0 && (long != tt.dlong || lat != tt.dlat) {
			t.Errorf("DecodeScore(%d) = %.17g, %.17g; want %.17g, %.17g", score, long, lat, tt.dlong, tt.dlat)
		}
	}
	for _, p := range [][2]float64{{181, 0}, {-180.1, 0}, {0, 85.06}, {0, -85.06}, {math.NaN(), 0}} {
		if _, ok := Score(p[0], p[1]); ok {
			t.Errorf("Score(%v, %v) accepted", p[0], p[1])
		}
	}
	// The corners of the indexable area are indexable.
	for _, p := range [][2]float64{{180, LatMax}, {-180, LatMin}, {180, LatMin}} {
		if _, ok := Score(p[0], p[1]); !ok {
			t.Errorf("Score(%v, %v) refused", p[0], p[1])
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		l1, a1, l2, a2, want float64
	}{
		{13.36138933897018433, 38.11555639549629859, 15.08726745843887329, 37.50266842333162032, 166274.15156960033},
		{0, 0, 0, 0, 0},
		// Equal longitudes take the meridian shortcut.
		{10, -10, 10, 10, EarthRadius * 20 * math.Pi / 180},
	} {
		if got := Distance(tt.l1, tt.a1, tt.l2, tt.a2); math.Abs(got-tt.want) > 1e-9*math.Max(1, tt.want) {
			t.Errorf("Distance(%v, %v, %v, %v) = %.17g; want %.17g", tt.l1, tt.a1, tt.l2, tt.a2, got, tt.want)
		}
	}
}

// TestLibm checks the double-double functions against glibc's results
// where Go's math package differs from glibc, and against Go's within an
// ulp everywhere.
func TestLibm(t *testing.T) {
	for _, tt := range []struct {
		op      string
		x, want float64
	}{
		{"a", 0x1.6d1ebb6d3aa66p-01, 0x1.9680164fb933bp-01},
		{"a", 0x1.57b73ca138ba5p-11, 0x1.57b73e3e4b86ep-11},
		{"a", 0x1.f4563b8ae3b57p-01, 0x1.5b609eaa064a5p+00},
		{"c", 0x1.4c6a1fbf916bfp-01, 0x1.97d3fbc2333b6p-01},
		{"c", 0x1.03126aa5b95e6p+00, 0x1.0f71f18534d19p-01},
		{"c", -0x1.5f19e6f1ba8f1p-03, 0x1.f87e9654f22cdp-01},
		{"s", 0x1.7ff67ff151fd6p+00, 0x1.feb65145d721bp-01},
		{"s", 0x1.8b5343b73f9e2p+00, 0x1.ffd1c81a3fedap-01},
		{"s", 0x1.3d305a6842a26p+00, 0x1.e413fb00e0e3ep-01},
		{"s", 0, 0},
		{"c", 0, 1},
		{"a", 1, 0x1.921fb54442d18p+00},
		{"a", -1, -0x1.921fb54442d18p+00},
		// Near ±1, where Go's Asin is off by several ulps (mpmath).
		{"a", -0.9996183047979923, -1.5431659273641698},
	} {
		var got float64
		switch tt.op {
		case "s":
			got = sin(tt.x)
		case "c":
			got = cos(tt.x)
		default:
			got = asin(tt.x)
		}
		if got != tt.want {
			t.Errorf("%s(%x) = %x; want %x", tt.op, tt.x, got, tt.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	ulps := func(a, b float64) float64 {
		return math.Abs(a-b) / (math.Nextafter(math.Abs(b), math.Inf(1)) - math.Abs(b))
	}
	for i := 0; i < 20000; i++ {
		x := (r.Float64()*2 - 1) * []float64{1e-6, 1, 4, 1000}[i%4]
		if d := ulps(sin(x), math.Sin(x)); d > 2 {
			t.Fatalf("sin(%v) = %v, math.Sin %v", x, sin(x), math.Sin(x))
		}
		if d := ulps(cos(x), math.Cos(x)); d > 2 {
			t.Fatalf("cos(%v) = %v, math.Cos %v", x, cos(x), math.Cos(x))
		}
		y := r.Float64()*2 - 1
		if d := ulps(asin(y), math.Asin(y)); d > 2 && math.Abs(y) < 0.99 {
			t.Fatalf("asin(%v) = %v, math.Asin %v", y, asin(y), math.Asin(y))
		}
	}
	if !math.IsNaN(asin(1.5)) || !math.IsNaN(asin(math.NaN())) {
		t.Error("asin out of domain is not NaN")
	}
}

func TestNeighborsWrap(t *testing.T) {
	h, _ := EncodeWGS84(179.9, 0, 4)
	n := NeighborsOf(h)
	east, _ := DecodeWGS84(n.East)
	if east.Longitude.Min != -180 {
		t.Errorf("east of the antimeridian starts at %v", east.Longitude.Min)
	}
	west, _ := DecodeWGS84(n.West)
	self, _ := DecodeWGS84(h)
	if west.Longitude.Max != self.Longitude.Min || n.North.Step != 4 {
		t.Errorf("west cell %+v, own %+v", west, self)
	}
}

func TestEstimateSteps(t *testing.T) {
	for _, tt := range []struct {
		r, lat float64
		want   uint8
	}{
		{0, 0, 26}, {1, 0, 24}, {1000, 0, 14}, {100000, 0, 7}, {1000000, 70, 3}, {1000000, 85, 2}, {1e8, 0, 1},
	} {
		if got := EstimateSteps(tt.r, tt.lat); got != tt.want {
			t.Errorf("EstimateSteps(%v, %v) = %d; want %d", tt.r, tt.lat, got, tt.want)
		}
	}
}

// TestCoverContainsShape checks that the cells searched contain every
// point of the shape: random points inside a circle fall in a non-zero
// cell of the cover.
func TestCoverContainsShape(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		sh := Shape{Type: Circle, Long: r.Float64()*360 - 180, Lat: r.Float64()*160 - 80, Conversion: 1,
			Radius: math.Pow(10, r.Float64()*6)}
		cover := CoverShape(&sh)
		cells := cover.Cells()
		for j := 0; j < 20; j++ {
			long := math.Max(-180, math.Min(180, sh.Long+(r.Float64()*2-1)*sh.Radius/111000))
			lat := math.Max(LatMin, math.Min(LatMax, sh.Lat+(r.Float64()*2-1)*sh.Radius/111000))
			// Longitude 180 and latitude LatMax encode past the 52 bits
			// (a Redis quirk: such points are never found by a search).
			if _, in := sh.Within(long, lat); !in || long == 180 || lat == LatMax {
				continue
			}
			score, _ := Score(long, lat)
			found := false
			for _, c := range cells {
				if c.IsZero() {
					continue
				}
				if lo, hi := ScoreRange(c); score >= lo && score < hi {
					found = true
				}
			}
			if !found {
				t.Fatalf("%+v: point %v,%v inside but in no cell", sh, long, lat)
			}
		}
	}
}

func BenchmarkDistance(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Distance(13.361389, 38.115556, 15.087269+float64(i&7)*1e-3, 37.502669)
	}
}
