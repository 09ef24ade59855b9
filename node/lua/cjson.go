package lua

import (
	"fmt"
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// The cjson library (Lua CJSON 2.1.0 as bundled with Redis): encode,
// decode and their settings, with CJSON's rules and error messages.

type cjsonConfig struct {
	sparseConvert  bool
	sparseRatio    int
	sparseSafe     int
	encodeMaxDepth int
	decodeMaxDepth int
	encodeInvalid  int // 0 off, 1 on, 2 null
	decodeInvalid  bool
	keepBuffer     bool
	precision      int
}

func defaultCJSONConfig() cjsonConfig {
	return cjsonConfig{
		sparseRatio:    2,
		sparseSafe:     10,
		encodeMaxDepth: 1000,
		decodeMaxDepth: 1000,
		decodeInvalid:  true,
		keepBuffer:     true,
		precision:      14,
	}
}

// cjsonNull is cjson.null: the NULL light userdata, one per interpreter so
// that comparisons with == hold.
func (st *State) cjsonNull() *glua.LUserData {
	if st.null == nil {
		st.null = st.L.NewUserData()
	}
	return st.null
}

func openCJSON(st *State, g *glua.LTable) {
	g.RawSetString("cjson", st.newCJSON(&st.cjson))
}

func (st *State) newCJSON(cfg *cjsonConfig) *glua.LTable {
	L := st.L
	t := L.NewTable()
	fns := map[string]glua.LGFunction{
		"encode": func(L *glua.LState) int {
			if L.GetTop() != 1 {
				L.ArgError(1, "expected 1 argument")
			}
			var b strings.Builder
			st.jsonAppend(L, cfg, &b, L.Get(1), 0)
			L.Push(glua.LString(b.String()))
			return 1
		},
		"decode": func(L *glua.LState) int {
			if L.GetTop() != 1 {
				L.ArgError(1, "expected 1 argument")
			}
			s := L.CheckString(1)
			L.Push(st.jsonDecode(L, cfg, s))
			return 1
		},
		"encode_sparse_array": func(L *glua.LState) int {
			jsonArgInit(L, 3)
			jsonBoolOption(L, 1, &cfg.sparseConvert)
			jsonIntOption(L, 2, &cfg.sparseRatio, 0, math.MaxInt32)
			jsonIntOption(L, 3, &cfg.sparseSafe, 0, math.MaxInt32)
			return 3
		},
		"encode_max_depth": func(L *glua.LState) int {
			jsonArgInit(L, 1)
			return jsonIntOption(L, 1, &cfg.encodeMaxDepth, 1, math.MaxInt32)
		},
		"decode_max_depth": func(L *glua.LState) int {
			jsonArgInit(L, 1)
			return jsonIntOption(L, 1, &cfg.decodeMaxDepth, 1, math.MaxInt32)
		},
		"encode_number_precision": func(L *glua.LState) int {
			jsonArgInit(L, 1)
			return jsonIntOption(L, 1, &cfg.precision, 1, 14)
		},
		"encode_keep_buffer": func(L *glua.LState) int {
			jsonArgInit(L, 1)
			return jsonBoolOption(L, 1, &cfg.keepBuffer)
		},
		"encode_invalid_numbers": func(L *glua.LState) int {
			jsonArgInit(L, 1)
			switch v := L.Get(1).(type) {
			case *glua.LNilType:
			case glua.LBool:
				cfg.encodeInvalid = 0
				if v {
					cfg.encodeInvalid = 1
				}
			default:
				opt := L.CheckString(1)
				switch opt {
				case "off":
					cfg.encodeInvalid = 0
				case "on":
					cfg.encodeInvalid = 1
				case "null":
					cfg.encodeInvalid = 2
				default:
					L.ArgError(1, "invalid option '"+opt+"'")
				}
			}
			if cfg.encodeInvalid == 2 {
				L.Push(glua.LString("null"))
			} else {
				L.Push(glua.LBool(cfg.encodeInvalid == 1))
			}
			return 1
		},
		"decode_invalid_numbers": func(L *glua.LState) int {
			jsonArgInit(L, 1)
			return jsonBoolOption(L, 1, &cfg.decodeInvalid)
		},
		"new": func(L *glua.LState) int {
			c := defaultCJSONConfig()
			L.Push(st.newCJSON(&c))
			return 1
		},
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	t.RawSetString("null", st.cjsonNull())
	t.RawSetString("_NAME", glua.LString("cjson"))
	t.RawSetString("_VERSION", glua.LString("2.1.0"))
	return t
}

func jsonArgInit(L *glua.LState, n int) {
	if L.GetTop() > n {
		L.ArgError(n+1, "found too many arguments")
	}
}

func jsonIntOption(L *glua.LState, i int, setting *int, lo, hi int) int {
	if v := L.Get(i); v != glua.LNil {
		n := int(cInteger(checkNumber(L, i)))
		if n < lo || n > hi {
			L.ArgError(1, fmt.Sprintf("expected integer between %d and %d", lo, hi))
		}
		*setting = n
	}
	L.Push(glua.LNumber(*setting))
	return 1
}

func jsonBoolOption(L *glua.LState, i int, setting *bool) int {
	switch v := L.Get(i).(type) {
	case *glua.LNilType:
	case glua.LBool:
		*setting = bool(v)
	default:
		opt := L.CheckString(i)
		switch opt {
		case "off":
			*setting = false
		case "on":
			*setting = true
		default:
			L.ArgError(i, "invalid option '"+opt+"'")
		}
	}
	L.Push(glua.LBool(*setting))
	return 1
}

// jsonEscape is CJSON's char2escape table.
var jsonEscape = func() (t [256]string) {
	for i := 0; i < 32; i++ {
		t[i] = fmt.Sprintf("\\u%04x", i)
	}
	t['\b'], t['\t'], t['\n'], t['\f'], t['\r'] = `\b`, `\t`, `\n`, `\f`, `\r`
	t['"'], t['/'], t['\\'], t[127] = `\"`, `\/`, `\\`, `\u007f`
	return t
}()

func jsonAppendString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if e := jsonEscape[s[i]]; e != "" {
			b.WriteString(e)
		} else {
			b.WriteByte(s[i])
		}
	}
	b.WriteByte('"')
}

func typeName(v glua.LValue) string {
	if _, ok := v.(*glua.LUserData); ok {
		return "userdata"
	}
	return v.Type().String()
}

func (st *State) jsonError(L *glua.LState, v glua.LValue, reason string) {
	raisef(L, "Cannot serialise %s: %s", typeName(v), reason)
}

func (st *State) jsonAppendNumber(L *glua.LState, cfg *cjsonConfig, b *strings.Builder, v glua.LValue, n float64) {
	switch cfg.encodeInvalid {
	case 0:
		if math.IsInf(n, 0) || math.IsNaN(n) {
			st.jsonError(L, v, "must not be NaN or Inf")
		}
	case 1:
		if math.IsNaN(n) {
			b.WriteString("nan")
			return
		}
	default:
		if math.IsInf(n, 0) || math.IsNaN(n) {
			b.WriteString("null")
			return
		}
	}
	b.WriteString(formatG(n, cfg.precision))
}

func (st *State) jsonAppend(L *glua.LState, cfg *cjsonConfig, b *strings.Builder, v glua.LValue, depth int) {
	if b.Len() > maxStringSize {
		raisef(L, "not enough memory")
	}
	switch v := v.(type) {
	case glua.LString:
		jsonAppendString(b, string(v))
	case glua.LNumber:
		st.jsonAppendNumber(L, cfg, b, v, float64(v))
	case glua.LBool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *glua.LNilType:
		b.WriteString("null")
	case *glua.LTable:
		depth++
		if depth > cfg.encodeMaxDepth {
			raisef(L, "Cannot serialise, excessive nesting (%d)", depth)
		}
		t := st.underlying(v)
		n := st.jsonArrayLength(L, cfg, t, v)
		if n > 0 {
			b.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				st.jsonAppend(L, cfg, b, t.RawGetInt(i), depth)
			}
			b.WriteByte(']')
			return
		}
		b.WriteByte('{')
		first := true
		key, val := t.Next(glua.LNil)
		for key != glua.LNil {
			if !first {
				b.WriteByte(',')
			}
			first = false
			switch k := key.(type) {
			case glua.LNumber:
				b.WriteByte('"')
				st.jsonAppendNumber(L, cfg, b, k, float64(k))
				b.WriteString(`":`)
			case glua.LString:
				jsonAppendString(b, string(k))
				b.WriteByte(':')
			default:
				st.jsonError(L, key, "table key must be a number or string")
			}
			st.jsonAppend(L, cfg, b, val, depth)
			key, val = t.Next(key)
		}
		b.WriteByte('}')
	case *glua.LUserData:
		if v == st.null {
			b.WriteString("null")
			return
		}
		st.jsonError(L, v, "type not supported")
	default:
		st.jsonError(L, v, "type not supported")
	}
}

// jsonArrayLength is CJSON's lua_array_length: the array size of a table
// whose keys are all positive integers, -1 for an object; excessively
// sparse arrays are an error (or an object with encode_sparse_array).
func (st *State) jsonArrayLength(L *glua.LState, cfg *cjsonConfig, t *glua.LTable, orig glua.LValue) int {
	max, items := 0, 0
	array := true
	forEach(t, func(k, _ glua.LValue) {
		if !array {
			return
		}
		if n, ok := k.(glua.LNumber); ok && n != 0 {
			f := float64(n)
			if math.Floor(f) == f && f >= 1 {
				if int(f) > max {
					max = int(f)
				}
				items++
				return
			}
		}
		array = false
	})
	if !array {
		return -1
	}
	if cfg.sparseRatio > 0 && max > items*cfg.sparseRatio && max > cfg.sparseSafe {
		if !cfg.sparseConvert {
			st.jsonError(L, orig, "excessively sparse array")
		}
		return -1
	}
	return max
}

type jsonParser struct {
	st    *State
	L     *glua.LState
	cfg   *cjsonConfig
	s     string
	pos   int
	depth int
}

type jsonTok struct {
	kind  int
	index int
	str   string
	num   float64
	b     bool
	err   string
}

const (
	tObjBegin = iota
	tObjEnd
	tArrBegin
	tArrEnd
	tString
	tNumber
	tBoolean
	tNull
	tColon
	tComma
	tEnd
	tWhitespace
	tError
	tUnknown
)

var jsonTokenNames = []string{"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING",
	"T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END", "T_WHITESPACE", "T_ERROR", "T_UNKNOWN"}

func (st *State) jsonDecode(L *glua.LState, cfg *cjsonConfig, s string) glua.LValue {
	if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
		raisef(L, "JSON parser does not support UTF-16 or UTF-32")
	}
	p := &jsonParser{st: st, L: L, cfg: cfg, s: s}
	tok := p.next()
	v := p.value(&tok)
	tok = p.next()
	if tok.kind != tEnd {
		p.fail("the end", &tok)
	}
	return v
}

func (p *jsonParser) at(i int) byte {
	if i < len(p.s) {
		return p.s[i]
	}
	return 0
}

func (p *jsonParser) fail(expected string, tok *jsonTok) {
	found := tok.err
	if tok.kind != tError {
		found = jsonTokenNames[tok.kind]
	}
	raisef(p.L, "Expected %s but found %s at character %d", expected, found, tok.index+1)
}

func (p *jsonParser) next() jsonTok {
	for {
		c := p.at(p.pos)
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			p.pos++
			continue
		}
		break
	}
	tok := jsonTok{index: p.pos}
	c := p.at(p.pos)
	switch c {
	case '{':
		tok.kind = tObjBegin
	case '}':
		tok.kind = tObjEnd
	case '[':
		tok.kind = tArrBegin
	case ']':
		tok.kind = tArrEnd
	case ',':
		tok.kind = tComma
	case ':':
		tok.kind = tColon
	case 0:
		tok.kind = tEnd
		return tok
	case '"':
		p.stringToken(&tok)
		return tok
	default:
		rest := p.s[min(p.pos, len(p.s)):]
		switch {
		case c == '-' || c >= '0' && c <= '9':
			if !p.cfg.decodeInvalid && p.invalidNumber() {
				p.tokError(&tok, "invalid number")
				return tok
			}
			p.numberToken(&tok)
		case strings.HasPrefix(rest, "true"):
			tok.kind, tok.b = tBoolean, true
			p.pos += 4
		case strings.HasPrefix(rest, "false"):
			tok.kind, tok.b = tBoolean, false
			p.pos += 5
		case strings.HasPrefix(rest, "null"):
			tok.kind = tNull
			p.pos += 4
		case strings.ContainsRune("iInN+", rune(c)) && p.cfg.decodeInvalid && p.invalidNumber():
			p.numberToken(&tok)
		default:
			p.tokError(&tok, "invalid token")
		}
		return tok
	}
	p.pos++
	return tok
}

func (p *jsonParser) tokError(tok *jsonTok, msg string) {
	tok.kind = tError
	tok.index = p.pos
	tok.err = msg
}

// invalidNumber is CJSON's json_is_invalid_number: strtod forms that
// strict JSON does not allow.
func (p *jsonParser) invalidNumber() bool {
	i := p.pos
	if p.at(i) == '+' {
		return true
	}
	if p.at(i) == '-' {
		i++
	}
	if p.at(i) == '0' {
		c2 := p.at(i + 1)
		return c2|0x20 == 'x' || c2 >= '0' && c2 <= '9'
	} else if p.at(i) <= '9' {
		return false
	}
	rest := strings.ToLower(p.s[i:min(len(p.s), i+3)])
	return rest == "inf" || rest == "nan"
}

func (p *jsonParser) numberToken(tok *jsonTok) {
	v, n := strtod(p.s[p.pos:])
	if n == 0 {
		p.tokError(tok, "invalid number")
		return
	}
	tok.kind, tok.num = tNumber, v
	p.pos += n
}

func (p *jsonParser) stringToken(tok *jsonTok) {
	p.pos++
	var b strings.Builder
	for {
		c := p.at(p.pos)
		if c == '"' {
			break
		}
		if c == 0 && p.pos >= len(p.s) || c == 0 {
			p.tokError(tok, "unexpected end of string")
			return
		}
		if c == '\\' {
			e := p.at(p.pos + 1)
			var out byte
			switch e {
			case '"', '\\', '/':
				out = e
			case 'b':
				out = '\b'
			case 't':
				out = '\t'
			case 'n':
				out = '\n'
			case 'f':
				out = '\f'
			case 'r':
				out = '\r'
			case 'u':
				if !p.unicodeEscape(&b) {
					p.tokError(tok, "invalid unicode escape code")
					return
				}
				continue
			default:
				p.tokError(tok, "invalid escape code")
				return
			}
			b.WriteByte(out)
			p.pos += 2
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	p.pos++
	tok.kind, tok.str = tString, b.String()
}

func (p *jsonParser) hex4(i int) int {
	v := 0
	for k := 0; k < 4; k++ {
		c := p.at(i + k)
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			d = int(c|0x20-'a') + 10
		default:
			return -1
		}
		v = v<<4 | d
	}
	return v
}

func (p *jsonParser) unicodeEscape(b *strings.Builder) bool {
	cp := p.hex4(p.pos + 2)
	if cp < 0 {
		return false
	}
	escLen := 6
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 {
			return false
		}
		if p.at(p.pos+6) != '\\' || p.at(p.pos+7) != 'u' {
			return false
		}
		low := p.hex4(p.pos + 8)
		if low < 0 || low&0xFC00 != 0xDC00 {
			return false
		}
		cp = ((cp&0x3FF)<<10 | low&0x3FF) + 0x10000
		escLen = 12
	}
	switch {
	case cp <= 0x7F:
		b.WriteByte(byte(cp))
	case cp <= 0x7FF:
		b.WriteByte(byte(cp>>6 | 0xC0))
		b.WriteByte(byte(cp&0x3F | 0x80))
	case cp <= 0xFFFF:
		b.WriteByte(byte(cp>>12 | 0xE0))
		b.WriteByte(byte(cp>>6&0x3F | 0x80))
		b.WriteByte(byte(cp&0x3F | 0x80))
	default:
		b.WriteByte(byte(cp>>18 | 0xF0))
		b.WriteByte(byte(cp>>12&0x3F | 0x80))
		b.WriteByte(byte(cp>>6&0x3F | 0x80))
		b.WriteByte(byte(cp&0x3F | 0x80))
	}
	p.pos += escLen
	return true
}

func (p *jsonParser) descend() {
	p.depth++
	if p.depth > p.cfg.decodeMaxDepth {
		raisef(p.L, "Found too many nested data structures (%d) at character %d", p.depth, p.pos)
	}
}

func (p *jsonParser) value(tok *jsonTok) glua.LValue {
	L := p.L
	switch tok.kind {
	case tString:
		return glua.LString(tok.str)
	case tNumber:
		return glua.LNumber(tok.num)
	case tBoolean:
		return glua.LBool(tok.b)
	case tNull:
		return p.st.cjsonNull()
	case tObjBegin:
		p.descend()
		t := L.NewTable()
		next := p.next()
		if next.kind == tObjEnd {
			p.depth--
			return t
		}
		for {
			if next.kind != tString {
				p.fail("object key string", &next)
			}
			key := next.str
			next = p.next()
			if next.kind != tColon {
				p.fail("colon", &next)
			}
			next = p.next()
			t.RawSetString(key, p.value(&next))
			next = p.next()
			if next.kind == tObjEnd {
				p.depth--
				return t
			}
			if next.kind != tComma {
				p.fail("comma or object end", &next)
			}
			next = p.next()
		}
	case tArrBegin:
		p.descend()
		t := L.NewTable()
		next := p.next()
		if next.kind == tArrEnd {
			p.depth--
			return t
		}
		for i := 1; ; i++ {
			t.RawSetInt(i, p.value(&next))
			next = p.next()
			if next.kind == tArrEnd {
				p.depth--
				return t
			}
			if next.kind != tComma {
				p.fail("comma or array end", &next)
			}
			next = p.next()
		}
	}
	p.fail("value", tok)
	return glua.LNil
}
