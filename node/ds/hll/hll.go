// Package hll is Redis 7.0's HyperLogLog representation: a string that
// starts with a 16-byte "HYLL" header and holds 16384 6-bit registers,
// either densely packed or run-length encoded (the sparse ZERO, XZERO and
// VAL opcodes). Every function here produces the bytes redis-server
// produces for the same operations, so values move between the two
// (GET/SET, DUMP/RESTORE, replication) and PFCOUNT agrees to the unit.
//
// Values are plain byte slices owned by the caller. Functions that may
// grow or replace a value take a pointer to it. Corrupted values never
// make a function panic or read out of bounds: they give ErrInvalid, or,
// where Redis tolerates the corruption, the result Redis computes.
package hll

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Layout constants (Redis's HLL_* defines).
const (
	P          = 14             // register index bits
	Q          = 64 - P         // hash bits used for the run of zeroes
	Registers  = 1 << P         // 16384
	regBits    = 6              // bits per dense register
	regMax     = 1<<regBits - 1 // 63
	HeaderSize = 16
	// DenseSize is the exact length of a dense value.
	DenseSize = HeaderSize + (Registers*regBits+7)/8

	encDense  = 0
	encSparse = 1

	sparseXZeroBit    = 0x40
	sparseValBit      = 0x80
	sparseValMaxValue = 32
	sparseValMaxLen   = 4
	sparseZeroMaxLen  = 64
	sparseXZeroMaxLen = 16384

	// roomNeeded is the slack a sparse update may use past the value's
	// length: three bytes of growth (an XZERO split in XZERO-VAL-XZERO)
	// and the byte where C keeps the string's terminator.
	roomNeeded = 4

	alphaInf = 0.721347520444481703680 // 0.5/ln(2)
	hashSeed = 0xadc83b19
)

// ErrInvalid reports a value whose registers cannot be decoded (Redis's
// "-INVALIDOBJ Corrupted HLL object detected").
var ErrInvalid = errors.New("hll: corrupted HyperLogLog object")

// New returns an empty HyperLogLog: sparse, a single XZERO covering every
// register, and a valid cached cardinality of zero.
func New() []byte {
	b := make([]byte, HeaderSize+2)
	copy(b, "HYLL")
	b[4] = encSparse
	putXZero(b[HeaderSize:], Registers)
	return b
}

// Valid reports whether b is a value the HyperLogLog commands accept
// (Redis's isHLLObjectOrReply): the magic, a known encoding, and the
// exact length for a dense one. A sparse value's opcodes are checked
// only as they are used.
func Valid(b []byte) bool {
	if len(b) < HeaderSize || string(b[:4]) != "HYLL" || b[4] > encSparse {
		return false
	}
	return b[4] != encDense || len(b) == DenseSize
}

// IsDense reports whether a valid value uses the dense encoding.
func IsDense(b []byte) bool { return b[4] == encDense }

// Encoding names a valid value's encoding as PFDEBUG ENCODING does.
func Encoding(b []byte) string {
	if IsDense(b) {
		return "dense"
	}
	return "sparse"
}

// CachedCard returns the cardinality cached in the header, and whether
// it is valid (its most significant bit clear).
func CachedCard(b []byte) (uint64, bool) {
	if b[15]&0x80 != 0 {
		return 0, false
	}
	var card uint64
	for i := 7; i >= 0; i-- {
		card = card<<8 | uint64(b[8+i])
	}
	return card, true
}

// SetCachedCard stores card, little endian, as the cached cardinality.
func SetCachedCard(b []byte, card uint64) {
	for i := 0; i < 8; i++ {
		b[8+i] = byte(card >> (8 * i))
	}
}

// InvalidateCache marks the cached cardinality stale.
func InvalidateCache(b []byte) { b[15] |= 0x80 }

// MurmurHash64A is Redis's endian-neutral 64-bit MurmurHash2.
func MurmurHash64A(key []byte, seed uint64) uint64 {
	const m = 0xc6a4a7935bd1e995
	const r = 47
	h := seed ^ (uint64(len(key)) * m)
	n := len(key) &^ 7
	for i := 0; i < n; i += 8 {
		k := uint64(key[i]) | uint64(key[i+1])<<8 | uint64(key[i+2])<<16 | uint64(key[i+3])<<24 |
			uint64(key[i+4])<<32 | uint64(key[i+5])<<40 | uint64(key[i+6])<<48 | uint64(key[i+7])<<56
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
	}
	tail := key[n:]
	switch len(tail) {
	case 7:
		h ^= uint64(tail[6]) << 48
		fallthrough
	case 6:
		h ^= uint64(tail[5]) << 40
		fallthrough
	case 5:
		h ^= uint64(tail[4]) << 32
		fallthrough
	case 4:
		h ^= uint64(tail[3]) << 24
		fallthrough
	case 3:
		h ^= uint64(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint64(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint64(tail[0])
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}

// PatLen hashes ele and returns the register it selects and the length
// of the 000..1 pattern in the remaining hash bits (1..Q+1).
func PatLen(ele []byte) (index int, count uint8) {
	hash := MurmurHash64A(ele, hashSeed)
	index = int(hash & (Registers - 1))
	hash >>= P
	hash |= 1 << Q // the run ends by Q+1 at the latest
	return index, uint8(bits.TrailingZeros64(hash) + 1)
}

// at reads b[i], or 0 past the end: the terminator C strings carry,
// which Redis's decoders read when an XZERO is cut short.
func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// DenseGet returns dense register i of regs (the bytes after the header).
func DenseGet(regs []byte, i int) uint8 {
	byt := i * regBits / 8
	fb := uint(i * regBits & 7)
	b0 := uint(regs[byt])
	b1 := uint(at(regs, byt+1))
	return uint8((b0>>fb | b1<<(8-fb)) & regMax)
}

// DenseSetReg sets dense register i of regs to v (0..63).
func DenseSetReg(regs []byte, i int, v uint8) {
	byt := i * regBits / 8
	fb := uint(i * regBits & 7)
	fb8 := 8 - fb
	uv := uint(v)
	regs[byt] &^= byte(regMax << fb)
	regs[byt] |= byte(uv << fb)
	if byt+1 < len(regs) {
		regs[byt+1] &^= byte(regMax >> fb8)
		regs[byt+1] |= byte(uv >> fb8)
	}
}

// denseSet raises register index to count; it reports whether it did.
func denseSet(regs []byte, index int, count uint8) bool {
	if count > DenseGet(regs, index) {
		DenseSetReg(regs, index, count)
		return true
	}
	return false
}

// Sparse opcode accessors on a byte.
func isZero(b byte) bool     { return b&0xc0 == 0 }
func isXZero(b byte) bool    { return b&0xc0 == sparseXZeroBit }
func isVal(b byte) bool      { return b&sparseValBit != 0 }
func zeroLen(b byte) int     { return int(b&0x3f) + 1 }
func valValue(b byte) int    { return int(b>>2&0x1f) + 1 }
func valLen(b byte) int      { return int(b&0x3) + 1 }
func xzeroLen(b, n byte) int { return (int(b&0x3f)<<8 | int(n)) + 1 }

func valByte(val, n int) byte { return byte((val-1)<<2|(n-1)) | sparseValBit }

func putXZero(p []byte, n int) {
	n--
	p[0] = byte(n>>8) | sparseXZeroBit
	p[1] = byte(n)
}

// SparseToDense converts a sparse value to the dense encoding, keeping
// the header (and so the cached cardinality). A dense value is left as
// it is. The old value is not modified.
func SparseToDense(v *[]byte) error {
	b := *v
	if IsDense(b) {
		return nil
	}
	dense := make([]byte, DenseSize)
	copy(dense, b[:HeaderSize])
	dense[4] = encDense
	regs := dense[HeaderSize:]
	idx := 0
	for p := HeaderSize; p < len(b); {
		switch op := b[p]; {
		case isZero(op):
			idx += zeroLen(op)
			p++
		case isXZero(op):
			idx += xzeroLen(op, at(b, p+1))
			p += 2
		default:
			n, val := valLen(op), valValue(op)
			if n+idx > Registers {
				return ErrInvalid
			}
			for ; n > 0; n-- {
				DenseSetReg(regs, idx, uint8(val))
				idx++
			}
			p++
		}
	}
	if idx != Registers {
		return ErrInvalid
	}
	*v = dense
	return nil
}

// Add adds ele to the HyperLogLog in *v. It reports whether a register
// changed. A sparse value turns dense when a register needs a value the
// sparse encoding cannot hold or the value would grow past sparseMax
// bytes (hll-sparse-max-bytes). The cached cardinality is invalidated
// when a sparse value changes; for a dense one that is the caller's job,
// as in Redis's PFADD.
func Add(v *[]byte, ele []byte, sparseMax int64) (bool, error) {
	index, count := PatLen(ele)
	return Set(v, index, count, sparseMax)
}

// Set raises register index of the HyperLogLog in *v to count if it is
// lower, with Add's conversion rules.
func Set(v *[]byte, index int, count uint8, sparseMax int64) (bool, error) {
	if IsDense(*v) {
		return denseSet((*v)[HeaderSize:], index, count), nil
	}
	return sparseSet(v, index, count, sparseMax)
}

// sparseSet is Redis's hllSparseSet, step by step, on a buffer with the
// slack C's sdsMakeRoomFor(3) and terminator give it, so that even a
// corrupted value is updated (or refused) exactly as redis-server does.
func sparseSet(v *[]byte, index int, count uint8, sparseMax int64) (bool, error) {
	if count > sparseValMaxValue {
		return promote(v, index, count)
	}
	b := *v
	n := len(b)
	if cap(b)-n < roomNeeded {
		grown := make([]byte, n, sdsGrowth(n+roomNeeded))
		copy(grown, b)
		b = grown
	}
	buf := b[:cap(b)] // buf[n] is the terminator, then the slack
	buf[n] = 0

	// Step 1: find the opcode covering index.
	end := n
	p := HeaderSize
	first, span := 0, 0
	prev := -1
	for p < end {
		oplen := 1
		switch op := buf[p]; {
		case isZero(op):
			span = zeroLen(op)
		case isVal(op):
			span = valLen(op)
		default:
			span = xzeroLen(op, buf[p+1])
			oplen = 2
		}
		if index <= first+span-1 {
			break
		}
		prev = p
		p += oplen
		first += span
	}
	if span == 0 || p >= end {
		*v = b[:n]
		return false, ErrInvalid
	}
	next := p + 1
	if isXZero(buf[p]) {
		next = p + 2
	}
	if next >= end {
		next = -1
	}
	var runlen int
	op := buf[p]
	zero, xzero, val := isZero(op), isXZero(op), false
	switch {
	case zero:
		runlen = zeroLen(op)
	case xzero:
		runlen = xzeroLen(op, buf[p+1])
	default:
		val = true
		runlen = valLen(op)
	}

	// Step 2: the cases that change the opcode in place.
	updated := false
	if val {
		old := valValue(op)
		if old >= int(count) {
			*v = b[:n]
			return false, nil
		}
		if runlen == 1 {
			buf[p] = valByte(int(count), 1)
			updated = true
		}
	}
	if !updated && zero && runlen == 1 {
		buf[p] = valByte(int(count), 1)
		updated = true
	}

	if !updated {
		// Step 3: split the opcode into up to three.
		var seq [5]byte
		k := 0
		last := first + span - 1
		if zero || xzero {
			if index != first {
				k += putZeros(seq[k:], index-first)
			}
			seq[k] = valByte(int(count), 1)
			k++
			if index != last {
				k += putZeros(seq[k:], last-index)
			}
		} else {
			cur := valValue(op)
			if index != first {
				seq[k] = valByte(cur, index-first)
				k++
			}
			seq[k] = valByte(int(count), 1)
			k++
			if index != last {
				seq[k] = valByte(cur, last-index)
				k++
			}
		}
		oldlen := 1
		if xzero {
			oldlen = 2
		}
		delta := k - oldlen
		if delta > 0 && int64(n+delta) > sparseMax {
			*v = b[:n]
			return promote(v, index, count)
		}
		if delta != 0 && next >= 0 {
			copy(buf[next+delta:], buf[next:end])
		}
		n += delta
		buf[n] = 0
		copy(buf[p:], seq[:k])
		end += delta
	}

	// Step 4: merge adjacent VAL opcodes of the same value.
	p = prev
	if p < 0 {
		p = HeaderSize
	}
	for scan := 5; p < end && scan > 0; scan-- {
		if isXZero(buf[p]) {
			p += 2
			continue
		}
		if isZero(buf[p]) {
			p++
			continue
		}
		if p+1 < end && isVal(buf[p+1]) {
			v1, v2 := valValue(buf[p]), valValue(buf[p+1])
			if v1 == v2 {
				if l := valLen(buf[p]) + valLen(buf[p+1]); l <= sparseValMaxLen {
					buf[p+1] = valByte(v1, l)
					copy(buf[p:], buf[p+1:end+1])
					n--
					buf[n] = 0
					end--
					// Retry the merged opcode with the one on its right.
					continue
				}
			}
		}
		p++
	}
	b = buf[:n]
	InvalidateCache(b)
	*v = b
	return true, nil
}

// sdsGrowth is the capacity sdsMakeRoomFor gives a string growing to n
// bytes: double below 1MB, 1MB more above.
func sdsGrowth(n int) int {
	if n < 1<<20 {
		return 2 * n
	}
	return n + 1<<20
}

// putZeros writes a ZERO or XZERO opcode for n registers and returns its
// length.
func putZeros(p []byte, n int) int {
	if n > sparseZeroMaxLen {
		putXZero(p, n)
		return 2
	}
	p[0] = byte(n - 1)
	return 1
}

// promote converts to dense and sets the register there: the set must
// change it, since the sparse encoding could not hold it.
func promote(v *[]byte, index int, count uint8) (bool, error) {
	if err := SparseToDense(v); err != nil {
		return false, err
	}
	denseSet((*v)[HeaderSize:], index, count)
	return true, nil
}

// Merge raises max[i] to register i of the valid value b for every i.
func Merge(max *[Registers]uint8, b []byte) error {
	if IsDense(b) {
		regs := b[HeaderSize:]
		for i := 0; i < Registers; i++ {
			if v := DenseGet(regs, i); v > max[i] {
				max[i] = v
			}
		}
		return nil
	}
	i := 0
	for p := HeaderSize; p < len(b); {
		switch op := b[p]; {
		case isZero(op):
			i += zeroLen(op)
			p++
		case isXZero(op):
			i += xzeroLen(op, at(b, p+1))
			p += 2
		default:
			n, val := valLen(op), uint8(valValue(op))
			if n+i > Registers {
				return ErrInvalid
			}
			for ; n > 0; n-- {
				if val > max[i] {
					max[i] = val
				}
				i++
			}
			p++
		}
	}
	if i != Registers {
		return ErrInvalid
	}
	return nil
}

// histogram counts registers by value. Values of corrupted dense
// registers (up to 63) land in their own slots, as in Redis.
type histogram [64]int

// Count estimates the cardinality of the valid value b. A sparse value
// whose opcodes do not cover exactly the 16384 registers is ErrInvalid.
func Count(b []byte) (uint64, error) {
	var h histogram
	if IsDense(b) {
		regs := b[HeaderSize:]
		for i := 0; i < Registers; i++ {
			h[DenseGet(regs, i)]++
		}
		return estimate(&h), nil
	}
	idx := 0
	for p := HeaderSize; p < len(b); {
		switch op := b[p]; {
		case isZero(op):
			n := zeroLen(op)
			idx += n
			h[0] += n
			p++
		case isXZero(op):
			n := xzeroLen(op, at(b, p+1))
			idx += n
			h[0] += n
			p += 2
		default:
			n := valLen(op)
			idx += n
			h[valValue(op)] += n
			p++
		}
	}
	if idx != Registers {
		return 0, ErrInvalid
	}
	return estimate(&h), nil
}

// CountRegisters estimates the cardinality of plain registers (PFCOUNT's
// union of several keys).
func CountRegisters(regs *[Registers]uint8) uint64 {
	var h histogram
	for _, v := range regs {
		h[v&63]++
	}
	return estimate(&h)
}

// estimate is Otmar Ertl's improved estimator ("New cardinality
// estimation algorithms for HyperLogLog sketches", arXiv:1702.01284) in
// Redis's float64 arithmetic. The explicit float64 conversions keep Go
// from fusing multiply-adds, which the generic x86-64 build of
// redis-server does not do, so the results round identically.
func estimate(h *histogram) uint64 {
	const m = float64(Registers)
	z := m * tau((m-float64(h[Q+1]))/m)
	for j := Q; j >= 1; j-- {
		z += float64(h[j])
		z *= 0.5
	}
	z += float64(m * sigma(float64(h[0])/m))
	e := math.Round(float64(float64(alphaInf*m)*m) / z)
	return uint64(int64(e))
}

func sigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		zPrime := z
		z += float64(x * y)
		y += y
		if zPrime == z {
			return z
		}
	}
}

func tau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		zPrime := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if zPrime == z {
			return z / 3
		}
	}
}

// Decode lists a sparse value's opcodes as PFDEBUG DECODE does:
// "z:len" for ZERO, "Z:len" for XZERO, "v:value,len" for VAL.
func Decode(b []byte) string {
	var sb strings.Builder
	for p := HeaderSize; p < len(b); {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		switch op := b[p]; {
		case isZero(op):
			sb.WriteString("z:")
			sb.WriteString(strconv.Itoa(zeroLen(op)))
			p++
		case isXZero(op):
			sb.WriteString("Z:")
			sb.WriteString(strconv.Itoa(xzeroLen(op, at(b, p+1))))
			p += 2
		default:
			sb.WriteString("v:")
			sb.WriteString(strconv.Itoa(valValue(op)))
			sb.WriteByte(',')
			sb.WriteString(strconv.Itoa(valLen(op)))
			p++
		}
	}
	return sb.String()
}
