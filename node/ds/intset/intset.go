// Package intset is Redis's intset: a sorted array of distinct integers in
// one byte blob, byte for byte as Redis 7.0 lays it out, so that RDB files
// and DUMP payloads can carry it verbatim.
//
// Layout (all little-endian):
//
//	encoding uint32  // bytes per element: 2, 4 or 8
//	length   uint32  // number of elements
//	contents []intN  // length elements, strictly ascending
//
// Every element uses the encoding of the widest one. Adding a value that
// does not fit upgrades the whole set; removing never downgrades, as in
// Redis.
//
// The functions take and return the blob: an operation that grows the set
// may return a new slice, so callers store the result. The blob has no
// pointers, which keeps it free for the garbage collector.
package intset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Encodings: the width in bytes of every element.
const (
	Enc16 = 2
	Enc32 = 4
	Enc64 = 8
)

// HeaderSize is the size of the encoding and length fields.
const HeaderSize = 8

// MaxLen bounds a set's length: Redis caps set-max-intset-entries at 1<<30
// because of the 32-bit length field and the blob's size.
const MaxLen = 1 << 30

// ErrCorrupt is returned (wrapped) by Validate for a blob that is not a
// well-formed intset.
var ErrCorrupt = errors.New("intset: corrupt")

// New returns an empty intset with 16-bit encoding.
func New() []byte {
	b := make([]byte, HeaderSize)
	binary.LittleEndian.PutUint32(b, Enc16)
	return b
}

// valueEncoding is the narrowest encoding that holds v.
func valueEncoding(v int64) int {
	switch {
	case v < math.MinInt32 || v > math.MaxInt32:
		return Enc64
	case v < math.MinInt16 || v > math.MaxInt16:
		return Enc32
	}
	return Enc16
}

// Encoding returns the blob's element width (2, 4 or 8).
func Encoding(is []byte) int { return int(binary.LittleEndian.Uint32(is)) }

// Len returns the number of elements.
func Len(is []byte) int { return int(binary.LittleEndian.Uint32(is[4:])) }

// BlobLen returns the size of the blob in bytes.
func BlobLen(is []byte) int { return HeaderSize + Len(is)*Encoding(is) }

func setLen(is []byte, n int) { binary.LittleEndian.PutUint32(is[4:], uint32(n)) }

func getEncoded(is []byte, pos, enc int) int64 {
	off := HeaderSize + pos*enc
	switch enc {
	case Enc64:
		return int64(binary.LittleEndian.Uint64(is[off:]))
	case Enc32:
		return int64(int32(binary.LittleEndian.Uint32(is[off:])))
	}
	return int64(int16(binary.LittleEndian.Uint16(is[off:])))
}

func setEncoded(is []byte, pos, enc int, v int64) {
	off := HeaderSize + pos*enc
	switch enc {
	case Enc64:
		binary.LittleEndian.PutUint64(is[off:], uint64(v))
	case Enc32:
		binary.LittleEndian.PutUint32(is[off:], uint32(int32(v)))
	default:
		binary.LittleEndian.PutUint16(is[off:], uint16(int16(v)))
	}
}

// Get returns the element at pos, which must be in [0, Len).
func Get(is []byte, pos int) int64 { return getEncoded(is, pos, Encoding(is)) }

// search finds v by binary search: its position and true, or the
// position where it would be inserted and false.
func search(is []byte, v int64) (int, bool) {
	n := Len(is)
	if n == 0 {
		return 0, false
	}
	enc := Encoding(is)
	// The common cases of appending or prepending skip the search.
	if v > getEncoded(is, n-1, enc) {
		return n, false
	}
	if v < getEncoded(is, 0, enc) {
		return 0, false
	}
	lo, hi := 0, n-1
	for lo <= hi {
		mid := int(uint(lo+hi) >> 1)
		cur := getEncoded(is, mid, enc)
		switch {
		case v > cur:
			lo = mid + 1
		case v < cur:
			hi = mid - 1
		default:
			return mid, true
		}
	}
	return lo, false
}

// resize returns the blob with room for n elements of its encoding. The
// allocation is exact: small sets are the point of the encoding, and an
// append-style doubling would cost them up to half their memory.
func resize(is []byte, n, enc int) []byte {
	size := HeaderSize + n*enc
	if size <= cap(is) && (size >= cap(is)/2 || cap(is) <= 64) {
		return is[:size]
	}
	nb := make([]byte, size)
	copy(nb, is[:min(len(is), size)])
	return nb
}

// Find reports whether v is in the set.
func Find(is []byte, v int64) bool {
	if valueEncoding(v) > Encoding(is) {
		return false
	}
	_, ok := search(is, v)
	return ok
}

// Add inserts v and returns the (possibly new) blob and whether v was
// added (false: it was already there).
func Add(is []byte, v int64) ([]byte, bool) {
	venc, enc := valueEncoding(v), Encoding(is)
	n := Len(is)
	if venc > enc {
		return upgradeAndAdd(is, v, venc), true
	}
	pos, found := search(is, v)
	if found {
		return is, false
	}
	is = resize(is, n+1, enc)
	if pos < n {
		off := HeaderSize + pos*enc
		copy(is[off+enc:], is[off:HeaderSize+n*enc])
	}
	setEncoded(is, pos, enc, v)
	setLen(is, n+1)
	return is, true
}

// upgradeAndAdd widens every element to enc and adds v, which does not
// fit the old encoding and so is either the smallest or the largest.
func upgradeAndAdd(is []byte, v int64, enc int) []byte {
	old, n := Encoding(is), Len(is)
	nb := make([]byte, HeaderSize+(n+1)*enc)
	binary.LittleEndian.PutUint32(nb, uint32(enc))
	prepend := 0
	if v < 0 {
		prepend = 1
	}
	for i := 0; i < n; i++ {
		setEncoded(nb, i+prepend, enc, getEncoded(is, i, old))
	}
	if prepend == 1 {
		setEncoded(nb, 0, enc, v)
	} else {
		setEncoded(nb, n, enc, v)
	}
	setLen(nb, n+1)
	return nb
}

// Remove deletes v and returns the (possibly new) blob and whether v was
// there.
func Remove(is []byte, v int64) ([]byte, bool) {
	enc := Encoding(is)
	if valueEncoding(v) > enc {
		return is, false
	}
	pos, found := search(is, v)
	if !found {
		return is, false
	}
	n := Len(is)
	off := HeaderSize + pos*enc
	copy(is[off:], is[off+enc:HeaderSize+n*enc])
	setLen(is, n-1)
	return resize(is, n-1, enc), true
}

// RemoveAt deletes the element at pos.
func RemoveAt(is []byte, pos int) []byte {
	enc, n := Encoding(is), Len(is)
	off := HeaderSize + pos*enc
	copy(is[off:], is[off+enc:HeaderSize+n*enc])
	setLen(is, n-1)
	return resize(is, n-1, enc)
}

// Clone returns an independent copy of the blob, of exact size.
func Clone(is []byte) []byte {
	nb := make([]byte, BlobLen(is))
	copy(nb, is)
	return nb
}

// Each calls f with every element in ascending order until f returns
// false.
func Each(is []byte, f func(v int64) bool) {
	enc, n := Encoding(is), Len(is)
	for i := 0; i < n; i++ {
		if !f(getEncoded(is, i, enc)) {
			return
		}
	}
}

// Validate checks that b is a well-formed, non-empty intset, as Redis's
// intsetValidateIntegrity: a known encoding, a length that matches the
// size, and (when deep) strictly ascending elements. It never panics.
func Validate(b []byte, deep bool) error {
	if len(b) < HeaderSize {
		return fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorrupt, len(b))
	}
	enc := binary.LittleEndian.Uint32(b)
	if enc != Enc16 && enc != Enc32 && enc != Enc64 {
		return fmt.Errorf("%w: encoding %d", ErrCorrupt, enc)
	}
	n := uint64(binary.LittleEndian.Uint32(b[4:]))
	if HeaderSize+n*uint64(enc) != uint64(len(b)) {
		return fmt.Errorf("%w: %d elements of %d bytes in a %d-byte blob", ErrCorrupt, n, enc, len(b))
	}
	if n == 0 {
		return fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if !deep {
		return nil
	}
	prev := getEncoded(b, 0, int(enc))
	for i := 1; i < int(n); i++ {
		cur := getEncoded(b, i, int(enc))
		if cur <= prev {
			return fmt.Errorf("%w: element %d (%d) not above its predecessor (%d)", ErrCorrupt, i, cur, prev)
		}
		prev = cur
	}
	return nil
}
