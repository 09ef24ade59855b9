package node

import (
	"math"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// BITFIELD and BITFIELD_RO, as Redis 7.0's bitfieldGeneric: signed and
// unsigned integers of 1 to 64 bits (unsigned up to 63, so that every
// value fits a RESP integer) at any bit offset of a string, read, set or
// incremented with WRAP, SAT or FAIL overflow handling.

func init() {
	register(map[string]handler{
		"bitfield":    bitfieldCommand,
		"bitfield_ro": bitfieldROCommand,
	})
}

const (
	errBitfieldType     = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	errBitfieldOverflow = "ERR Invalid OVERFLOW type specified"
	errBitfieldRO       = "ERR BITFIELD_RO only supports the GET subcommand"
)

// Overflow behaviours.
const (
	overflowWrap = iota
	overflowSat
	overflowFail
)

// Bitfield operations.
const (
	bitfieldGet = iota
	bitfieldSet
	bitfieldIncrBy
)

type bitfieldOp struct {
	offset   uint64
	value    int64 // SET's value or INCRBY's increment
	op       int
	overflow int
	bits     uint
	signed   bool
}

// bitfieldTypeArg parses a type such as i16 or u8.
func bitfieldTypeArg(c *Client, arg []byte) (signed bool, width uint, ok bool) {
	if len(arg) == 0 || (arg[0] != 'i' && arg[0] != 'u') {
		c.Error(errBitfieldType)
		return false, 0, false
	}
	signed = arg[0] == 'i'
	n, ok := parseInt64Strict(arg[1:])
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		c.Error(errBitfieldType)
		return false, 0, false
	}
	return signed, uint(n), true
}

// getUnsignedBits reads bits bits at bit offset off of p as an unsigned
// integer, most significant bit first; bits past the end of p read 0.
func getUnsignedBits(p []byte, off uint64, bits uint) uint64 {
	var v uint64
	for j := uint(0); j < bits; j++ {
		var b uint64
		if byt := off >> 3; byt < uint64(len(p)) {
			b = uint64(p[byt]>>(7-off&7)) & 1
		}
		v = v<<1 | b
		off++
	}
	return v
}

// getSignedBits reads a two's complement integer of bits bits.
func getSignedBits(p []byte, off uint64, bits uint) int64 {
	v := int64(getUnsignedBits(p, off, bits))
	if bits < 64 && v&(1<<(bits-1)) != 0 {
		v |= -1 << bits
	}
	return v
}

// setBits writes the low bits bits of v at bit offset off of p, which
// must hold them.
func setBits(p []byte, off uint64, bits uint, v uint64) {
	for j := uint(0); j < bits; j++ {
		bit := byte(v>>(bits-1-j)) & 1
		byt, shift := off>>3, 7-off&7
		p[byt] = p[byt]&^(1<<shift) | bit<<shift
		off++
	}
}

// unsignedOverflow reports whether value+incr overflows an unsigned
// integer of bits bits: 1 above, -1 below, 0 when it fits. limit is what
// to store instead under WRAP or SAT (checkUnsignedBitfieldOverflow).
func unsignedOverflow(value uint64, incr int64, bits uint, overflow int) (int, uint64) {
	maxv := uint64(1)<<bits - 1
	maxincr := int64(maxv - value)
	minincr := int64(-value)
	wrap := func() uint64 { return (value + uint64(incr)) &^ (math.MaxUint64 << bits) }
	if value > maxv || (incr > 0 && incr > maxincr) {
		switch overflow {
		case overflowWrap:
			return 1, wrap()
		case overflowSat:
			return 1, maxv
		}
		return 1, 0
	}
	if incr < 0 && incr < minincr {
		switch overflow {
		case overflowWrap:
			return -1, wrap()
		case overflowSat:
			return -1, 0
		}
		return -1, 0
	}
	return 0, 0
}

// signedOverflow is unsignedOverflow for two's complement integers
// (checkSignedBitfieldOverflow). Its comparisons are Redis's, including
// the wrapping arithmetic of the 64-bit case.
func signedOverflow(value, incr int64, bits uint, overflow int) (int, int64) {
	maxv := int64(math.MaxInt64)
	if bits != 64 {
		maxv = 1<<(bits-1) - 1
	}
	minv := -maxv - 1
	maxincr := int64(uint64(maxv) - uint64(value))
	minincr := minv - value
	wrap := func() int64 {
		r := uint64(value) + uint64(incr)
		if bits < 64 {
			mask := uint64(math.MaxUint64) << bits
			if r&(1<<(bits-1)) != 0 {
				r |= mask
			} else {
				r &^= mask
			}
		}
		return int64(r)
	}
	if value > maxv || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
		switch overflow {
		case overflowWrap:
			return 1, wrap()
		case overflowSat:
			return 1, maxv
		}
		return 1, 0
	}
	if value < minv || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr) {
		switch overflow {
		case overflowWrap:
			return -1, wrap()
		case overflowSat:
			return -1, minv
		}
		return -1, 0
	}
	return 0, 0
}

func bitfieldCommand(s *Server, c *Client, args [][]byte)   { bitfieldGeneric(s, c, args, false) }
func bitfieldROCommand(s *Server, c *Client, args [][]byte) { bitfieldGeneric(s, c, args, true) }

func bitfieldGeneric(s *Server, c *Client, args [][]byte, readonly bool) {
	var ops []bitfieldOp
	overflow := overflowWrap
	writes := false
	var highest uint64
	for j := 2; j < len(args); j++ {
		rem := len(args) - j - 1
		sub := args[j]
		var op int
		switch {
		case isWord(sub, "get") && rem >= 2:
			op = bitfieldGet
		case isWord(sub, "set") && rem >= 3:
			op = bitfieldSet
		case isWord(sub, "incrby") && rem >= 3:
			op = bitfieldIncrBy
		case isWord(sub, "overflow") && rem >= 1:
			j++
			switch name := args[j]; {
			case isWord(name, "wrap"):
				overflow = overflowWrap
			case isWord(name, "sat"):
				overflow = overflowSat
			case isWord(name, "fail"):
				overflow = overflowFail
			default:
				c.Error(errBitfieldOverflow)
				return
			}
			continue
		default:
			c.Error(errSyntax)
			return
		}
		signed, width, ok := bitfieldTypeArg(c, args[j+1])
		if !ok {
			return
		}
		off, ok := s.bitOffsetArg(c, args[j+2], true, int(width))
		if !ok {
			return
		}
		var value int64
		if op != bitfieldGet {
			writes = true
			highest = max(highest, off+uint64(width)-1)
			if value, ok = int64Arg(c, args[j+3]); !ok {
				return
			}
			j += 3
		} else {
			j += 2
		}
		ops = append(ops, bitfieldOp{offset: off, value: value, op: op, overflow: overflow, bits: width, signed: signed})
	}

	db, key := c.db, args[1]
	var o *keyspace.Object
	grown := false
	if !writes {
		var ok bool
		if o, ok = s.lookupStringRead(c, key); !ok {
			return
		}
	} else {
		if readonly {
			c.Error(errBitfieldRO)
			return
		}
		if o, grown = s.lookupStringForBit(c, key, highest); o == nil {
			return
		}
	}

	c.ArrayLen(len(ops))
	changes := 0
	for _, op := range ops {
		if op.op == bitfieldGet {
			var p []byte
			if o != nil {
				p = o.Str
			}
			if op.signed {
				c.Int(getSignedBits(p, op.offset, op.bits))
			} else {
				c.Int(int64(getUnsignedBits(p, op.offset, op.bits)))
			}
			continue
		}
		// SET replies the old value, INCRBY the new one; FAIL on
		// overflow writes nothing and replies null.
		var reply int64
		var changed, failed bool
		if op.signed {
			old := getSignedBits(o.Str, op.offset, op.bits)
			var nv int64
			if op.op == bitfieldIncrBy {
				ow, wrapped := signedOverflow(old, op.value, op.bits, op.overflow)
				nv = old + op.value
				if ow != 0 {
					nv = wrapped
				}
				reply = nv
				failed = ow != 0 && op.overflow == overflowFail
			} else {
				nv = op.value
				ow, wrapped := signedOverflow(nv, 0, op.bits, op.overflow)
				if ow != 0 {
					nv = wrapped
				}
				reply = old
				failed = ow != 0 && op.overflow == overflowFail
			}
			if !failed {
				setBits(o.Str, op.offset, op.bits, uint64(nv))
				changed = old != nv
			}
		} else {
			old := getUnsignedBits(o.Str, op.offset, op.bits)
			var nv uint64
			var ow int
			var wrapped uint64
			if op.op == bitfieldIncrBy {
				nv = old + uint64(op.value)
				ow, wrapped = unsignedOverflow(old, op.value, op.bits, op.overflow)
				if ow != 0 {
					nv = wrapped
				}
				reply = int64(nv)
			} else {
				nv = uint64(op.value)
				ow, wrapped = unsignedOverflow(nv, 0, op.bits, op.overflow)
				if ow != 0 {
					nv = wrapped
				}
				reply = int64(old)
			}
			failed = ow != 0 && op.overflow == overflowFail
			if !failed {
				setBits(o.Str, op.offset, op.bits, nv)
				changed = old != nv
			}
		}
		if failed {
			c.Null()
			continue
		}
		c.Int(reply)
		if grown || changed {
			changes++
		}
	}
	if changes > 0 {
		s.keyModified(db, key)
		s.notify(notifyString, "setbit", key, db.id)
		s.dirty += int64(changes)
		s.propagate(db.id, args)
	}
}
