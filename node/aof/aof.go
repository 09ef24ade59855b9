// Package aof holds the file formats of Redis 7.0's multi-part append
// only file: the manifest that lists the base and incremental files, and
// the RESP command stream of .aof files (reading with offsets for error
// messages and torn-tail detection, writing).
package aof

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// File types in the manifest.
const (
	TypeBase    = 'b'
	TypeHistory = 'h'
	TypeIncr    = 'i'
)

// Info is one manifest line.
type Info struct {
	Name string
	Seq  int64
	Type byte
}

// Manifest is the list of files, base first then increments in order.
type Manifest struct {
	Base  *Info
	Incrs []Info
	// History files are kept listed until deleted (type h).
	History []Info
}

// ParseManifest reads a manifest, refusing malformed lines.
func ParseManifest(b []byte) (*Manifest, error) {
	m := &Manifest{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("invalid AOF manifest file format at line %d", i+1)
		}
		var in Info
		for j := 0; j < len(f); j += 2 {
			switch strings.ToLower(f[j]) {
			case "file":
				in.Name = f[j+1]
			case "seq":
				n, err := strconv.ParseInt(f[j+1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("invalid AOF manifest seq at line %d", i+1)
				}
				in.Seq = n
			case "type":
				if len(f[j+1]) != 1 {
					return nil, fmt.Errorf("invalid AOF manifest type at line %d", i+1)
				}
				in.Type = f[j+1][0]
			}
		}
		if in.Name == "" || in.Seq == 0 || strings.ContainsAny(in.Name, "/\\") {
			return nil, fmt.Errorf("invalid AOF manifest entry at line %d", i+1)
		}
		switch in.Type {
		case TypeBase:
			if m.Base != nil {
				return nil, errors.New("found duplicate base file information in the AOF manifest")
			}
			b := in
			m.Base = &b
		case TypeIncr:
			if n := len(m.Incrs); n > 0 && m.Incrs[n-1].Seq >= in.Seq {
				return nil, errors.New("found a non-monotonic sequence number in the AOF manifest")
			}
			m.Incrs = append(m.Incrs, in)
		case TypeHistory:
			m.History = append(m.History, in)
		default:
			return nil, fmt.Errorf("unknown AOF file type %q at line %d", in.Type, i+1)
		}
	}
	if m.Base == nil && len(m.Incrs) == 0 {
		return nil, errors.New("found an empty AOF manifest")
	}
	return m, nil
}

// Bytes formats the manifest as Redis writes it.
func (m *Manifest) Bytes() []byte {
	var b strings.Builder
	line := func(in Info) { fmt.Fprintf(&b, "file %s seq %d type %c\n", in.Name, in.Seq, in.Type) }
	if m.Base != nil {
		line(*m.Base)
	}
	for _, in := range m.History {
		line(in)
	}
	for _, in := range m.Incrs {
		line(in)
	}
	return []byte(b.String())
}

// AppendCommand appends argv as a RESP array of bulk strings.
func AppendCommand(b []byte, argv [][]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(argv)), 10)
	b = append(b, '\r', '\n')
	for _, a := range argv {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// ErrTruncated reports a command cut short by the end of the file (a
// torn write); Reader.Offset is then where the last whole command ended.
var ErrTruncated = errors.New("unexpected end of file")

// ErrBadFormat reports bytes that are not a RESP command.
var ErrBadFormat = errors.New("bad file format")

// Reader reads commands from an AOF stream.
type Reader struct {
	r     *bufio.Reader
	off   int64 // end of the last whole command
	pos   int64
	limit int64
}

// NewReader reads from r, whose size is size (-1 unknown): no argument
// may claim more bytes than remain.
func NewReader(r io.Reader, size int64) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), limit: size}
}

// Offset returns the end of the last whole command read.
func (r *Reader) Offset() int64 { return r.off }

func (r *Reader) line() (string, error) {
	s, err := r.r.ReadString('\n')
	r.pos += int64(len(s))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", ErrTruncated
		}
		return "", err
	}
	if len(s) < 2 || s[len(s)-2] != '\r' {
		return "", ErrBadFormat
	}
	return s[:len(s)-2], nil
}

// Next returns the next command, io.EOF at a clean end, ErrTruncated for
// a torn tail, ErrBadFormat for garbage.
func (r *Reader) Next() ([][]byte, error) {
	b, err := r.r.Peek(1)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, err
	}
	if b[0] != '*' {
		return nil, ErrBadFormat
	}
	h, err := r.line()
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(h[1:])
	if err != nil || n < 1 || (r.limit >= 0 && int64(n) > r.limit) {
		return nil, ErrBadFormat
	}
	argv := make([][]byte, 0, min(n, 1024))
	for range n {
		h, err := r.line()
		if err != nil {
			return nil, err
		}
		if len(h) < 2 || h[0] != '$' {
			return nil, ErrBadFormat
		}
		l, err := strconv.Atoi(h[1:])
		if err != nil || l < 0 {
			return nil, ErrBadFormat
		}
		if r.limit >= 0 && int64(l)+2 > r.limit-r.pos {
			return nil, ErrTruncated
		}
		a := make([]byte, l+2)
		if _, err := io.ReadFull(r.r, a); err != nil {
			return nil, ErrTruncated
		}
		r.pos += int64(l + 2)
		if a[l] != '\r' || a[l+1] != '\n' {
			return nil, ErrBadFormat
		}
		argv = append(argv, a[:l])
	}
	r.off = r.pos
	return argv, nil
}
