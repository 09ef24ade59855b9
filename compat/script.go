package compat

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// A script file (testdata/*.txt) is a list of cases. Each case runs on a
// fresh node and a flushed redis-server, one step per line:
//
//	# comment                     (also blank lines)
//	=== case name                 starts a case
//	SET k "a b\x00"              a command, split like redis-cli does
//	[sorted] KEYS *               options before a step change how replies compare
//	!conn other                   later steps use connection "other" (opened on first use)
//	!sleep 120                    wait 120 ms (for expiry; never as synchronisation)
//	[n=2] !raw "PING\r\nPING\r\n" send bytes as they are, read 2 replies
//	[n=1] !raw ""                read a reply nobody asked for (MONITOR, pub/sub)
//
// Options (space-separated inside one pair of brackets):
//
//	exact sorted sortpairs config commandinfo commanddocs type len fields
//	client hello monitor ignore scanall
//	    the comparison mode (compare.go); default: per command, else exact
//	approx=N   integers may differ by up to N (TTLs)
//	n=N        read N replies (default 1); noreply is n=0
//	closed     afterwards, both connections must agree on being closed
//
// Tokens may hold {now+N} / {now-N} (unix seconds) and {nowms+N} (unix
// milliseconds), expanded once per step so both servers get the same bytes.

type stepKind int

const (
	stepCommand stepKind = iota
	stepRaw
	stepSleep
	stepConn
)

// Options say how a step's replies are read and compared.
type Options struct {
	Mode    string // "" means the command's default mode
	Approx  int64
	Replies int // replies to read; -1 means the default of 1
	Closed  bool
}

// Step is one line of a script or one generated command.
type Step struct {
	Line  int // 1-based line in the script; 0 for generated steps
	Kind  stepKind
	Args  []string      // stepCommand
	Raw   []byte        // stepRaw
	Sleep time.Duration // stepSleep
	Conn  string        // stepConn
	Opts  Options
}

// Case is a named list of steps run against fresh servers.
type Case struct {
	Name  string
	File  string
	Line  int
	Steps []Step
}

var modes = map[string]bool{
	"exact": true, "sorted": true, "sortpairs": true, "config": true, "commandinfo": true, "commanddocs": true, "type": true, "len": true,
	"fields": true, "client": true, "hello": true, "monitor": true, "ignore": true, "scanall": true,
	"approx": true,
}

// ParseScript reads a script file's cases.
func ParseScript(name string, r io.Reader) ([]Case, error) {
	var cases []Case
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "==="); ok {
			cases = append(cases, Case{Name: strings.TrimSpace(rest), File: name, Line: lineNo})
			continue
		}
		if len(cases) == 0 {
			cases = append(cases, Case{Name: "main", File: name, Line: lineNo})
		}
		st, err := parseStep(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
		st.Line = lineNo
		cur := &cases[len(cases)-1]
		cur.Steps = append(cur.Steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	for _, c := range cases {
		if len(c.Steps) == 0 {
			return nil, fmt.Errorf("%s:%d: case %q has no steps", name, c.Line, c.Name)
		}
	}
	return cases, nil
}

func parseStep(line string) (Step, error) {
	st := Step{Opts: Options{Replies: -1}}
	if strings.HasPrefix(line, "[") {
		end := strings.IndexByte(line, ']')
		if end < 0 {
			return st, fmt.Errorf("unclosed options bracket")
		}
		if err := parseOptions(line[1:end], &st.Opts); err != nil {
			return st, err
		}
		line = strings.TrimSpace(line[end+1:])
	}
	args, err := SplitArgs(line)
	if err != nil {
		return st, err
	}
	if len(args) == 0 {
		return st, fmt.Errorf("options without a step")
	}
	switch args[0] {
	case "!conn":
		if len(args) != 2 {
			return st, fmt.Errorf("!conn takes one connection name")
		}
		st.Kind, st.Conn = stepConn, args[1]
	case "!sleep":
		ms, err := strconv.Atoi(strings.Join(args[1:], ""))
		if err != nil || ms < 0 || ms > 10000 {
			return st, fmt.Errorf("!sleep takes milliseconds (0..10000)")
		}
		st.Kind, st.Sleep = stepSleep, time.Duration(ms)*time.Millisecond
	case "!raw":
		if len(args) != 2 {
			return st, fmt.Errorf("!raw takes one quoted string")
		}
		st.Kind, st.Raw = stepRaw, []byte(args[1])
	default:
		if strings.HasPrefix(args[0], "!") {
			return st, fmt.Errorf("unknown directive %s", args[0])
		}
		st.Kind, st.Args = stepCommand, args
	}
	return st, nil
}

func parseOptions(s string, o *Options) error {
	for _, f := range strings.Fields(s) {
		k, v, hasV := strings.Cut(f, "=")
		switch {
		case k == "n" && hasV:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1000 {
				return fmt.Errorf("bad reply count %q", v)
			}
			o.Replies = n
		case k == "noreply" && !hasV:
			o.Replies = 0
		case k == "closed" && !hasV:
			o.Closed = true
		case k == "approx" && hasV:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("bad tolerance %q", v)
			}
			o.Mode, o.Approx = "approx", n
		case modes[k] && !hasV && k != "approx":
			o.Mode = k
		default:
			return fmt.Errorf("unknown option %q", f)
		}
	}
	return nil
}

// SplitArgs splits a line like redis-cli (sdssplitargs): whitespace
// separates tokens; "double quotes" understand \n \r \t \b \a \\ \" and
// \xHH; 'single quotes' understand \'. A closing quote must be followed by
// whitespace or the end of the line.
func SplitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		var tok []byte
		inDQ, inSQ, done := false, false, false
		for !done {
			if i >= len(line) {
				if inDQ || inSQ {
					return nil, fmt.Errorf("unbalanced quotes in %q", line)
				}
				break
			}
			ch := line[i]
			switch {
			case inDQ:
				switch {
				case ch == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					b, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					tok = append(tok, byte(b))
					i += 3
				case ch == '\\' && i+1 < len(line):
					i++
					switch line[i] {
					case 'n':
						tok = append(tok, '\n')
					case 'r':
						tok = append(tok, '\r')
					case 't':
						tok = append(tok, '\t')
					case 'b':
						tok = append(tok, '\b')
					case 'a':
						tok = append(tok, '\a')
					default:
						tok = append(tok, line[i])
					}
				case ch == '"':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, fmt.Errorf("closing quote must be followed by a space in %q", line)
					}
					done = true
				default:
					tok = append(tok, ch)
				}
			case inSQ:
				switch {
				case ch == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					tok = append(tok, '\'')
				case ch == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, fmt.Errorf("closing quote must be followed by a space in %q", line)
					}
					done = true
				default:
					tok = append(tok, ch)
				}
			default:
				switch {
				case isSpace(ch):
					done = true
				case ch == '"':
					inDQ = true
				case ch == '\'':
					inSQ = true
				default:
					tok = append(tok, ch)
				}
			}
			i++
		}
		out = append(out, string(tok))
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// QuoteArg renders one argument so SplitArgs reads it back unchanged.
func QuoteArg(a string) string {
	plain := a != ""
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' || c == '[' || (i == 0 && (c == '!' || c == '#' || c == '=')) {
			plain = false
			break
		}
	}
	if plain {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FormatStep renders a step back into script syntax.
func FormatStep(st Step) string {
	var parts []string
	var o []string
	if st.Opts.Mode != "" {
		if st.Opts.Mode == "approx" {
			o = append(o, fmt.Sprintf("approx=%d", st.Opts.Approx))
		} else {
			o = append(o, st.Opts.Mode)
		}
	}
	if st.Opts.Replies >= 0 && st.Opts.Replies != 1 {
		o = append(o, fmt.Sprintf("n=%d", st.Opts.Replies))
	}
	if st.Opts.Closed {
		o = append(o, "closed")
	}
	if len(o) > 0 {
		parts = append(parts, "["+strings.Join(o, " ")+"]")
	}
	switch st.Kind {
	case stepConn:
		parts = append(parts, "!conn", QuoteArg(st.Conn))
	case stepSleep:
		parts = append(parts, "!sleep", strconv.FormatInt(st.Sleep.Milliseconds(), 10))
	case stepRaw:
		parts = append(parts, "!raw", QuoteArg(string(st.Raw)))
	default:
		for _, a := range st.Args {
			parts = append(parts, QuoteArg(a))
		}
	}
	return strings.Join(parts, " ")
}

// expandTime replaces {now±N} and {nowms±N} in a token.
func expandTime(tok string, now time.Time) string {
	if !strings.Contains(tok, "{now") {
		return tok
	}
	var b strings.Builder
	for {
		i := strings.Index(tok, "{now")
		if i < 0 {
			b.WriteString(tok)
			return b.String()
		}
		j := strings.IndexByte(tok[i:], '}')
		if j < 0 {
			b.WriteString(tok)
			return b.String()
		}
		inner := tok[i+1 : i+j]
		base, unit := now.Unix(), "now"
		if strings.HasPrefix(inner, "nowms") {
			base, unit = now.UnixMilli(), "nowms"
		}
		off := strings.TrimPrefix(inner, unit)
		var d int64
		if off != "" {
			n, err := strconv.ParseInt(off, 10, 64)
			if err != nil {
				b.WriteString(tok[:i+j+1])
				tok = tok[i+j+1:]
				continue
			}
			d = n
		}
		b.WriteString(tok[:i])
		b.WriteString(strconv.FormatInt(base+d, 10))
		tok = tok[i+j+1:]
	}
}
