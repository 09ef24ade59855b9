package lua

import (
	"encoding/binary"
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// The struct library (Roberto Ierusalimschy's lua-struct as bundled with
// Redis): pack, unpack and size with the sizes and alignment of x86-64
// Linux, where Redis runs (short 2, int 4, long and size_t 8, native
// little endian, maximum alignment 8).

const (
	structMaxIntSize = 32
	structMaxAlign   = 8
)

func openStruct(st *State, g *glua.LTable) {
	L := st.L
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(structPack))
	t.RawSetString("unpack", L.NewFunction(structUnpack))
	t.RawSetString("size", L.NewFunction(structSize))
	g.RawSetString("struct", t)
}

type structHeader struct {
	little bool
	align  int
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

type structFmt struct {
	L   *glua.LState
	s   string
	pos int
}

func (f *structFmt) more() bool { return f.pos < len(f.s) && f.s[f.pos] != 0 }

func (f *structFmt) next() byte {
	c := f.s[f.pos]
	f.pos++
	return c
}

func (f *structFmt) num(def int) int {
	if f.pos >= len(f.s) || !isDigit(f.s[f.pos]) {
		return def
	}
	a := 0
	for f.pos < len(f.s) && isDigit(f.s[f.pos]) {
		d := int(f.s[f.pos] - '0')
		if a > math.MaxInt32/10 || a*10 > math.MaxInt32-d {
			raisef(f.L, "integral size overflow")
		}
		a = a*10 + d
		f.pos++
	}
	return a
}

func (f *structFmt) optSize(opt byte) int {
	switch opt {
	case 'B', 'b':
		return 1
	case 'H', 'h':
		return 2
	case 'L', 'l', 'T', 'd':
		return 8
	case 'f':
		return 4
	case 'x':
		return 1
	case 'c':
		return f.num(1)
	case 'i', 'I':
		sz := f.num(4)
		if sz > structMaxIntSize {
			raisef(f.L, "integral size %d is larger than limit of %d", sz, structMaxIntSize)
		}
		return sz
	}
	return 0
}

func toAlign(length int, h *structHeader, opt byte, size int) int {
	if size == 0 || opt == 'c' {
		return 0
	}
	if size > h.align {
		size = h.align
	}
	return (size - (length & (size - 1))) & (size - 1)
}

func (f *structFmt) control(opt byte, h *structHeader) {
	switch opt {
	case ' ':
	case '>':
		h.little = false
	case '<':
		h.little = true
	case '!':
		a := f.num(structMaxAlign)
		if a <= 0 || a&(a-1) != 0 {
			raisef(f.L, "alignment %d is not a power of 2", a)
		}
		h.align = a
	default:
		f.L.ArgError(1, "invalid format option '"+string(opt)+"'")
	}
}

func structPack(L *glua.LState) int {
	f := &structFmt{L: L, s: L.CheckString(1)}
	h := structHeader{little: true, align: 1}
	arg := 2
	var b []byte
	total := 0
	for f.more() {
		opt := f.next()
		size := f.optSize(opt)
		pad := toAlign(total, &h, opt, size)
		total += pad
		for ; pad > 0; pad-- {
			b = append(b, 0)
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			n := checkNumber(L, arg)
			arg++
			var v uint64
			if n < 0 {
				v = uint64(cInteger(n))
			} else if n >= 18446744073709551616.0 {
				v = 1 << 63
			} else {
				v = uint64(n)
			}
			buf := make([]byte, size)
			if h.little {
				for i := 0; i < size; i++ {
					buf[i] = byte(v)
					v >>= 8
				}
			} else {
				for i := size - 1; i >= 0; i-- {
					buf[i] = byte(v)
					v >>= 8
				}
			}
			b = append(b, buf...)
		case 'x':
			b = append(b, 0)
		case 'f':
			bits := math.Float32bits(float32(checkNumber(L, arg)))
			arg++
			if h.little {
				b = binary.LittleEndian.AppendUint32(b, bits)
			} else {
				b = binary.BigEndian.AppendUint32(b, bits)
			}
		case 'd':
			bits := math.Float64bits(checkNumber(L, arg))
			arg++
			if h.little {
				b = binary.LittleEndian.AppendUint64(b, bits)
			} else {
				b = binary.BigEndian.AppendUint64(b, bits)
			}
		case 'c', 's':
			s := L.CheckString(arg)
			arg++
			if size == 0 {
				size = len(s)
			}
			if len(s) < size {
				L.ArgError(arg, "string too short")
			}
			b = append(b, s[:size]...)
			if opt == 's' {
				b = append(b, 0)
				size++
			}
		default:
			f.control(opt, &h)
		}
		total += size
		if len(b) > maxStringSize {
			raisef(L, "not enough memory")
		}
	}
	L.Push(glua.LString(b))
	return 1
}

func structUnpack(L *glua.LState) int {
	f := &structFmt{L: L, s: L.CheckString(1)}
	data := L.CheckString(2)
	pos := 1
	if L.GetTop() >= 3 && L.Get(3) != glua.LNil {
		pos = int(cInteger(checkNumber(L, 3)))
	}
	if pos <= 0 {
		L.ArgError(3, "offset must be 1 or greater")
	}
	pos--
	h := structHeader{little: true, align: 1}
	var out []glua.LValue
	ld := len(data)
	for f.more() {
		opt := f.next()
		size := f.optSize(opt)
		pos += toAlign(pos, &h, opt, size)
		if !(size <= ld && pos <= ld-size) {
			L.ArgError(2, "data string too short")
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			var v uint64
			raw := data[pos : pos+size]
			if !h.little {
				for i := 0; i < size; i++ {
					v = v<<8 | uint64(raw[i])
				}
			} else {
				for i := size - 1; i >= 0; i-- {
					v = v<<8 | uint64(raw[i])
				}
			}
			if opt >= 'a' && opt <= 'z' {
				shift := uint(size*8 - 1)
				if shift < 64 {
					mask := ^uint64(0) << shift
					if v&mask != 0 {
						v |= mask
					}
				}
				out = append(out, glua.LNumber(float64(int64(v))))
			} else {
				out = append(out, glua.LNumber(float64(v)))
			}
		case 'x':
		case 'f':
			var bits uint32
			if h.little {
				bits = binary.LittleEndian.Uint32([]byte(data[pos : pos+4]))
			} else {
				bits = binary.BigEndian.Uint32([]byte(data[pos : pos+4]))
			}
			out = append(out, glua.LNumber(float64(math.Float32frombits(bits))))
		case 'd':
			var bits uint64
			if h.little {
				bits = binary.LittleEndian.Uint64([]byte(data[pos : pos+8]))
			} else {
				bits = binary.BigEndian.Uint64([]byte(data[pos : pos+8]))
			}
			out = append(out, glua.LNumber(math.Float64frombits(bits)))
		case 'c':
			if size == 0 {
				var prev glua.LValue = glua.LNil
				if len(out) > 0 {
					prev = out[len(out)-1]
				}
				if len(out) == 0 || !isNumber(prev) {
					raisef(L, "format 'c0' needs a previous size")
				}
				size = int(toNumber(prev))
				out = out[:len(out)-1]
				if !(size >= 0 && size <= ld && pos <= ld-size) {
					L.ArgError(2, "data string too short")
				}
			}
			out = append(out, glua.LString(data[pos:pos+size]))
		case 's':
			e := strings.IndexByte(data[pos:], 0)
			if e < 0 {
				raisef(L, "unfinished string in data")
			}
			size = e + 1
			out = append(out, glua.LString(data[pos:pos+e]))
		default:
			f.control(opt, &h)
		}
		pos += size
	}
	for _, v := range out {
		L.Push(v)
	}
	L.Push(glua.LNumber(pos + 1))
	return len(out) + 1
}

func structSize(L *glua.LState) int {
	f := &structFmt{L: L, s: L.CheckString(1)}
	h := structHeader{little: true, align: 1}
	pos := 0
	for f.more() {
		opt := f.next()
		size := f.optSize(opt)
		pos += toAlign(pos, &h, opt, size)
		if opt == 's' {
			L.ArgError(1, "option 's' has no fixed size")
		} else if opt == 'c' && size == 0 {
			L.ArgError(1, "option 'c0' has no fixed size")
		}
		if !(opt >= 'a' && opt <= 'z' || opt >= 'A' && opt <= 'Z' || isDigit(opt)) {
			f.control(opt, &h)
		}
		pos += size
	}
	L.Push(glua.LNumber(pos))
	return 1
}
