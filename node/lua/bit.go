package lua

import (
	"math"

	glua "github.com/yuin/gopher-lua"
)

// The bit library (LuaBitOp 1.0 as bundled with Redis): 32-bit integer
// operations on Lua numbers, results as signed 32-bit values.

func openBit(st *State, g *glua.LTable) {
	L := st.L
	t := L.NewTable()
	fns := map[string]glua.LGFunction{
		"tobit": func(L *glua.LState) int { return pushBit(L, bitArg(L, 1)) },
		"bnot":  func(L *glua.LState) int { return pushBit(L, ^bitArg(L, 1)) },
		"band":  bitFold(func(a, b uint32) uint32 { return a & b }),
		"bor":   bitFold(func(a, b uint32) uint32 { return a | b }),
		"bxor":  bitFold(func(a, b uint32) uint32 { return a ^ b }),
		"lshift": func(L *glua.LState) int {
			return pushBit(L, bitArg(L, 1)<<(bitArg(L, 2)&31))
		},
		"rshift": func(L *glua.LState) int {
			return pushBit(L, bitArg(L, 1)>>(bitArg(L, 2)&31))
		},
		"arshift": func(L *glua.LState) int {
			return pushBit(L, uint32(int32(bitArg(L, 1))>>(bitArg(L, 2)&31)))
		},
		"rol": func(L *glua.LState) int {
			b, n := bitArg(L, 1), bitArg(L, 2)&31
			return pushBit(L, b<<n|b>>((32-n)&31))
		},
		"ror": func(L *glua.LState) int {
			b, n := bitArg(L, 1), bitArg(L, 2)&31
			return pushBit(L, b>>n|b<<((32-n)&31))
		},
		"bswap": func(L *glua.LState) int {
			b := bitArg(L, 1)
			return pushBit(L, b>>24|(b>>8)&0xff00|(b&0xff00)<<8|b<<24)
		},
		"tohex": func(L *glua.LState) int {
			b := bitArg(L, 1)
			n := int32(8)
			if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
				n = int32(bitArg(L, 2))
			}
			hexdigits := "0123456789abcdef"
			if n < 0 {
				n = -n
				hexdigits = "0123456789ABCDEF"
			}
			if n > 8 {
				n = 8
			}
			buf := make([]byte, n)
			for i := int(n) - 1; i >= 0; i-- {
				buf[i] = hexdigits[b&15]
				b >>= 4
			}
			L.Push(glua.LString(buf))
			return 1
		},
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	g.RawSetString("bit", t)
}

// bitArg converts argument i as LuaBitOp's barg: rounded to an integer
// and taken modulo 2^32.
func bitArg(L *glua.LState, i int) uint32 {
	f := checkNumber(L, i)
	return toBit(f)
}

func toBit(f float64) uint32 {
	// LuaBitOp adds 2^52+2^51 and keeps the low word: round half to
	// even, then modulo 2^32.
	r := math.RoundToEven(f)
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return 0
	}
	m := math.Mod(r, 4294967296)
	if m < 0 {
		m += 4294967296
	}
	return uint32(m)
}

func pushBit(L *glua.LState, b uint32) int {
	L.Push(glua.LNumber(float64(int32(b))))
	return 1
}

func bitFold(op func(a, b uint32) uint32) glua.LGFunction {
	return func(L *glua.LState) int {
		b := bitArg(L, 1)
		for i := L.GetTop(); i > 1; i-- {
			b = op(b, bitArg(L, i))
		}
		return pushBit(L, b)
	}
}
