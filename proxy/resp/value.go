package resp

import "strconv"

// Value is one decoded reply. Raw is the whole encoding of the value
// (header, payload and elements) as it appeared on the wire, so merged
// replies can copy elements through without re-encoding them. Str and
// Elems alias the buffer that was parsed.
type Value struct {
	Type  byte    // the RESP type byte: + - : $ * _ , # ! = ( % ~ > |
	Raw   []byte  // the whole encoded value
	Str   []byte  // payload of simple, error, bulk, verbatim, double, bignum
	Int   int64   // ':' value, or the length of an aggregate
	Null  bool    // $-1, *-1 or _
	Elems []Value // aggregate elements; a map's keys and values alternate
}

// IsError reports whether v is an error reply.
func (v *Value) IsError() bool { return v.Type == '-' || v.Type == '!' }

// IsAggregate reports whether v is an array, set, map or push.
func (v *Value) IsAggregate() bool {
	switch v.Type {
	case '*', '~', '%', '>':
		return true
	}
	return false
}

// Integer returns the value as an integer if it is one (':' or a
// numeric bulk/simple string).
func (v *Value) Integer() (int64, bool) {
	if v.Type == ':' {
		return v.Int, true
	}
	if v.Type == '$' || v.Type == '+' {
		return ParseInt(v.Str)
	}
	return 0, false
}

// Parse decodes the first complete reply in b. It returns the value, its
// length, and 0 with no error when b holds only part of a reply.
// Attributes are skipped: the value returned is the reply they annotate,
// with Raw covering both.
func Parse(b []byte) (Value, int, error) {
	n, err := Scan(b)
	if err != nil || n == 0 {
		return Value{}, 0, err
	}
	v, _, err := parse(b[:n], 0, 0)
	if err != nil {
		return Value{}, 0, err
	}
	return v, n, nil
}

// maxDepth bounds nesting in Parse, whose recursion would otherwise let a
// hostile reply grow the goroutine's stack without limit.
const maxDepth = 256

// parse decodes a value known (by Scan) to be complete, starting at i.
func parse(b []byte, i, depth int) (Value, int, error) {
	if depth > maxDepth {
		return Value{}, 0, protoErr("nesting too deep")
	}
	start := i
	t := b[i]
	lineEnd := i
	for b[lineEnd] != '\n' {
		lineEnd++
	}
	line := b[i+1 : lineEnd-1]
	next := lineEnd + 1
	v := Value{Type: t}
	switch t {
	case '+', '-', ',', '(', '#':
		v.Str = line
	case ':':
		n, ok := ParseInt(line)
		if !ok {
			return v, 0, protoErr("bad integer")
		}
		v.Int = n
	case '_':
		v.Null = true
	case '$', '!', '=':
		n, _ := ParseInt(line)
		if n < 0 {
			v.Null = true
		} else {
			v.Str = b[next : next+int(n)]
			next += int(n) + 2
		}
	case '*', '~', '>', '%', '|':
		n, _ := ParseInt(line)
		if n < 0 {
			v.Null = true
			break
		}
		v.Int = n
		count := int(n)
		if t == '%' || t == '|' {
			count *= 2
		}
		v.Elems = make([]Value, 0, count)
		for j := 0; j < count; j++ {
			e, end, err := parse(b, next, depth+1)
			if err != nil {
				return v, 0, err
			}
			v.Elems = append(v.Elems, e)
			next = end
		}
		if t == '|' {
			inner, end, err := parse(b, next, depth+1)
			if err != nil {
				return v, 0, err
			}
			inner.Raw = b[start:end]
			return inner, end, nil
		}
	}
	v.Raw = b[start:next]
	return v, next, nil
}

// String renders v for errors and tests.
func (v *Value) String() string {
	switch v.Type {
	case ':':
		return strconv.FormatInt(v.Int, 10)
	case '_':
		return "(nil)"
	}
	if v.Null {
		return "(nil)"
	}
	if v.IsAggregate() {
		s := "["
		for i := range v.Elems {
			if i > 0 {
				s += " "
			}
			s += v.Elems[i].String()
		}
		return s + "]"
	}
	return string(v.Str)
}
