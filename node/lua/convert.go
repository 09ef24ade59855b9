package lua

import (
	"bytes"
	"math"
	"strconv"

	glua "github.com/yuin/gopher-lua"
)

// ReplyWriter receives the reply a script returns. The engine's client
// implements it, so the reply takes the client's protocol (RESP2 or
// RESP3) as Redis's luaReplyToRedisReply does.
type ReplyWriter interface {
	BulkString(s string)
	Status(s string)
	Int(n int64)
	Null()
	Bool(v bool)
	Double(f float64)
	BigNum(s string)
	Verbatim(s, format string)
	ArrayLen(n int)
	MapLen(n int)
	SetLen(n int)
	// ScriptError replies an error: msg is the whole message with its
	// code ("ERR ...", "-CODE msg" as Redis builds it); countStats is
	// false when the command that produced it already counted it.
	ScriptError(msg string, countStats bool)
}

// maxReplyDepth is how deep a returned table may nest before the reply
// gives up with "reached lua stack limit" (Redis runs out of Lua stack
// at this depth).
const maxReplyDepth = 7995

// writeReply converts v into a reply, as Redis's luaReplyToRedisReply:
// raw reads only (metatables are ignored), arrays stop at the first nil,
// the resp the script selected decides how booleans go out.
func (st *State) writeReply(w ReplyWriter, v glua.LValue, scriptResp int, depth int) {
	if depth >= maxReplyDepth {
		w.ScriptError("-ERR reached lua stack limit", true)
		return
	}
	switch v := v.(type) {
	case glua.LString:
		w.BulkString(string(v))
	case glua.LBool:
		if scriptResp == 2 {
			if v {
				w.Int(1)
			} else {
				w.Null()
			}
		} else {
			w.Bool(bool(v))
		}
	case glua.LNumber:
		w.Int(cInteger(float64(v)))
	case *glua.LTable:
		v = st.underlying(v)
		if e, ok := v.RawGetString("err").(glua.LString); ok {
			ignore := false
			if b, ok := v.RawGetString("ignore_error_stats_update").(glua.LBool); ok {
				ignore = bool(b)
			}
			w.ScriptError("-"+string(e), !ignore)
			return
		}
		if s, ok := v.RawGetString("ok").(glua.LString); ok {
			w.Status(string(mapCRLF([]byte(s))))
			return
		}
		if d, ok := v.RawGetString("double").(glua.LNumber); ok {
			w.Double(float64(d))
			return
		}
		if s, ok := v.RawGetString("big_number").(glua.LString); ok {
			w.BigNum(string(mapCRLF([]byte(s))))
			return
		}
		if vt, ok := v.RawGetString("verbatim_string").(*glua.LTable); ok {
			vt = st.underlying(vt)
			if f, ok := vt.RawGetString("format").(glua.LString); ok {
				if s, ok := vt.RawGetString("string").(glua.LString); ok {
					w.Verbatim(string(s), string(f))
					return
				}
			}
		}
		if m, ok := v.RawGetString("map").(*glua.LTable); ok {
			m = st.underlying(m)
			n := 0
			forEach(m, func(_, _ glua.LValue) { n++ })
			w.MapLen(n)
			forEach(m, func(k, val glua.LValue) {
				st.writeReply(w, k, scriptResp, depth+1)
				st.writeReply(w, val, scriptResp, depth+1)
			})
			return
		}
		if s, ok := v.RawGetString("set").(*glua.LTable); ok {
			s = st.underlying(s)
			n := 0
			forEach(s, func(_, _ glua.LValue) { n++ })
			w.SetLen(n)
			forEach(s, func(k, _ glua.LValue) {
				st.writeReply(w, k, scriptResp, depth+1)
			})
			return
		}
		n := 0
		for v.RawGetInt(n+1) != glua.LNil {
			n++
		}
		w.ArrayLen(n)
		for i := 1; i <= n; i++ {
			st.writeReply(w, v.RawGetInt(i), scriptResp, depth+1)
		}
	default:
		w.Null()
	}
}

// mapCRLF replaces CR and LF so a status cannot break the protocol.
func mapCRLF(b []byte) []byte {
	if bytes.IndexAny(b, "\r\n") < 0 {
		return b
	}
	out := append([]byte(nil), b...)
	for i, c := range out {
		if c == '\r' || c == '\n' {
			out[i] = ' '
		}
	}
	return out
}

// parseReply converts a command's RESP reply into the Lua value Redis's
// redisProtocolToLuaType builds, reporting whether it was an error.
func (st *State) parseReply(b []byte) (glua.LValue, bool) {
	p := respParser{st: st, b: b}
	isErr := len(b) > 0 && b[0] == '-'
	v := p.value()
	return v, isErr
}

type respParser struct {
	st  *State
	b   []byte
	pos int
}

func (p *respParser) line() []byte {
	i := bytes.Index(p.b[p.pos:], []byte("\r\n"))
	if i < 0 {
		l := p.b[p.pos:]
		p.pos = len(p.b)
		return l
	}
	l := p.b[p.pos : p.pos+i]
	p.pos += i + 2
	return l
}

func (p *respParser) length(l []byte) int {
	n, _ := strconv.Atoi(string(l))
	return n
}

func (p *respParser) value() glua.LValue {
	if p.pos >= len(p.b) {
		return glua.LNil
	}
	L := p.st.L
	t := p.b[p.pos]
	p.pos++
	switch t {
	case ':':
		n, _ := strconv.ParseInt(string(p.line()), 10, 64)
		return glua.LNumber(float64(n))
	case '$':
		n := p.length(p.line())
		if n < 0 {
			return glua.LFalse
		}
		return glua.LString(p.bulk(n))
	case '+':
		tb := L.NewTable()
		tb.RawSetString("ok", glua.LString(p.line()))
		return tb
	case '-':
		return p.st.newErrorTable("-"+string(p.line()), true)
	case '*', '>':
		n := p.length(p.line())
		if n < 0 {
			return glua.LFalse
		}
		tb := L.CreateTable(n, 0)
		for i := 1; i <= n; i++ {
			tb.RawSetInt(i, p.value())
		}
		return tb
	case '%':
		n := p.length(p.line())
		m := L.CreateTable(0, n)
		for i := 0; i < n; i++ {
			k := p.value()
			v := p.value()
			if k != glua.LNil {
				m.RawSet(k, v)
			}
		}
		tb := L.NewTable()
		tb.RawSetString("map", m)
		return tb
	case '~':
		n := p.length(p.line())
		s := L.CreateTable(0, n)
		for i := 0; i < n; i++ {
			if k := p.value(); k != glua.LNil {
				s.RawSet(k, glua.LTrue)
			}
		}
		tb := L.NewTable()
		tb.RawSetString("set", s)
		return tb
	case '_':
		p.line()
		return glua.LNil
	case '#':
		return glua.LBool(string(p.line()) == "t")
	case ',':
		tb := L.NewTable()
		tb.RawSetString("double", glua.LNumber(parseRESPDouble(p.line())))
		return tb
	case '(':
		tb := L.NewTable()
		tb.RawSetString("big_number", glua.LString(p.line()))
		return tb
	case '=':
		n := p.length(p.line())
		body := p.bulk(n)
		format, str := "", body
		if len(body) >= 4 {
			format, str = body[:3], body[4:]
		}
		vt := L.NewTable()
		vt.RawSetString("string", glua.LString(str))
		vt.RawSetString("format", glua.LString(format))
		tb := L.NewTable()
		tb.RawSetString("verbatim_string", vt)
		return tb
	case '|':
		// Attributes are not shown to scripts: skip them, keep the reply.
		n := p.length(p.line())
		for i := 0; i < 2*n; i++ {
			p.value()
		}
		return p.value()
	}
	p.line()
	return glua.LNil
}

func (p *respParser) bulk(n int) string {
	end := p.pos + n
	if end > len(p.b) {
		end = len(p.b)
	}
	s := string(p.b[p.pos:end])
	p.pos = end + 2
	return s
}

func parseRESPDouble(b []byte) float64 {
	switch string(b) {
	case "inf", "+inf":
		return math.Inf(1)
	case "-inf":
		return math.Inf(-1)
	case "nan", "-nan":
		return math.NaN()
	}
	f, _ := strconv.ParseFloat(string(b), 64)
	return f
}
