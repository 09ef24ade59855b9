// Package resp reads and writes the Redis protocol as the proxy needs it:
// it finds where one reply ends in a stream of backend bytes (so replies
// can be passed through without being decoded), decodes a reply into a
// tree when the proxy must merge replies from several shards, and appends
// encoded values to a byte slice for RESP2 or RESP3 clients.
//
// Requests are parsed by redcon's Reader; this package only deals with
// replies, whose grammar (RESP3's maps, sets, pushes, attributes, doubles)
// redcon does not read.
package resp

import (
	"bytes"
	"errors"
	"strconv"
)

// ErrProtocol reports bytes that are not a RESP reply.
var ErrProtocol = errors.New("resp: protocol error")

// maxAggregate bounds the element count an aggregate header may announce,
// so that a corrupt header cannot make the scanner loop for ever on a
// counter; real replies are far below it.
const maxAggregate = 1 << 32

// Scan returns the length of the first complete reply in b, 0 if b holds
// only part of a reply, or an error wrapping ErrProtocol.
func Scan(b []byte) (int, error) {
	var s Scanner
	return s.Scan(b)
}

// Scanner finds where a reply ends when its bytes arrive in pieces. It
// walks the headers keeping a count of the elements still owed, so it
// does not allocate and nesting depth costs nothing; it remembers where it
// stopped, so a large reply arriving over many reads is scanned once.
type Scanner struct {
	off  int // where the next element header starts, relative to the reply
	owed int // elements still owed; 0 before the first call
}

// Reset prepares the scanner for the next reply.
func (s *Scanner) Reset() { *s = Scanner{} }

// Scan looks at b, which holds a reply from its first byte (and possibly
// more after it), resuming where the previous call on the same reply
// stopped. It returns the reply's length once complete (and resets the
// scanner), or 0 when more bytes are needed.
func (s *Scanner) Scan(b []byte) (int, error) {
	i := s.off
	owed := s.owed
	if i == 0 && owed == 0 {
		owed = 1
	}
	for owed > 0 {
		if i >= len(b) {
			s.off, s.owed = i, owed
			return 0, nil
		}
		t := b[i]
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			s.off, s.owed = i, owed
			return 0, nil
		}
		lineEnd := i + nl // index of '\n'
		if nl < 2 || b[lineEnd-1] != '\r' {
			return 0, protoErr("line without CRLF")
		}
		line := b[i+1 : lineEnd-1]
		next := lineEnd + 1
		switch t {
		case '+', '-', ':', '_', ',', '#', '(':
			// one line
		case '$', '!', '=':
			n, err := parseLen(line)
			if err != nil {
				return 0, err
			}
			if n >= 0 {
				end := next + int(n) + 2
				if end > len(b) {
					s.off, s.owed = i, owed
					return 0, nil
				}
				if b[end-2] != '\r' || b[end-1] != '\n' {
					return 0, protoErr("bulk without CRLF")
				}
				next = end
			}
		case '*', '~', '>':
			n, err := parseLen(line)
			if err != nil {
				return 0, err
			}
			if n > 0 {
				owed += int(n)
			}
		case '%':
			n, err := parseLen(line)
			if err != nil {
				return 0, err
			}
			if n > 0 {
				owed += 2 * int(n)
			}
		case '|':
			// An attribute map precedes the reply it annotates: both are
			// one reply to the reader.
			n, err := parseLen(line)
			if err != nil {
				return 0, err
			}
			if n > 0 {
				owed += 2 * int(n)
			}
			owed++
		default:
			return 0, protoErr("unknown type byte " + strconv.QuoteRune(rune(t)))
		}
		owed--
		i = next
	}
	*s = Scanner{}
	return i, nil
}

func parseLen(line []byte) (int64, error) {
	n, ok := ParseInt(line)
	if !ok || n < -1 || n > maxAggregate {
		return 0, protoErr("bad length " + strconv.Quote(string(line)))
	}
	return n, nil
}

func protoErr(msg string) error {
	return &protocolError{msg}
}

type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "resp: protocol error: " + e.msg }
func (e *protocolError) Unwrap() error { return ErrProtocol }

// ParseInt parses a decimal integer as Redis writes them, without
// allocating. ok is false for anything else (empty, sign only, overflow).
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<63-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}
