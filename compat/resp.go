package compat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Value is one RESP2 or RESP3 reply as it came off the wire. Type is the
// RESP type byte ('+', '-', ':', '$', '*', '_', ',', '#', '!', '=', '(',
// '%', '~', '>'). Str holds the line or payload text verbatim (an
// integer's digits as sent, not a parsed number), so Encode reproduces the
// wire bytes exactly. Null marks "$-1" and "*-1". Elems holds an
// aggregate's elements; a map's are key, value, key, value, ... Attr holds
// a RESP3 attribute ('|') that preceded the value.
type Value struct {
	Type  byte
	Str   string
	Null  bool
	Elems []Value
	Attr  *Value
}

// maxBulk bounds what the reader accepts so that a corrupt length from a
// server under test fails the comparison instead of exhausting memory.
const maxBulk = 512 << 20

// maxElems bounds an aggregate's declared length for the same reason.
const maxElems = 1 << 24

// ReadValue reads one complete reply.
func ReadValue(r *bufio.Reader) (Value, error) {
	return readValue(r, 0)
}

func readValue(r *bufio.Reader, depth int) (Value, error) {
	if depth > 64 {
		return Value{}, errors.New("resp: nesting deeper than 64")
	}
	line, err := readLine(r)
	if err != nil {
		return Value{}, err
	}
	if len(line) == 0 {
		return Value{}, errors.New("resp: empty line where a reply was expected")
	}
	v := Value{Type: line[0]}
	rest := line[1:]
	switch v.Type {
	case '+', '-', ':', ',', '(':
		v.Str = rest
	case '_':
		if rest != "" {
			return Value{}, fmt.Errorf("resp: null with payload %q", rest)
		}
	case '#':
		if rest != "t" && rest != "f" {
			return Value{}, fmt.Errorf("resp: bad boolean %q", rest)
		}
		v.Str = rest
	case '$', '!', '=':
		n, err := parseLen(rest, maxBulk)
		if err != nil {
			return Value{}, err
		}
		if n < 0 {
			if v.Type != '$' || n != -1 {
				return Value{}, fmt.Errorf("resp: bad length %q for type %q", rest, v.Type)
			}
			v.Null = true
			return v, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Value{}, fmt.Errorf("resp: reading %d-byte payload: %w", n, err)
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Value{}, errors.New("resp: payload not followed by CRLF")
		}
		v.Str = string(buf[:n])
	case '*', '%', '~', '>', '|':
		n, err := parseLen(rest, maxElems)
		if err != nil {
			return Value{}, err
		}
		if n < 0 {
			if v.Type != '*' || n != -1 {
				return Value{}, fmt.Errorf("resp: bad length %q for type %q", rest, v.Type)
			}
			v.Null = true
			return v, nil
		}
		if v.Type == '%' || v.Type == '|' {
			n *= 2
		}
		v.Elems = make([]Value, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			e, err := readValue(r, depth+1)
			if err != nil {
				return Value{}, err
			}
			v.Elems = append(v.Elems, e)
		}
		if v.Type == '|' {
			attr := v
			next, err := readValue(r, depth)
			if err != nil {
				return Value{}, err
			}
			next.Attr = &attr
			return next, nil
		}
	default:
		return Value{}, fmt.Errorf("resp: unknown type byte %q in line %q", v.Type, line)
	}
	return v, nil
}

func readLine(r *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, err := r.ReadSlice('\n')
		sb.Write(chunk)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) && sb.Len() < 1<<20 {
			continue
		}
		if err == io.EOF && sb.Len() > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	s := sb.String()
	if len(s) < 2 || s[len(s)-2] != '\r' {
		return "", fmt.Errorf("resp: line %q not terminated by CRLF", s)
	}
	return s[:len(s)-2], nil
}

// parseLen accepts only the canonical decimal form: a server that sent
// "$01" where Redis sends "$1" must not compare equal after re-encoding.
func parseLen(s string, limit int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("resp: bad length %q", s)
	}
	if n > limit || n < -1 {
		return 0, fmt.Errorf("resp: length %d out of range", n)
	}
	return n, nil
}

// Encode returns the wire form of v.
func (v Value) Encode() []byte { return v.appendTo(nil) }

func (v Value) appendTo(b []byte) []byte {
	if v.Attr != nil {
		b = v.Attr.appendTo(b)
	}
	b = append(b, v.Type)
	switch v.Type {
	case '+', '-', ':', ',', '(', '#':
		b = append(b, v.Str...)
	case '_':
	case '$', '!', '=':
		if v.Null {
			return append(b, "-1\r\n"...)
		}
		b = strconv.AppendInt(b, int64(len(v.Str)), 10)
		b = append(b, "\r\n"...)
		b = append(b, v.Str...)
	default:
		if v.Null {
			return append(b, "-1\r\n"...)
		}
		n := len(v.Elems)
		if v.Type == '%' || v.Type == '|' {
			n /= 2
		}
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, "\r\n"...)
		for _, e := range v.Elems {
			b = e.appendTo(b)
		}
		return b
	}
	return append(b, "\r\n"...)
}

// IsAggregate reports whether v has elements.
func (v Value) IsAggregate() bool {
	switch v.Type {
	case '*', '%', '~', '>', '|':
		return true
	}
	return false
}

// String renders v in redis-cli's style, one element per line, with the
// RESP type visible where redis-cli would hide it (so a status "OK" and a
// bulk "OK" read differently).
func (v Value) String() string {
	var sb strings.Builder
	v.render(&sb, "")
	return strings.TrimRight(sb.String(), "\n")
}

func (v Value) render(sb *strings.Builder, indent string) {
	if v.Attr != nil {
		sb.WriteString("(attribute) ")
		v.Attr.render(sb, indent)
	}
	switch v.Type {
	case '+':
		fmt.Fprintf(sb, "(status) %s\n", v.Str)
	case '-':
		fmt.Fprintf(sb, "(error) %s\n", v.Str)
	case ':':
		fmt.Fprintf(sb, "(integer) %s\n", v.Str)
	case ',':
		fmt.Fprintf(sb, "(double) %s\n", v.Str)
	case '(':
		fmt.Fprintf(sb, "(big number) %s\n", v.Str)
	case '#':
		fmt.Fprintf(sb, "(boolean) %s\n", v.Str)
	case '_':
		sb.WriteString("(null)\n")
	case '$', '!', '=':
		switch {
		case v.Null:
			sb.WriteString("(nil)\n")
		case v.Type == '!':
			fmt.Fprintf(sb, "(blob error) %q\n", v.Str)
		case v.Type == '=':
			fmt.Fprintf(sb, "(verbatim) %q\n", v.Str)
		default:
			fmt.Fprintf(sb, "%q\n", v.Str)
		}
	default:
		if v.Null {
			sb.WriteString("(nil array)\n")
			return
		}
		kind := map[byte]string{'*': "array", '%': "map", '~': "set", '>': "push", '|': "attribute"}[v.Type]
		if len(v.Elems) == 0 {
			fmt.Fprintf(sb, "(empty %s)\n", kind)
			return
		}
		// An array's first element sits on the caller's line, as in
		// redis-cli; other aggregates name their kind on that line.
		first := true
		if v.Type != '*' {
			fmt.Fprintf(sb, "(%s)\n", kind)
			first = false
		}
		step := 1
		if v.Type == '%' || v.Type == '|' {
			step = 2
		}
		for i := 0; i < len(v.Elems); i += step {
			if !first {
				sb.WriteString(indent)
			}
			first = false
			prefix := fmt.Sprintf("%d) ", i/step+1)
			sb.WriteString(prefix)
			inner := indent + strings.Repeat(" ", len(prefix))
			v.Elems[i].render(sb, inner)
			if step == 2 {
				sb.WriteString(inner + "=> ")
				v.Elems[i+1].render(sb, inner+"   ")
			}
		}
	}
}

// sortedElems returns a copy of v whose elements (or, for a map and when
// pairs is set, key/value pairs) are in byte order of their encoding.
func (v Value) sortedElems(pairs bool) Value {
	if !v.IsAggregate() || v.Null {
		return v
	}
	step := 1
	if pairs || v.Type == '%' {
		step = 2
	}
	if len(v.Elems)%step != 0 {
		return v
	}
	groups := make([][]Value, 0, len(v.Elems)/step)
	for i := 0; i < len(v.Elems); i += step {
		groups = append(groups, v.Elems[i:i+step])
	}
	key := func(g []Value) string {
		var b []byte
		for _, e := range g {
			b = e.appendTo(b)
		}
		return string(b)
	}
	sort.SliceStable(groups, func(i, j int) bool { return key(groups[i]) < key(groups[j]) })
	out := v
	out.Elems = make([]Value, 0, len(v.Elems))
	for _, g := range groups {
		out.Elems = append(out.Elems, g...)
	}
	return out
}

// EncodeCommand returns args as a RESP multibulk request.
func EncodeCommand(args []string) []byte {
	b := append([]byte{'*'}, strconv.Itoa(len(args))...)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}
