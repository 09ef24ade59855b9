// Package geohash is Redis's geohash: 52-bit interleaved hashes of
// longitude/latitude over the Web Mercator latitude range, the haversine
// distance with Redis's earth radius, and the 3x3 cell cover of a search
// shape (geohash.c and geohash_helper.c at 7.0). Redis's GEO commands keep
// the 52-bit hash as a sorted set score, so every result here must equal
// Redis's bit for bit.
package geohash

import "math"

// Limits of the coordinates that can be indexed (EPSG:900913).
const (
	LatMin  = -85.05112878
	LatMax  = 85.05112878
	LongMin = -180.0
	LongMax = 180.0

	// StepMax is the precision of a stored score: 26 steps, 52 bits.
	StepMax = 26

	// EarthRadius is the sphere Redis measures distances on, in metres.
	EarthRadius = 6372797.560856

	mercatorMax = 20037726.37
)

// Range is an interval of one coordinate.
type Range struct{ Min, Max float64 }

// Bits is a hash of step*2 bits, latitude in the even bits and longitude
// in the odd ones.
type Bits struct {
	Bits uint64
	Step uint8
}

// IsZero reports whether h is the zero hash Redis uses to mark a
// neighbour that need not be searched.
func (h Bits) IsZero() bool { return h.Bits == 0 && h.Step == 0 }

// Area is the cell a hash covers.
type Area struct {
	Hash      Bits
	Longitude Range
	Latitude  Range
}

// Neighbors are the eight cells around a hash.
type Neighbors struct {
	North, East, West, South                   Bits
	NorthEast, SouthEast, NorthWest, SouthWest Bits
}

// StandardLong and StandardLat are the ranges of the conventional geohash,
// which GEOHASH re-encodes to.
var (
	WGS84Long    = Range{LongMin, LongMax}
	WGS84Lat     = Range{LatMin, LatMax}
	StandardLong = Range{-180, 180}
	StandardLat  = Range{-90, 90}
)

// interleave spreads x into the even bits and y into the odd bits.
func interleave(x, y uint32) uint64 {
	return spread(x) | spread(y)<<1
}

func spread(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000FFFF0000FFFF
	x = (x | x<<8) & 0x00FF00FF00FF00FF
	x = (x | x<<4) & 0x0F0F0F0F0F0F0F0F
	x = (x | x<<2) & 0x3333333333333333
	x = (x | x<<1) & 0x5555555555555555
	return x
}

func squash(x uint64) uint32 {
	x &= 0x5555555555555555
	x = (x | x>>1) & 0x3333333333333333
	x = (x | x>>2) & 0x0F0F0F0F0F0F0F0F
	x = (x | x>>4) & 0x00FF00FF00FF00FF
	x = (x | x>>8) & 0x0000FFFF0000FFFF
	x = (x | x>>16) & 0x00000000FFFFFFFF
	return uint32(x)
}

// Encode hashes a point with step*2 bits over the given ranges. It fails
// when the point is outside the indexable limits or the ranges, or step
// is not in 1..32.
func Encode(longR, latR Range, long, lat float64, step uint8) (Bits, bool) {
	if step > 32 || step == 0 || (latR.Min == 0 && latR.Max == 0) || (longR.Min == 0 && longR.Max == 0) {
		return Bits{}, false
	}
	if long > LongMax || long < LongMin || lat > LatMax || lat < LatMin || math.IsNaN(long) || math.IsNaN(lat) {
		return Bits{}, false
	}
	if lat < latR.Min || lat > latR.Max || long < longR.Min || long > longR.Max {
		return Bits{Step: step}, false
	}
	latOff := (lat - latR.Min) / (latR.Max - latR.Min)
	longOff := (long - longR.Min) / (longR.Max - longR.Min)
	scale := float64(uint64(1) << step)
	latOff *= scale
	longOff *= scale
	return Bits{Bits: interleave(uint32(uint64(latOff)), uint32(uint64(longOff))), Step: step}, true
}

// EncodeWGS84 hashes a point over the indexable ranges.
func EncodeWGS84(long, lat float64, step uint8) (Bits, bool) {
	return Encode(WGS84Long, WGS84Lat, long, lat, step)
}

// Decode returns the cell of h over the given ranges.
func Decode(longR, latR Range, h Bits) (Area, bool) {
	if h.IsZero() || (latR.Min == 0 && latR.Max == 0) || (longR.Min == 0 && longR.Max == 0) {
		return Area{}, false
	}
	ilat := squash(h.Bits)
	ilong := squash(h.Bits >> 1)
	latScale := latR.Max - latR.Min
	longScale := longR.Max - longR.Min
	div := float64(uint64(1) << h.Step)
	a := Area{Hash: h}
	// The conversions keep each product rounded as in C (no fused
	// multiply-add).
	a.Latitude.Min = latR.Min + float64((float64(ilat)*1.0/div)*latScale)
	a.Latitude.Max = latR.Min + float64((float64(ilat+1)*1.0/div)*latScale)
	a.Longitude.Min = longR.Min + float64((float64(ilong)*1.0/div)*longScale)
	a.Longitude.Max = longR.Min + float64((float64(ilong+1)*1.0/div)*longScale)
	return a, true
}

// DecodeWGS84 returns the cell of h over the indexable ranges.
func DecodeWGS84(h Bits) (Area, bool) { return Decode(WGS84Long, WGS84Lat, h) }

// Center is the middle of the cell clamped to the indexable limits.
func (a Area) Center() (long, lat float64) {
	long = (a.Longitude.Min + a.Longitude.Max) / 2
	long = math.Min(math.Max(long, LongMin), LongMax)
	lat = (a.Latitude.Min + a.Latitude.Max) / 2
	lat = math.Min(math.Max(lat, LatMin), LatMax)
	return long, lat
}

// DecodeScore returns the point a sorted set score stands for (Redis's
// decodeGeohash: the score truncated to an integer, a 52-bit hash).
func DecodeScore(score float64) (long, lat float64, ok bool) {
	a, ok := DecodeWGS84(Bits{Bits: scoreBits(score), Step: StepMax})
	if !ok {
		return 0, 0, false
	}
	long, lat = a.Center()
	return long, lat, true
}

// scoreBits is C's (uint64_t) conversion of a score as x86-64 code from
// gcc performs it: values below 2^63 through a signed truncation (so
// negative values wrap), the rest offset by 2^63; whatever the signed
// truncation cannot represent becomes 0x8000000000000000.
func scoreBits(score float64) uint64 {
	const two63 = 9223372036854775808.0
	if score >= two63 {
		return cvttsd2si(score-two63) ^ 0x8000000000000000
	}
	return cvttsd2si(score)
}

func cvttsd2si(v float64) uint64 {
	if math.IsNaN(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0 {
		return 0x8000000000000000
	}
	return uint64(int64(v))
}

// Align52 shifts a hash of fewer steps to the 52-bit score scale.
func Align52(h Bits) uint64 { return h.Bits << (52 - uint(h.Step)*2) }

// Score is the sorted set score of a point, or false when it cannot be
// indexed.
func Score(long, lat float64) (uint64, bool) {
	h, ok := EncodeWGS84(long, lat, StepMax)
	if !ok {
		return 0, false
	}
	return Align52(h), true
}

func moveX(h *Bits, d int) {
	if d == 0 {
		return
	}
	x := h.Bits & 0xaaaaaaaaaaaaaaaa
	y := h.Bits & 0x5555555555555555
	zz := uint64(0x5555555555555555) >> (64 - uint(h.Step)*2)
	if d > 0 {
		x = x + (zz + 1)
	} else {
		x = x | zz
		x = x - (zz + 1)
	}
	x &= 0xaaaaaaaaaaaaaaaa >> (64 - uint(h.Step)*2)
	h.Bits = x | y
}

func moveY(h *Bits, d int) {
	if d == 0 {
		return
	}
	x := h.Bits & 0xaaaaaaaaaaaaaaaa
	y := h.Bits & 0x5555555555555555
	zz := uint64(0xaaaaaaaaaaaaaaaa) >> (64 - uint(h.Step)*2)
	if d > 0 {
		y = y + (zz + 1)
	} else {
		y = y | zz
		y = y - (zz + 1)
	}
	y &= 0x5555555555555555 >> (64 - uint(h.Step)*2)
	h.Bits = x | y
}

func moved(h Bits, dx, dy int) Bits {
	moveX(&h, dx)
	moveY(&h, dy)
	return h
}

// NeighborsOf returns the eight cells around h, wrapping at the edges.
func NeighborsOf(h Bits) Neighbors {
	return Neighbors{
		East:      moved(h, 1, 0),
		West:      moved(h, -1, 0),
		South:     moved(h, 0, -1),
		North:     moved(h, 0, 1),
		NorthWest: moved(h, -1, 1),
		NorthEast: moved(h, 1, 1),
		SouthEast: moved(h, 1, -1),
		SouthWest: moved(h, -1, -1),
	}
}

// String is the conventional 11-character base32 geohash of a stored
// score, as GEOHASH replies: decoded over the indexable ranges, re-encoded
// over the standard ones (latitude -90..90), the 11th character always
// '0' since only 52 bits exist. It fails when the score does not decode.
func String(score float64) (string, bool) {
	const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
	long, lat, ok := DecodeScore(score)
	if !ok {
		return "", false
	}
	// Redis ignores a failed re-encoding and prints the (zero) bits.
	h, _ := Encode(StandardLong, StandardLat, long, lat, StepMax)
	var buf [11]byte
	for i := 0; i < 11; i++ {
		idx := 0
		if i < 10 {
			idx = int(h.Bits>>(52-(uint(i)+1)*5)) & 0x1f
		}
		buf[i] = alphabet[idx]
	}
	return string(buf[:]), true
}
