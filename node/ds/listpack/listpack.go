// Package listpack implements Redis 7.0's listpack: a compact, byte-exact
// serialization of a list of strings and integers, used by Redis (and so
// by Keyfleet) for small hashes, sorted sets and the nodes of quicklists,
// and written verbatim into RDB files and DUMP payloads.
//
// Layout (all multi-byte fields little-endian):
//
//	<total-bytes uint32> <num-elements uint16> <entry> ... <0xFF>
//
// Each entry is an encoding byte (plus length bytes for strings), the
// data, and a "backlen": the size of encoding+data in 1..5 bytes that can
// be read right to left, which makes the list walkable in both
// directions. num-elements is 65535 when the count does not fit; Len then
// counts.
//
// A Listpack value is the whole encoded byte slice. Positions are byte
// offsets of entries inside it, -1 meaning "none"; they stay valid across
// reallocation, but any change to the listpack shifts the entries after
// the changed one. Methods that change the listpack take a pointer because
// they may reallocate. Methods other than Validate trust their input:
// bytes from outside (RDB, RESTORE) must pass Validate first.
package listpack

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Listpack is an encoded listpack, header and terminator included.
// Its underlying type is []byte so that callers can keep one in any byte
// slice field and convert without copying.
type Listpack []byte

const (
	// HeaderSize is the size of the total-bytes and count fields.
	HeaderSize = 6
	// EOF terminates a listpack.
	EOF = 0xFF
	// numeleUnknown in the count field means "count the entries".
	numeleUnknown = 65535
	// MaxSafetySize bounds a listpack, as Redis's LISTPACK_MAX_SAFETY_SIZE,
	// so the 32-bit total never overflows.
	MaxSafetySize = 1 << 30
	// longStrSize is Redis's LONG_STR_SIZE: no integer string is longer.
	longStrSize = 21
)

const (
	enc7BitUint  = 0x00
	enc6BitStr   = 0x80
	enc13BitInt  = 0xC0
	enc12BitStr  = 0xE0
	enc32BitStr  = 0xF0
	enc16BitInt  = 0xF1
	enc24BitInt  = 0xF2
	enc32BitInt  = 0xF3
	enc64BitInt  = 0xF4
	maxIntEncLen = 9
)

// Where says where Insert puts the new entry relative to a position.
type Where int

const (
	Before Where = iota
	After
)

// ErrCorrupt is returned (wrapped) by Validate for bytes that are not a
// well-formed listpack.
var ErrCorrupt = errors.New("listpack: corrupt")

// Entry is one element: a string (Str, aliasing the listpack's bytes
// until it is next changed) or an integer (IsInt, Int).
type Entry struct {
	Str   []byte
	Int   int64
	IsInt bool
}

// Append appends the element's string form to dst.
func (e Entry) Append(dst []byte) []byte {
	if e.IsInt {
		return strconv.AppendInt(dst, e.Int, 10)
	}
	return append(dst, e.Str...)
}

// String returns the element's string form.
func (e Entry) String() string {
	if e.IsInt {
		return strconv.FormatInt(e.Int, 10)
	}
	return string(e.Str)
}

// Equal reports whether the element equals the string v, comparing an
// integer element through v's integer value as Redis's lpCompare does.
func (e Entry) Equal(v []byte) bool {
	if !e.IsInt {
		return bytes.Equal(e.Str, v)
	}
	n, ok := StringToInt64(v)
	return ok && n == e.Int
}

// StringToInt64 parses v if it is the canonical decimal form of an int64
// (no sign on zero, no leading zeros, no spaces): exactly the strings a
// listpack stores as integers, because they convert back losslessly.
func StringToInt64(v []byte) (int64, bool) {
	n := len(v)
	if n == 0 || n >= longStrSize {
		return 0, false
	}
	if n == 1 && v[0] == '0' {
		return 0, true
	}
	i := 0
	neg := false
	if v[0] == '-' {
		neg = true
		i++
		if i == n {
			return 0, false
		}
	}
	if v[i] < '1' || v[i] > '9' {
		return 0, false
	}
	var u uint64
	for ; i < n; i++ {
		d := v[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if u > (1<<64-1)/10 {
			return 0, false
		}
		u *= 10
		if u > 1<<64-1-uint64(d-'0') {
			return 0, false
		}
		u += uint64(d - '0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// New returns an empty listpack.
func New() Listpack { return NewCap(16) }

// NewCap returns an empty listpack with room for capacity bytes in all
// (header and terminator included), so that a listpack whose final size
// is known is allocated once.
func NewCap(capacity int) Listpack {
	lp := make(Listpack, HeaderSize+1, max(capacity, HeaderSize+1))
	lp.setTotal(HeaderSize + 1)
	lp.setCount(0)
	lp[HeaderSize] = EOF
	return lp
}

func (lp Listpack) total() int {
	return int(uint32(lp[0]) | uint32(lp[1])<<8 | uint32(lp[2])<<16 | uint32(lp[3])<<24)
}

func (lp Listpack) setTotal(n int) {
	lp[0], lp[1], lp[2], lp[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
}

func (lp Listpack) count() int { return int(lp[4]) | int(lp[5])<<8 }

func (lp Listpack) setCount(n int) { lp[4], lp[5] = byte(n), byte(n>>8) }

// Bytes is the listpack's size in bytes (its total-bytes field).
func (lp Listpack) Bytes() int { return len(lp) }

// Len returns the number of entries. When the header cannot hold the
// count (65535 or more) it counts them, and stores the count back if it
// fits again, as Redis's lpLength.
func (lp Listpack) Len() int {
	if n := lp.count(); n != numeleUnknown {
		return n
	}
	n := 0
	for p := lp.First(); p >= 0; p = lp.Next(p) {
		n++
	}
	if n < numeleUnknown {
		lp.setCount(n)
	}
	return n
}

// encodeInt writes v's integer encoding into buf and returns its length.
func encodeInt(buf *[maxIntEncLen]byte, v int64) int {
	switch {
	case v >= 0 && v <= 127:
		buf[0] = byte(v)
		return 1
	case v >= -4096 && v <= 4095:
		u := uint64(v) & (1<<13 - 1)
		buf[0] = byte(u>>8) | enc13BitInt
		buf[1] = byte(u)
		return 2
	case v >= -32768 && v <= 32767:
		u := uint64(v)
		buf[0], buf[1], buf[2] = enc16BitInt, byte(u), byte(u>>8)
		return 3
	case v >= -8388608 && v <= 8388607:
		u := uint64(v)
		buf[0], buf[1], buf[2], buf[3] = enc24BitInt, byte(u), byte(u>>8), byte(u>>16)
		return 4
	case v >= -2147483648 && v <= 2147483647:
		u := uint64(v)
		buf[0], buf[1], buf[2], buf[3], buf[4] = enc32BitInt, byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
		return 5
	default:
		u := uint64(v)
		buf[0] = enc64BitInt
		for i := 1; i < 9; i++ {
			buf[i] = byte(u)
			u >>= 8
		}
		return 9
	}
}

// strEncLen is the size of a string entry's encoding and data.
func strEncLen(n int) int {
	switch {
	case n < 64:
		return 1 + n
	case n < 4096:
		return 2 + n
	default:
		return 5 + n
	}
}

func putStr(dst []byte, s []byte) {
	n := len(s)
	switch {
	case n < 64:
		dst[0] = byte(n) | enc6BitStr
		copy(dst[1:], s)
	case n < 4096:
		dst[0] = byte(n>>8) | enc12BitStr
		dst[1] = byte(n)
		copy(dst[2:], s)
	default:
		dst[0] = enc32BitStr
		dst[1], dst[2], dst[3], dst[4] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		copy(dst[5:], s)
	}
}

// backlenSize is the number of bytes the backlen of an entry of l bytes
// takes; the thresholds are Redis's (16383 itself takes three).
func backlenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	default:
		return 5
	}
}

func putBacklen(dst []byte, l int) {
	n := backlenSize(l)
	// dst[0] holds the most significant group, without the continuation
	// bit; each later byte has it, so a right-to-left reader knows to
	// go on.
	for i := n - 1; i >= 0; i-- {
		b := byte(l & 127)
		if i != 0 {
			b |= 128
		}
		dst[i] = b
		l >>= 7
	}
}

// decodeBacklen reads the backlen ending at index p (its last byte),
// reporting false if it runs past 5 bytes or the start of b.
func decodeBacklen(b []byte, p int) (int, bool) {
	val, shift := 0, 0
	for {
		if p < 0 || p >= len(b) {
			return 0, false
		}
		val |= int(b[p]&127) << shift
		if b[p]&128 == 0 {
			return val, true
		}
		shift += 7
		p--
		if shift > 28 {
			return 0, false
		}
	}
}

// headerLen is the number of encoding and length bytes of the entry whose
// first byte is b, 0 for an invalid encoding.
func headerLen(b byte) int {
	switch {
	case b&0x80 == enc7BitUint, b&0xC0 == enc6BitStr, b&0xE0 == enc13BitInt:
		return 1
	case b&0xF0 == enc12BitStr:
		return 2
	case b == enc32BitStr:
		return 5
	case b >= enc16BitInt && b <= enc64BitInt, b == EOF:
		return 1
	}
	return 0
}

// encLen returns the size of the entry at p without its backlen. The
// length bytes must be readable (p trusted or checked with headerLen).
func (lp Listpack) encLen(p int) int {
	b := lp[p]
	switch {
	case b&0x80 == enc7BitUint:
		return 1
	case b&0xC0 == enc6BitStr:
		return 1 + int(b&0x3F)
	case b&0xE0 == enc13BitInt:
		return 2
	case b&0xF0 == enc12BitStr:
		return 2 + (int(b&0x0F)<<8 | int(lp[p+1]))
	case b == enc32BitStr:
		return 5 + int(uint32(lp[p+1])|uint32(lp[p+2])<<8|uint32(lp[p+3])<<16|uint32(lp[p+4])<<24)
	case b == enc16BitInt:
		return 3
	case b == enc24BitInt:
		return 4
	case b == enc32BitInt:
		return 5
	case b == enc64BitInt:
		return 9
	case b == EOF:
		return 1
	}
	return 0
}

// entryLen is the full size of the entry at p, backlen included.
func (lp Listpack) entryLen(p int) int {
	l := lp.encLen(p)
	return l + backlenSize(l)
}

// First returns the position of the first entry, or -1.
func (lp Listpack) First() int {
	if lp[HeaderSize] == EOF {
		return -1
	}
	return HeaderSize
}

// Last returns the position of the last entry, or -1.
func (lp Listpack) Last() int { return lp.Prev(len(lp) - 1) }

// Next returns the position of the entry after p, or -1.
func (lp Listpack) Next(p int) int {
	p += lp.entryLen(p)
	if lp[p] == EOF {
		return -1
	}
	return p
}

// Prev returns the position of the entry before p (p may be the
// terminator's position, len-1), or -1.
func (lp Listpack) Prev(p int) int {
	if p == HeaderSize {
		return -1
	}
	l, _ := decodeBacklen(lp, p-1)
	return p - l - backlenSize(l)
}

// Seek returns the position of the index-th entry (negative counts from
// the end), or -1 when out of range. It walks from the nearer end.
func (lp Listpack) Seek(index int) int {
	n := lp.count()
	forward := true
	if n != numeleUnknown {
		if index < 0 {
			index += n
		}
		if index < 0 || index >= n {
			return -1
		}
		if index > n/2 {
			forward = false
			index -= n
		}
	} else if index < 0 {
		forward = false
	}
	if forward {
		p := lp.First()
		for ; index > 0 && p >= 0; index-- {
			p = lp.Next(p)
		}
		return p
	}
	p := lp.Last()
	for ; index < -1 && p >= 0; index++ {
		p = lp.Prev(p)
	}
	return p
}

// Get returns the entry at p.
func (lp Listpack) Get(p int) Entry {
	b := lp[p]
	var u uint64
	var bitsN uint
	switch {
	case b&0x80 == enc7BitUint:
		return Entry{Int: int64(b), IsInt: true}
	case b&0xC0 == enc6BitStr:
		n := int(b & 0x3F)
		return Entry{Str: lp[p+1 : p+1+n : p+1+n]}
	case b&0xE0 == enc13BitInt:
		u, bitsN = uint64(b&0x1F)<<8|uint64(lp[p+1]), 13
	case b&0xF0 == enc12BitStr:
		n := int(b&0x0F)<<8 | int(lp[p+1])
		return Entry{Str: lp[p+2 : p+2+n : p+2+n]}
	case b == enc32BitStr:
		n := int(uint32(lp[p+1]) | uint32(lp[p+2])<<8 | uint32(lp[p+3])<<16 | uint32(lp[p+4])<<24)
		return Entry{Str: lp[p+5 : p+5+n : p+5+n]}
	case b == enc16BitInt:
		u, bitsN = uint64(lp[p+1])|uint64(lp[p+2])<<8, 16
	case b == enc24BitInt:
		u, bitsN = uint64(lp[p+1])|uint64(lp[p+2])<<8|uint64(lp[p+3])<<16, 24
	case b == enc32BitInt:
		u, bitsN = uint64(lp[p+1])|uint64(lp[p+2])<<8|uint64(lp[p+3])<<16|uint64(lp[p+4])<<24, 32
	case b == enc64BitInt:
		for i := 8; i >= 1; i-- {
			u = u<<8 | uint64(lp[p+i])
		}
		return Entry{Int: int64(u), IsInt: true}
	default:
		// Unreachable for validated bytes; Redis answers this marker.
		return Entry{Int: 12345678900000000 + int64(b), IsInt: true}
	}
	// Sign-extend a two's complement value of bitsN bits.
	shift := 64 - bitsN
	return Entry{Int: int64(u<<shift) >> shift, IsInt: true}
}

// Compare reports whether the entry at p equals v (lpCompare).
func (lp Listpack) Compare(p int, v []byte) bool { return lp.Get(p).Equal(v) }

// Find returns the position of the first entry equal to v, starting at p
// and skipping skip entries after each compared one (skip 1 visits the
// fields of a field/value listpack), or -1.
func (lp Listpack) Find(p int, v []byte, skip int) int {
	vInt, vIsInt := int64(0), false
	vChecked := false
	for p >= 0 {
		e := lp.Get(p)
		if e.IsInt {
			if !vChecked {
				vInt, vIsInt = StringToInt64(v)
				vChecked = true
			}
			if vIsInt && vInt == e.Int {
				return p
			}
		} else if bytes.Equal(e.Str, v) {
			return p
		}
		p = lp.Next(p)
		for i := 0; i < skip && p >= 0; i++ {
			p = lp.Next(p)
		}
	}
	return -1
}

// EntrySize is the number of bytes v takes as an entry, backlen
// included: what appending it adds to a listpack.
func EntrySize(v []byte) int {
	var l int
	if n, ok := StringToInt64(v); ok {
		var buf [maxIntEncLen]byte
		l = encodeInt(&buf, n)
	} else {
		l = strEncLen(len(v))
	}
	return l + backlenSize(l)
}

// SafeToAdd reports whether add more bytes keep the listpack within
// MaxSafetySize (lpSafeToAdd); a nil listpack counts as empty.
func SafeToAdd(lp Listpack, add int) bool {
	return len(lp)+add <= MaxSafetySize
}

// resize makes the listpack n bytes long, keeping the first keep bytes
// (those before the changed region) in place. The caller moves the rest.
// It grows geometrically only for big listpacks (quicklist nodes filled by
// pushes), and exactly otherwise: most listpacks are small, many, and
// rarely grow, so slack would cost more memory than copies cost time.
func (lp *Listpack) resize(n int) {
	b := *lp
	if n <= cap(b) {
		// Shrink the allocation when it would waste more than half (not
		// while growing into room reserved by Grow).
		if n < len(b) && n < cap(b)/2 && cap(b) > 64 {
			nb := make([]byte, n)
			copy(nb, b[:min(len(b), n)])
			*lp = nb
			return
		}
		*lp = b[:n]
		return
	}
	c := n
	if n > 1024 {
		c = n + n/8
	}
	nb := append([]byte(nil), make([]byte, c)...)[:n]
	copy(nb, b)
	*lp = nb
}

// Grow makes room for n more bytes with at most one allocation, so that
// a batch of inserts whose size is known (EntrySize) does not reallocate
// at each one. The room is kept until the listpack shrinks.
func (lp *Listpack) Grow(n int) {
	lp.ensure()
	b := *lp
	if n <= 0 || cap(b)-len(b) >= n {
		return
	}
	nb := append([]byte(nil), make([]byte, len(b)+n)...)[:len(b)]
	copy(nb, b)
	*lp = nb
}

// insertEncoded inserts or replaces at p an entry whose encoding and data
// are produced by put into enc bytes. replace says whether the entry at p
// is replaced. It returns the new entry's position.
func (lp *Listpack) insertEncoded(p int, replace bool, enc int, put func(dst []byte)) int {
	old := *lp
	oldTotal := len(old)
	bl := backlenSize(enc)
	replaced := 0
	if replace {
		replaced = old.entryLen(p)
	}
	newTotal := oldTotal + enc + bl - replaced
	tail := oldTotal - p - replaced // bytes after the region, EOF included
	if newTotal > oldTotal {
		lp.resize(newTotal)
		b := *lp
		copy(b[p+enc+bl:], b[p+replaced:p+replaced+tail])
	} else {
		copy(old[p+enc+bl:], old[p+replaced:p+replaced+tail])
		lp.resize(newTotal)
	}
	b := *lp
	put(b[p : p+enc])
	putBacklen(b[p+enc:], enc)
	if !replace {
		if n := b.count(); n != numeleUnknown {
			b.setCount(n + 1)
		}
	}
	b.setTotal(newTotal)
	return p
}

func (lp *Listpack) insertString(p int, replace bool, v []byte) int {
	if n, ok := StringToInt64(v); ok {
		return lp.insertInt(p, replace, n)
	}
	return lp.insertEncoded(p, replace, strEncLen(len(v)), func(dst []byte) { putStr(dst, v) })
}

func (lp *Listpack) insertInt(p int, replace bool, v int64) int {
	var buf [maxIntEncLen]byte
	n := encodeInt(&buf, v)
	return lp.insertEncoded(p, replace, n, func(dst []byte) { copy(dst, buf[:n]) })
}

func (lp *Listpack) ensure() {
	if len(*lp) == 0 {
		*lp = New()
	}
}

// Insert inserts v before or after the entry at p and returns the new
// entry's position. A string that is a canonical integer is stored as an
// integer, as Redis does.
func (lp *Listpack) Insert(p int, where Where, v []byte) int {
	if where == After {
		p += lp.entryLen(p)
	}
	return lp.insertString(p, false, v)
}

// InsertInt is Insert for an integer.
func (lp *Listpack) InsertInt(p int, where Where, v int64) int {
	if where == After {
		p += lp.entryLen(p)
	}
	return lp.insertInt(p, false, v)
}

// Append adds v at the end. A nil Listpack becomes a new one.
func (lp *Listpack) Append(v []byte) {
	lp.ensure()
	lp.insertString(len(*lp)-1, false, v)
}

// AppendInt adds v at the end.
func (lp *Listpack) AppendInt(v int64) {
	lp.ensure()
	lp.insertInt(len(*lp)-1, false, v)
}

// Prepend adds v at the start.
func (lp *Listpack) Prepend(v []byte) {
	lp.ensure()
	lp.insertString(HeaderSize, false, v)
}

// PrependInt adds v at the start.
func (lp *Listpack) PrependInt(v int64) {
	lp.ensure()
	lp.insertInt(HeaderSize, false, v)
}

// Replace replaces the entry at p with v; the position stays p.
func (lp *Listpack) Replace(p int, v []byte) int { return lp.insertString(p, true, v) }

// ReplaceInt replaces the entry at p with v.
func (lp *Listpack) ReplaceInt(p int, v int64) int { return lp.insertInt(p, true, v) }

// Delete removes the entry at p and returns the position of the entry
// that followed it (now at p), or -1 if it was the last.
func (lp *Listpack) Delete(p int) int { return lp.DeleteAt(p, 1) }

// DeleteAt removes up to n entries starting at p and returns the position
// of the entry that followed them, or -1.
func (lp *Listpack) DeleteAt(p int, n int) int {
	if n <= 0 {
		return p
	}
	b := *lp
	end := p
	deleted := 0
	for ; deleted < n && b[end] != EOF; deleted++ {
		end += b.entryLen(end)
	}
	oldTotal := len(b)
	copy(b[p:], b[end:])
	newTotal := oldTotal - (end - p)
	if c := b.count(); c != numeleUnknown {
		b.setCount(c - deleted)
	}
	b.setTotal(newTotal)
	lp.resize(newTotal)
	if (*lp)[p] == EOF {
		return -1
	}
	return p
}

// DeleteRange removes n entries starting at index (negative counts from
// the end), as lpDeleteRange.
func (lp *Listpack) DeleteRange(index, n int) {
	if n <= 0 {
		return
	}
	p := lp.Seek(index)
	if p < 0 {
		return
	}
	lp.DeleteAt(p, n)
}

// Merge returns a listpack holding a's entries followed by b's. It
// reuses the bigger one's allocation; a and b must not be used after.
func Merge(a, b Listpack) Listpack {
	na, nb := a.Len(), b.Len()
	total := len(a) + len(b) - HeaderSize - 1
	cnt := min(na+nb, numeleUnknown)
	var out Listpack
	if len(a) >= len(b) {
		out = a
		out.resize(total)
		copy(out[len(a)-1:], b[HeaderSize:])
	} else {
		out = b
		out.resize(total)
		copy(out[len(a)-1:], out[HeaderSize:len(b)])
		copy(out, a[:len(a)-1])
	}
	out.setCount(cnt)
	out.setTotal(total)
	return out
}

// Clone returns an independent copy (exactly sized).
func (lp Listpack) Clone() Listpack {
	return append(Listpack(nil), lp...)
}

// Validate checks that b is a well-formed listpack, walking every entry
// (Redis's lpValidateIntegrity with deep set). each, if not nil, sees
// every entry in order and can reject the listpack by returning an error.
// Validate never panics, whatever b holds.
func Validate(b []byte, each func(e Entry) error) error {
	if len(b) < HeaderSize+1 {
		return fmt.Errorf("%w: %d bytes is shorter than a header", ErrCorrupt, len(b))
	}
	lp := Listpack(b)
	if lp.total() != len(b) {
		return fmt.Errorf("%w: header says %d bytes, have %d", ErrCorrupt, lp.total(), len(b))
	}
	if b[len(b)-1] != EOF {
		return fmt.Errorf("%w: no terminator", ErrCorrupt)
	}
	last := len(b) - 1
	count := 0
	p := HeaderSize
	for p < last {
		hl := headerLen(b[p])
		if hl == 0 || b[p] == EOF {
			return fmt.Errorf("%w: bad encoding 0x%02x at %d", ErrCorrupt, b[p], p)
		}
		if p+hl > last {
			return fmt.Errorf("%w: entry header at %d runs past the end", ErrCorrupt, p)
		}
		l := lp.encLen(p)
		bl := backlenSize(l)
		if l > last-p || l+bl > last-p {
			return fmt.Errorf("%w: entry at %d runs past the end", ErrCorrupt, p)
		}
		next := p + l + bl
		if v, ok := decodeBacklen(b, next-1); !ok || v != l {
			return fmt.Errorf("%w: backlen of entry at %d does not match", ErrCorrupt, p)
		}
		if each != nil {
			if err := each(lp.Get(p)); err != nil {
				return err
			}
		}
		count++
		p = next
	}
	if p != last {
		return fmt.Errorf("%w: entries do not end at the terminator", ErrCorrupt)
	}
	if n := lp.count(); n != numeleUnknown && n != count {
		return fmt.Errorf("%w: header count %d, found %d entries", ErrCorrupt, n, count)
	}
	return nil
}

// Entries returns every entry's string form; for tests and debugging.
func (lp Listpack) Entries() []string {
	var out []string
	for p := lp.First(); p >= 0; p = lp.Next(p) {
		out = append(out, lp.Get(p).String())
	}
	return out
}
