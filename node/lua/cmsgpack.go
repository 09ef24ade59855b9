package lua

import (
	"encoding/binary"
	"math"

	glua "github.com/yuin/gopher-lua"
)

// The cmsgpack library (lua-cmsgpack 0.4.0 as bundled with Redis):
// MessagePack pack/unpack with its type choices, its nesting limit of
// 16 for circular tables, and its error messages.

const msgpackMaxNesting = 16

// msgpackMaxDecodeDepth bounds how deep unpacking recurses: a hostile
// payload must not exhaust the goroutine's stack.
const msgpackMaxDecodeDepth = 10000

func openCMsgpack(st *State, g *glua.LTable) {
	L := st.L
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(st.mpPack))
	t.RawSetString("unpack", L.NewFunction(func(L *glua.LState) int { return st.mpUnpack(L, 0, 0) }))
	t.RawSetString("unpack_one", L.NewFunction(func(L *glua.LState) int {
		offset := int64(0)
		if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
			offset = cInteger(checkNumber(L, 2))
		}
		L.SetTop(1)
		return st.mpUnpack(L, 1, offset)
	}))
	t.RawSetString("unpack_limit", L.NewFunction(func(L *glua.LState) int {
		limit := cInteger(checkNumber(L, 2))
		offset := int64(0)
		if L.GetTop() >= 3 && L.Get(3) != glua.LNil {
			offset = cInteger(checkNumber(L, 3))
		}
		L.SetTop(1)
		return st.mpUnpack(L, limit, offset)
	}))
	t.RawSetString("_NAME", glua.LString("cmsgpack"))
	t.RawSetString("_VERSION", glua.LString("lua-cmsgpack 0.4.0"))
	t.RawSetString("_COPYRIGHT", glua.LString("Copyright (C) 2012, Salvatore Sanfilippo"))
	t.RawSetString("_DESCRIPTION", glua.LString("MessagePack C implementation for Lua"))
	g.RawSetString("cmsgpack", t)
}

func (st *State) mpPack(L *glua.LState) int {
	n := L.GetTop()
	if n == 0 {
		L.ArgError(0, "MessagePack pack needs input.")
	}
	var b []byte
	for i := 1; i <= n; i++ {
		b = st.mpEncode(L, b, L.Get(i), 0)
	}
	L.Push(glua.LString(b))
	return 1
}

func (st *State) mpEncode(L *glua.LState, b []byte, v glua.LValue, level int) []byte {
	if len(b) > maxStringSize {
		raisef(L, "not enough memory")
	}
	switch v := v.(type) {
	case glua.LString:
		return mpBytes(b, string(v))
	case glua.LBool:
		if v {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case glua.LNumber:
		f := float64(v)
		if !math.IsInf(f, 0) && float64(cInteger(f)) == f {
			return mpInt(b, cInteger(f))
		}
		if float64(float32(f)) == f {
			b = append(b, 0xca)
			return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(f)))
		}
		b = append(b, 0xcb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	case *glua.LTable:
		if level == msgpackMaxNesting {
			return append(b, 0xc0)
		}
		t := st.underlying(v)
		if n, ok := mpIsArray(t); ok {
			b = mpHeader(b, n, 0x90, 0xdc, 0xdd)
			for i := 1; i <= n; i++ {
				b = st.mpEncode(L, b, t.RawGetInt(i), level+1)
			}
			return b
		}
		n := 0
		forEach(t, func(_, _ glua.LValue) { n++ })
		b = mpHeader(b, n, 0x80, 0xde, 0xdf)
		forEach(t, func(k, val glua.LValue) {
			b = st.mpEncode(L, b, k, level+1)
			b = st.mpEncode(L, b, val, level+1)
		})
		return b
	}
	return append(b, 0xc0)
}

// mpIsArray is table_is_an_array: only positive integer keys (that fit
// a C int), from 1 to their count without holes.
func mpIsArray(t *glua.LTable) (int, bool) {
	count, max := 0, 0
	ok := true
	forEach(t, func(k, _ glua.LValue) {
		if !ok {
			return
		}
		n, isNum := k.(glua.LNumber)
		f := float64(n)
		if !isNum || f <= 0 || f > math.MaxInt32 || math.Floor(f) != f {
			ok = false
			return
		}
		if int(f) > max {
			max = int(f)
		}
		count++
	})
	return count, ok && max == count
}

func mpHeader(b []byte, n int, fix, b16, b32 byte) []byte {
	switch {
	case n <= 15:
		return append(b, fix|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, b16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, b32), uint32(n))
	}
}

func mpBytes(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= 0xff:
		b = append(b, 0xd9, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func mpInt(b []byte, n int64) []byte {
	if n >= 0 {
		switch {
		case n <= 127:
			return append(b, byte(n))
		case n <= 0xff:
			return append(b, 0xcc, byte(n))
		case n <= 0xffff:
			return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
		case n <= 0xffffffff:
			return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	}
	switch {
	case n >= -32:
		return append(b, byte(int8(n)))
	case n >= -128:
		return append(b, 0xd0, byte(int8(n)))
	case n >= -32768:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(n)))
	case n >= -2147483648:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

type mpCursor struct {
	p     []byte
	err   int // 0, mpEOF, mpBadFmt
	depth int
	pad   int // nil slots gopher-lua's arrays grew by for sparse keys
}

// msgpackMaxPadding bounds the nil slots an unpack may make gopher-lua
// allocate: a table's array part grows up to an integer key, so a map
// with the key 60000000 would cost a gigabyte for a few bytes of input.
const msgpackMaxPadding = 1 << 22

const (
	mpEOF = iota + 1
	mpBadFmt
)

func (c *mpCursor) need(n int) bool {
	if len(c.p) < n {
		c.err = mpEOF
		return false
	}
	return true
}

func (st *State) mpUnpack(L *glua.LState, limit, offset int64) int {
	s := L.CheckString(1)
	decodeAll := limit == 0 && offset == 0
	if offset < 0 || limit < 0 {
		raisef(L, "Invalid request to unpack with offset of %d and limit of %d.", int32(offset), int32(len(s)))
	}
	if offset > int64(len(s)) {
		raisef(L, "Start offset %d greater than input length %d.", int32(offset), int32(len(s)))
	}
	if decodeAll {
		limit = math.MaxInt32
	}
	c := &mpCursor{p: []byte(s[offset:])}
	var vals []glua.LValue
	for cnt := int64(0); len(c.p) > 0 && cnt < limit; cnt++ {
		v := st.mpDecode(L, c)
		switch c.err {
		case mpEOF:
			raisef(L, "Missing bytes in input.")
		case mpBadFmt:
			raisef(L, "Bad data format in input.")
		}
		if len(vals) >= 8000 {
			raisef(L, "too many return values at once; use unpack_one or unpack_limit instead.")
		}
		vals = append(vals, v)
	}
	if !decodeAll {
		next := int64(-1)
		if len(c.p) > 0 {
			next = int64(len(s)) - int64(len(c.p))
		}
		L.Push(glua.LNumber(next))
	}
	for _, v := range vals {
		L.Push(v)
	}
	if !decodeAll {
		return len(vals) + 1
	}
	return len(vals)
}

func (st *State) mpDecode(L *glua.LState, c *mpCursor) glua.LValue {
	if !c.need(1) {
		return glua.LNil
	}
	p := c.p
	t := p[0]
	num := func(size int, v float64) glua.LValue {
		if !c.need(size) {
			return glua.LNil
		}
		c.p = c.p[size:]
		return glua.LNumber(v)
	}
	str := func(hdr, n int) glua.LValue {
		if !c.need(hdr + n) {
			return glua.LNil
		}
		s := glua.LString(c.p[hdr : hdr+n])
		c.p = c.p[hdr+n:]
		return s
	}
	be16 := func() int { return int(p[1])<<8 | int(p[2]) }
	be32 := func() int { return int(binary.BigEndian.Uint32(p[1:5])) }
	switch {
	case t == 0xcc:
		if !c.need(2) {
			return glua.LNil
		}
		return num(2, float64(p[1]))
	case t == 0xd0:
		if !c.need(2) {
			return glua.LNil
		}
		return num(2, float64(int8(p[1])))
	case t == 0xcd:
		if !c.need(3) {
			return glua.LNil
		}
		return num(3, float64(be16()))
	case t == 0xd1:
		if !c.need(3) {
			return glua.LNil
		}
		return num(3, float64(int16(be16())))
	case t == 0xce:
		if !c.need(5) {
			return glua.LNil
		}
		return num(5, float64(uint32(be32())))
	case t == 0xd2:
		if !c.need(5) {
			return glua.LNil
		}
		return num(5, float64(int32(uint32(be32()))))
	case t == 0xcf:
		if !c.need(9) {
			return glua.LNil
		}
		return num(9, float64(binary.BigEndian.Uint64(p[1:9])))
	case t == 0xd3:
		if !c.need(9) {
			return glua.LNil
		}
		return num(9, float64(int64(binary.BigEndian.Uint64(p[1:9]))))
	case t == 0xc0:
		c.p = c.p[1:]
		return glua.LNil
	case t == 0xc3:
		c.p = c.p[1:]
		return glua.LTrue
	case t == 0xc2:
		c.p = c.p[1:]
		return glua.LFalse
	case t == 0xca:
		if !c.need(5) {
			return glua.LNil
		}
		return num(5, float64(math.Float32frombits(binary.BigEndian.Uint32(p[1:5]))))
	case t == 0xcb:
		if !c.need(9) {
			return glua.LNil
		}
		return num(9, math.Float64frombits(binary.BigEndian.Uint64(p[1:9])))
	case t == 0xd9:
		if !c.need(2) {
			return glua.LNil
		}
		return str(2, int(p[1]))
	case t == 0xda:
		if !c.need(3) {
			return glua.LNil
		}
		return str(3, be16())
	case t == 0xdb:
		if !c.need(5) {
			return glua.LNil
		}
		return str(5, be32())
	case t == 0xdc, t == 0xde:
		if !c.need(3) {
			return glua.LNil
		}
		n := be16()
		c.p = c.p[3:]
		return st.mpAggregate(L, c, n, t == 0xde)
	case t == 0xdd, t == 0xdf:
		if !c.need(5) {
			return glua.LNil
		}
		n := be32()
		c.p = c.p[5:]
		return st.mpAggregate(L, c, n, t == 0xdf)
	case t&0x80 == 0:
		c.p = c.p[1:]
		return glua.LNumber(t)
	case t&0xe0 == 0xe0:
		c.p = c.p[1:]
		return glua.LNumber(int8(t))
	case t&0xe0 == 0xa0:
		return str(1, int(t&0x1f))
	case t&0xf0 == 0x90:
		c.p = c.p[1:]
		return st.mpAggregate(L, c, int(t&0xf), false)
	case t&0xf0 == 0x80:
		c.p = c.p[1:]
		return st.mpAggregate(L, c, int(t&0xf), true)
	}
	c.err = mpBadFmt
	return glua.LNil
}

func (st *State) mpAggregate(L *glua.LState, c *mpCursor, n int, isMap bool) glua.LValue {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > msgpackMaxDecodeDepth {
		c.err = mpBadFmt
		return glua.LNil
	}
	// Every element takes at least one byte: a count beyond the input
	// is missing bytes, found before allocating for it.
	per := 1
	if isMap {
		per = 2
	}
	if n > len(c.p)/per+1 {
		c.err = mpEOF
		return glua.LNil
	}
	t := L.NewTable()
	maxKey := 0
	for i := 1; i <= n; i++ {
		if isMap {
			k := st.mpDecode(L, c)
			if c.err != 0 {
				return t
			}
			v := st.mpDecode(L, c)
			if c.err != 0 {
				return t
			}
			if num, ok := k.(glua.LNumber); ok {
				f := float64(num)
				if f >= 1 && f < float64(glua.MaxArrayIndex) && math.Floor(f) == f {
					if int(f) > maxKey+1 {
						c.pad += int(f) - maxKey - 1
						if c.pad > msgpackMaxPadding {
							c.err = mpBadFmt
							return t
						}
					}
					maxKey = max(maxKey, int(f))
				}
			}
			if k != glua.LNil {
				t.RawSet(k, v)
			}
			continue
		}
		v := st.mpDecode(L, c)
		if c.err != 0 {
			return t
		}
		t.RawSetInt(i, v)
	}
	return t
}
