package lua

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
)

// gopher-lua words its runtime errors differently from Lua 5.1 ("attempt
// to call a non-function object" where Lua says "attempt to call field
// 'x' (a nil value)"), and scripts and tests match on Lua's words. The
// rewriter finds the failing instruction of the innermost Lua frame and
// names the culprit the way Lua 5.1's getobjname does: a local, a global,
// a field, a method or an upvalue.
//
// gopher-lua keeps a frame's program counter and registers unexported;
// they are read (never written) through reflection.

// luaFrame is the innermost Lua function frame at the time of an error.
type luaFrame struct {
	fn        *glua.LFunction
	pc        int // index of the failing instruction
	localBase int
	L         *glua.LState
}

// innermostLuaFrame finds the frame that raised (level 1 from the error
// handler, or 2 when a Go builtin raised).
func innermostLuaFrame(L *glua.LState) (*luaFrame, bool) {
	for level := 1; level <= 2; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			return nil, false
		}
		fv, err := L.GetInfo("f", dbg, glua.LNil)
		if err != nil {
			return nil, false
		}
		fn, ok := fv.(*glua.LFunction)
		if !ok || fn.IsG {
			continue
		}
		frame := reflect.ValueOf(dbg).Elem().FieldByName("frame")
		if !frame.IsValid() || frame.IsNil() {
			return nil, false
		}
		pc := int(frame.Elem().FieldByName("Pc").Int()) - 1
		lbase := int(frame.Elem().FieldByName("LocalBase").Int())
		if pc < 0 || pc >= len(fn.Proto.Code) {
			return nil, false
		}
		return &luaFrame{fn: fn, pc: pc, localBase: lbase, L: L}, true
	}
	return nil, false
}

// register reads R(i) of the frame.
func (f *luaFrame) register(i int) glua.LValue {
	reg := reflect.ValueOf(f.L).Elem().FieldByName("reg")
	if !reg.IsValid() || reg.IsNil() {
		return glua.LNil
	}
	arr := reg.Elem().FieldByName("array")
	idx := f.localBase + i
	if !arr.IsValid() || idx < 0 || idx >= arr.Len() {
		return glua.LNil
	}
	el := arr.Index(idx)
	v := *(*glua.LValue)(unsafe.Pointer(el.UnsafeAddr()))
	if v == nil {
		return glua.LNil
	}
	return v
}

// rk reads RK(x): a constant or a register.
func (f *luaFrame) rk(x int) (glua.LValue, bool) {
	if x&opBitRK != 0 {
		k := x &^ opBitRK
		if k < len(f.fn.Proto.Constants) {
			return f.fn.Proto.Constants[k], true
		}
		return glua.LNil, true
	}
	return f.register(x), false
}

// Instruction layout of gopher-lua's bytecode.
const opBitRK = 1 << 8

func opCode(i uint32) int { return int(i >> 26) }
func argA(i uint32) int   { return int(i>>18) & 0xff }
func argB(i uint32) int   { return int(i & 0x1ff) }
func argC(i uint32) int   { return int(i>>9) & 0x1ff }
func argBx(i uint32) int  { return int(i & 0x3ffff) }

// objName is Lua 5.1's getobjname: what register reg holds at pc, as
// ("global", "x"), ("local", "x"), ("field", "x"), ("method", "x"),
// ("upvalue", "x"), or ("", "") when it has no name.
func (f *luaFrame) objName(reg, pc, depth int) (string, string) {
	p := f.fn.Proto
	if name, ok := localName(p, reg, pc); ok {
		return "local", name
	}
	if depth > 8 {
		return "", ""
	}
	// The last instruction before pc that wrote reg.
	for i := pc - 1; i >= 0; i-- {
		ins := p.Code[i]
		op := opCode(ins)
		a := argA(ins)
		switch op {
		case glua.OP_GETGLOBAL:
			if a == reg {
				if k := argBx(ins); k < len(p.Constants) {
					return "global", p.Constants[k].String()
				}
				return "", ""
			}
		case glua.OP_GETTABLE, glua.OP_GETTABLEKS:
			if a == reg {
				if c := argC(ins); c&opBitRK != 0 {
					if k, ok := p.Constants[c&^opBitRK].(glua.LString); ok {
						return "field", string(k)
					}
				}
				return "", ""
			}
		case glua.OP_SELF:
			if a == reg {
				if c := argC(ins); c&opBitRK != 0 {
					if k, ok := p.Constants[c&^opBitRK].(glua.LString); ok {
						return "method", string(k)
					}
				}
				return "", ""
			}
			if a+1 == reg {
				return f.objName(argB(ins), i, depth+1)
			}
		case glua.OP_GETUPVAL:
			if a == reg {
				if b := argB(ins); b < len(p.DbgUpvalues) {
					return "upvalue", p.DbgUpvalues[b]
				}
				return "", ""
			}
		case glua.OP_MOVE:
			if a == reg {
				if b := argB(ins); b < a {
					return f.objName(b, i, depth+1)
				}
				return "", ""
			}
		case glua.OP_LOADNIL:
			if a <= reg && reg <= argB(ins) {
				return "", ""
			}
		case glua.OP_CALL, glua.OP_TAILCALL, glua.OP_VARARG, glua.OP_TFORLOOP:
			if reg >= a {
				return "", ""
			}
		case glua.OP_JMP, glua.OP_EQ, glua.OP_LT, glua.OP_LE, glua.OP_TEST,
			glua.OP_SETGLOBAL, glua.OP_SETUPVAL, glua.OP_SETTABLE, glua.OP_SETTABLEKS,
			glua.OP_SETLIST, glua.OP_CLOSE, glua.OP_RETURN, glua.OP_NOP:
			// These write no register.
		default:
			if a == reg {
				return "", ""
			}
		}
	}
	return "", ""
}

// localName is Lua 5.1's luaF_getlocalname: the name of the reg-th
// active local variable at pc.
func localName(p *glua.FunctionProto, reg, pc int) (string, bool) {
	n := reg + 1
	for _, l := range p.DbgLocals {
		if l.StartPc > pc {
			break
		}
		if pc < l.EndPc {
			n--
			if n == 0 {
				return l.Name, true
			}
		}
	}
	return "", false
}

// typeError is Lua 5.1's luaG_typeerror text.
func (f *luaFrame) typeError(op string, reg int, v glua.LValue) string {
	kind, name := "", ""
	if reg >= 0 {
		kind, name = f.objName(reg, f.pc, 0)
	}
	t := typeName(v)
	if kind != "" {
		return fmt.Sprintf("attempt to %s %s '%s' (a %s value)", op, kind, name, t)
	}
	return fmt.Sprintf("attempt to %s a %s value", op, t)
}

// rewriteMessage turns gopher-lua's runtime error wording into Lua 5.1's,
// keeping the "chunk:line:" position prefix.
func (st *State) rewriteMessage(L *glua.LState, msg string) string {
	prefix, body := splitPosition(msg)
	var out string
	switch {
	case body == "attempt to call a non-function object",
		strings.HasPrefix(body, "attempt to index a non-table object("),
		strings.HasPrefix(body, "cannot perform "),
		body == "__unm undefined",
		body == "__len undefined":
		f, ok := innermostLuaFrame(L)
		if !ok {
			return msg
		}
		out = f.explain(body)
	case strings.HasPrefix(body, "attempt to compare "):
		// "attempt to compare X with Y" → "two X values" when equal.
		rest := strings.TrimPrefix(body, "attempt to compare ")
		if a, b, ok := strings.Cut(rest, " with "); ok && a == b {
			out = "attempt to compare two " + a + " values"
		}
	case strings.HasPrefix(body, "bad argument #"):
		out = quoteArgFunc(body)
	case body == "for statement init must be a number":
		out = "'for' initial value must be a number"
	case body == "for statement limit must be a number":
		out = "'for' limit must be a number"
	case body == "for statement step must be a number":
		out = "'for' step must be a number"
	}
	if out == "" {
		return msg
	}
	return prefix + out
}

// quoteArgFunc quotes the function name of gopher-lua's "bad argument
// #1 to name (...)" as luaL_argerror does: "to 'name'".
func quoteArgFunc(body string) string {
	rest := strings.TrimPrefix(body, "bad argument #")
	i := strings.Index(rest, " to ")
	if i < 0 {
		return ""
	}
	name := rest[i+4:]
	j := strings.Index(name, " (")
	if j < 0 || strings.HasPrefix(name, "'") {
		return ""
	}
	return "bad argument #" + rest[:i] + " to '" + name[:j] + "'" + name[j:]
}

// splitPosition splits "chunk:12: message" into its prefix and message.
func splitPosition(msg string) (string, string) {
	i := strings.Index(msg, ": ")
	if i < 0 {
		return "", msg
	}
	head := msg[:i]
	j := strings.LastIndexByte(head, ':')
	if j < 0 {
		return "", msg
	}
	for _, c := range head[j+1:] {
		if c < '0' || c > '9' {
			return "", msg
		}
	}
	return msg[:i+2], msg[i+2:]
}

// explain words the error of the failing instruction.
func (f *luaFrame) explain(body string) string {
	ins := f.fn.Proto.Code[f.pc]
	a, b, c := argA(ins), argB(ins), argC(ins)
	switch op := opCode(ins); op {
	case glua.OP_CALL, glua.OP_TAILCALL:
		return f.typeError("call", a, f.register(a))
	case glua.OP_GETTABLE, glua.OP_GETTABLEKS, glua.OP_SELF:
		return f.typeError("index", b, f.register(b))
	case glua.OP_SETTABLE, glua.OP_SETTABLEKS:
		return f.typeError("index", a, f.register(a))
	case glua.OP_ADD, glua.OP_SUB, glua.OP_MUL, glua.OP_DIV, glua.OP_MOD, glua.OP_POW:
		v, isK := f.rk(b)
		reg := b
		if isNumber(v) {
			v, isK = f.rk(c)
			reg = c
		}
		if isK {
			reg = -1
		}
		return f.typeError("perform arithmetic on", reg, v)
	case glua.OP_UNM:
		return f.typeError("perform arithmetic on", b, f.register(b))
	case glua.OP_LEN:
		return f.typeError("get length of", b, f.register(b))
	case glua.OP_CONCAT:
		for r := c; r >= b; r-- {
			v := f.register(r)
			switch v.(type) {
			case glua.LString, glua.LNumber:
				continue
			}
			return f.typeError("concatenate", r, v)
		}
	}
	return body
}
