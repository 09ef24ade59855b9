package node

import (
	"encoding/binary"
	"math/bits"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Bitmap commands on string values, as Redis 7.0's bitops.c: SETBIT,
// GETBIT, BITCOUNT, BITPOS and BITOP (BITFIELD is in bitfield.go). Bit 0
// is the most significant bit of the first byte. Writes change the
// string in place and leave it raw-encoded.

func init() {
	register(map[string]handler{
		"setbit":   setbitCommand,
		"getbit":   getbitCommand,
		"bitcount": bitcountCommand,
		"bitpos":   bitposCommand,
		"bitop":    bitopCommand,
	})
}

const (
	errBitOffset   = "ERR bit offset is not an integer or out of range"
	errBitValue    = "ERR bit is not an integer or out of range"
	errBitArg      = "ERR The bit argument must be 1 or 0."
	errBitopNotArg = "ERR BITOP NOT must be called with a single source key."
)

// bitOffsetArg parses a bit offset (getBitOffsetFromArgument). With hash
// and bits > 0, "#N" means N*bits (BITFIELD). The offset's byte must be
// below proto-max-bulk-len, which bounds what a write can allocate;
// writes from the primary are taken whatever the local limit.
func (s *Server) bitOffsetArg(c *Client, arg []byte, hash bool, bitsWidth int) (uint64, bool) {
	useHash := hash && bitsWidth > 0 && len(arg) > 0 && arg[0] == '#'
	if useHash {
		arg = arg[1:]
	}
	off, ok := parseInt64Strict(arg)
	if !ok {
		c.Error(errBitOffset)
		return 0, false
	}
	if useHash {
		off *= int64(bitsWidth) // wraps as Redis's does
	}
	if off < 0 || (c.flags&flagPrimary == 0 && off>>3 >= s.cfg.ProtoMaxBulkLen) {
		c.Error(errBitOffset)
		return 0, false
	}
	return uint64(off), true
}

// lookupStringForBit returns the string at key grown with zero bytes so
// that bit maxbit exists, creating it when missing
// (lookupStringForBitCommand). grown reports a new key or a longer
// string. nil means a WRONGTYPE reply was written.
func (s *Server) lookupStringForBit(c *Client, key []byte, maxbit uint64) (o *keyspace.Object, grown bool) {
	db := c.db
	need := int(maxbit>>3) + 1
	o = s.lookupWrite(db, key)
	if o == nil {
		o = s.setKey(db, key, keyspace.Object{Type: keyspace.TypeString, Enc: keyspace.EncRaw, Str: make([]byte, need)}, false)
		return o, true
	}
	if o.Type != keyspace.TypeString {
		c.Error(errWrongType)
		return nil, false
	}
	o.Enc, o.Shared = keyspace.EncRaw, false
	if need > len(o.Str) {
		o.Str = growZero(o.Str, need)
		grown = true
	}
	return o, grown
}

// growZero extends b with zero bytes to n, keeping spare room as Redis's
// sdsMakeRoomFor does (double below 1MB, 1MB more above), so that a
// bitmap written at increasing offsets is not copied on every write.
func growZero(b []byte, n int) []byte {
	if n <= cap(b) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	c := n * 2
	if n >= 1<<20 {
		c = n + 1<<20
	}
	grown := make([]byte, n, c)
	copy(grown, b)
	return grown
}

func setbitCommand(s *Server, c *Client, args [][]byte) {
	off, ok := s.bitOffsetArg(c, args[2], false, 0)
	if !ok {
		return
	}
	on, ok := parseInt64Strict(args[3])
	if !ok || on&^1 != 0 {
		c.Error(errBitValue)
		return
	}
	db, key := c.db, args[1]
	o, grown := s.lookupStringForBit(c, key, off)
	if o == nil {
		return
	}
	byt, bit := off>>3, 7-(off&7)
	old := o.Str[byt] >> bit & 1
	if grown || int64(old) != on {
		o.Str[byt] = o.Str[byt]&^(1<<bit) | byte(on)<<bit
		s.keyModified(db, key)
		s.notify(notifyString, "setbit", key, db.id)
		s.dirty++
		s.propagate(db.id, args)
	}
	c.Int(int64(old))
}

func getbitCommand(s *Server, c *Client, args [][]byte) {
	off, ok := s.bitOffsetArg(c, args[2], false, 0)
	if !ok {
		return
	}
	o, ok := s.lookupStringRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	var bit int64
	if byt := off >> 3; byt < uint64(len(o.Str)) {
		bit = int64(o.Str[byt] >> (7 - off&7) & 1)
	}
	c.Int(bit)
}

// popcount counts the set bits of p a word at a time.
func popcount(p []byte) int64 {
	var n int
	for len(p) >= 32 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(p)) +
			bits.OnesCount64(binary.LittleEndian.Uint64(p[8:])) +
			bits.OnesCount64(binary.LittleEndian.Uint64(p[16:])) +
			bits.OnesCount64(binary.LittleEndian.Uint64(p[24:]))
		p = p[32:]
	}
	for len(p) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(p))
		p = p[8:]
	}
	for _, b := range p {
		n += bits.OnesCount8(b)
	}
	return int64(n)
}

// isBitUnit parses BITCOUNT's and BITPOS's BIT|BYTE argument.
func isBitUnit(c *Client, arg []byte) (isbit, ok bool) {
	switch {
	case isWord(arg, "bit"):
		return true, true
	case isWord(arg, "byte"):
		return false, true
	}
	c.Error(errSyntax)
	return false, false
}

// bitRange turns a start/end pair (bytes, or bits when isbit) into
// clamped byte bounds and the masks of the bits outside the range in the
// first and last byte. start > end means an empty range.
func bitRange(start, end, totlen int64, isbit bool) (int64, int64, byte, byte) {
	if isbit {
		totlen <<= 3
	}
	if start < 0 {
		start += totlen
	}
	if end < 0 {
		end += totlen
	}
	start, end = max(start, 0), max(end, 0)
	if end >= totlen {
		end = totlen - 1
	}
	var firstMask, lastMask byte
	if isbit && start <= end {
		firstMask = ^byte(1<<(8-start&7) - 1)
		lastMask = byte(1<<(7-end&7) - 1)
		start >>= 3
		end >>= 3
	}
	return start, end, firstMask, lastMask
}

func bitcountCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupStringRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	p := o.Str
	var start, end int64
	var firstMask, lastMask byte
	switch len(args) {
	case 4, 5:
		if start, ok = int64Arg(c, args[2]); !ok {
			return
		}
		if end, ok = int64Arg(c, args[3]); !ok {
			return
		}
		if start < 0 && end < 0 && start > end {
			c.Int(0)
			return
		}
		isbit := false
		if len(args) == 5 {
			if isbit, ok = isBitUnit(c, args[4]); !ok {
				return
			}
		}
		start, end, firstMask, lastMask = bitRange(start, end, int64(len(p)), isbit)
	case 2:
		start, end = 0, int64(len(p))-1
	default:
		c.Error(errSyntax)
		return
	}
	if start > end {
		c.Int(0)
		return
	}
	count := popcount(p[start : end+1])
	// The masks select the bits of the edge bytes outside the range.
	count -= int64(bits.OnesCount8(p[start]&firstMask) + bits.OnesCount8(p[end]&lastMask))
	c.Int(count)
}

// bitpos returns the position of the first bit equal to bit in p; for a
// 1 bit, -1 when there is none; for a 0 bit, len(p)*8 when there is
// none, as if p were padded with zeros (redisBitpos).
func bitpos(p []byte, bit int64) int64 {
	skip := uint64(0)
	if bit == 0 {
		skip = ^uint64(0)
	}
	i := 0
	for ; i+8 <= len(p); i += 8 {
		if binary.BigEndian.Uint64(p[i:]) != skip {
			break
		}
	}
	for ; i < len(p); i++ {
		b := p[i]
		if bit == 0 {
			b = ^b
		}
		if b != 0 {
			return int64(i)*8 + int64(bits.LeadingZeros8(b))
		}
	}
	if bit == 1 {
		return -1
	}
	return int64(len(p)) * 8
}

func bitposCommand(s *Server, c *Client, args [][]byte) {
	bit, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	if bit != 0 && bit != 1 {
		c.Error(errBitArg)
		return
	}
	o, ok := s.lookupStringRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		if bit == 1 {
			c.Int(-1)
		} else {
			c.Int(0)
		}
		return
	}
	p := o.Str
	var start, end int64
	var firstMask, lastMask byte
	endGiven := false
	switch len(args) {
	case 4, 5, 6:
		totlen := int64(len(p))
		if start, ok = int64Arg(c, args[3]); !ok {
			return
		}
		isbit := false
		if len(args) == 6 {
			if isbit, ok = isBitUnit(c, args[5]); !ok {
				return
			}
		}
		if len(args) >= 5 {
			if end, ok = int64Arg(c, args[4]); !ok {
				return
			}
			endGiven = true
		} else {
			end = totlen - 1
		}
		start, end, firstMask, lastMask = bitRange(start, end, totlen, isbit)
	case 3:
		start, end = 0, int64(len(p))-1
	default:
		c.Error(errSyntax)
		return
	}
	if start > end {
		c.Int(-1)
		return
	}
	bytes := end - start + 1
	var pos int64
	// The edge bytes are searched masked (the bits outside the range set
	// to what is not looked for), the bytes between them directly.
	func() {
		if firstMask != 0 {
			t := p[start]
			if bit == 1 {
				t &^= firstMask
			} else {
				t |= firstMask
			}
			if lastMask != 0 && bytes == 1 {
				if bit == 1 {
					t &^= lastMask
				} else {
					t |= lastMask
				}
			}
			pos = bitpos([]byte{t}, bit)
			if bytes == 1 || (pos != -1 && pos != 8) {
				return
			}
			start++
			bytes--
		}
		cur := bytes
		if lastMask != 0 {
			cur--
		}
		if cur > 0 {
			pos = bitpos(p[start:start+cur], bit)
			if bytes == cur || (pos != -1 && pos != cur<<3) {
				return
			}
			start += cur
			bytes -= cur
		}
		t := p[end]
		if bit == 1 {
			t &^= lastMask
		} else {
			t |= lastMask
		}
		pos = bitpos([]byte{t}, bit)
	}()
	// With an explicit end the string is not zero-padded to the right:
	// a clear bit found past the range is no answer.
	if endGiven && bit == 0 && pos == bytes<<3 {
		c.Int(-1)
		return
	}
	if pos != -1 {
		pos += start << 3
	}
	c.Int(pos)
}

// Bit operations of BITOP.
const (
	bitopAnd = iota
	bitopOr
	bitopXor
	bitopNot
)

func bitopCommand(s *Server, c *Client, args [][]byte) {
	var op int
	switch name := args[1]; {
	case isWord(name, "and"):
		op = bitopAnd
	case isWord(name, "or"):
		op = bitopOr
	case isWord(name, "xor"):
		op = bitopXor
	case isWord(name, "not"):
		op = bitopNot
	default:
		c.Error(errSyntax)
		return
	}
	if op == bitopNot && len(args) != 4 {
		c.Error(errBitopNotArg)
		return
	}
	db, dest := c.db, args[2]
	srcs := make([][]byte, len(args)-3)
	maxlen := 0
	for j, key := range args[3:] {
		o := s.lookupRead(db, key)
		if o == nil {
			continue
		}
		if o.Type != keyspace.TypeString {
			c.Error(errWrongType)
			return
		}
		srcs[j] = o.Str
		maxlen = max(maxlen, len(o.Str))
	}
	if maxlen == 0 {
		if s.deleteKey(db, dest) {
			s.notify(notifyGeneric, "del", dest, db.id)
			s.dirty++
			s.propagate(db.id, args)
		}
		c.Int(0)
		return
	}
	res := bitop(op, srcs, maxlen)
	s.setKey(db, dest, keyspace.Object{Type: keyspace.TypeString, Enc: keyspace.EncRaw, Str: res}, false)
	s.notify(notifyString, "set", dest, db.id)
	s.dirty++
	s.propagate(db.id, args)
	c.Int(int64(maxlen))
}

// bitop computes op over srcs into a new string of n bytes; missing
// bytes of shorter sources count as zeros. Whole words are combined
// while every source has them.
func bitop(op int, srcs [][]byte, n int) []byte {
	res := make([]byte, n)
	copy(res, srcs[0])
	if op == bitopNot {
		i := 0
		for ; i+8 <= n; i += 8 {
			binary.LittleEndian.PutUint64(res[i:], ^binary.LittleEndian.Uint64(res[i:]))
		}
		for ; i < n; i++ {
			res[i] = ^res[i]
		}
		return res
	}
	for _, src := range srcs[1:] {
		m := len(src)
		i := 0
		for ; i+8 <= m; i += 8 {
			a, b := binary.LittleEndian.Uint64(res[i:]), binary.LittleEndian.Uint64(src[i:])
			switch op {
			case bitopAnd:
				a &= b
			case bitopOr:
				a |= b
			case bitopXor:
				a ^= b
			}
			binary.LittleEndian.PutUint64(res[i:], a)
		}
		for ; i < m; i++ {
			switch op {
			case bitopAnd:
				res[i] &= src[i]
			case bitopOr:
				res[i] |= src[i]
			case bitopXor:
				res[i] ^= src[i]
			}
		}
		if op == bitopAnd {
			// Past a source's end it contributes zeros.
			clear(res[m:])
		}
	}
	return res
}
