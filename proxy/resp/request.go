package resp

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// RequestReader reads client requests: RESP multibulk arrays and inline
// commands, with Redis's protocol errors and limits. It hands out every
// complete request in its buffer at once (a pipelined batch) and does not
// allocate per request: a request's Args and Raw are slices of the
// reader's buffer, valid until the next call to Read.
//
// The proxy uses it instead of redcon's Reader, which copies every
// request and allocates its argument slice (profiled at a quarter of the
// proxy's CPU at pipeline 16), cannot bound a request before buffering
// it, and splits inline commands differently from Redis.
type RequestReader struct {
	rd  io.Reader
	buf []byte
	r   int // start of unparsed bytes
	w   int // end of read bytes

	// Limits, as Redis applies them (see SetLimits).
	maxBulk      int64
	maxMultibulk int64
	maxPending   int64
	unauth       bool

	err     error // a protocol error found after the requests returned last
	reqs    []Request
	args    [][]byte
	scratch []byte // inline commands: unescaped arguments and their RESP

	// A multibulk request in progress: parsed up to pos (relative to
	// its start), with the offsets of its arguments so far.
	partial struct {
		active bool
		count  int
		pos    int
		marks  []int
	}
}

// Request is one client request. Args[0] is the command name.
type Request struct {
	Args [][]byte
	Raw  []byte // the request as RESP, as a shard would receive it
}

// ProtocolError is a malformed request: the client gets its message as an
// error reply and the connection is closed, as Redis does.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// ErrRequestTooLarge is returned when an incomplete request grows beyond
// the pending limit.
var ErrRequestTooLarge = errors.New("request too large")

// Redis's limits: PROTO_INLINE_MAX_SIZE and its checks on unauthenticated
// clients.
const (
	inlineMax          = 64 << 10
	unauthMultibulkMax = 10
	unauthBulkMax      = 16384
	multibulkMax       = 1<<31 - 1
)

// NewRequestReader reads requests from rd, with no request larger than
// maxPending bytes.
func NewRequestReader(rd io.Reader, maxPending int64) *RequestReader {
	rr := &RequestReader{rd: rd, buf: make([]byte, 16<<10)}
	rr.SetLimits(maxPending, 512<<20, false)
	return rr
}

// SetLimits sets the largest request (maxPending bytes), the largest bulk
// string, and whether the client is unauthenticated (then Redis's small
// limits apply: 10 arguments of at most 16 KiB).
func (rr *RequestReader) SetLimits(maxPending, maxBulk int64, unauth bool) {
	rr.maxPending, rr.maxBulk, rr.unauth = maxPending, maxBulk, unauth
	rr.maxMultibulk = multibulkMax
}

// Read returns the complete requests in the buffer, reading from the
// connection (once or more) until there is at least one. The requests
// stay valid until the next call.
func (rr *RequestReader) Read() ([]Request, error) {
	return rr.read(false)
}

// ReadDetached is Read leaving the previous batch intact: the buffer and
// the argument slices it used are not reused. For reading ahead while the
// previous batch is still being processed.
func (rr *RequestReader) ReadDetached() ([]Request, error) {
	return rr.read(true)
}

func (rr *RequestReader) read(detach bool) ([]Request, error) {
	if detach {
		nb := make([]byte, max(len(rr.buf), rr.w-rr.r+(16<<10)))
		rr.w = copy(nb, rr.buf[rr.r:rr.w])
		rr.buf, rr.r = nb, 0
		rr.reqs, rr.args, rr.scratch = nil, nil, nil
	} else {
		rr.reqs = rr.reqs[:0]
		rr.args = rr.args[:0]
		rr.scratch = rr.scratch[:0]
	}
	if err := rr.err; err != nil {
		return nil, err
	}
	for {
		if err := rr.parse(); err != nil {
			// The requests before the malformed one are served first,
			// as Redis runs them before it answers the error.
			rr.err = err
			if len(rr.reqs) > 0 {
				return rr.reqs, nil
			}
			return nil, err
		}
		if len(rr.reqs) > 0 {
			return rr.reqs, nil
		}
		if err := rr.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, making room first: consumed bytes are dropped
// and the buffer grows when one request needs more.
func (rr *RequestReader) fill() error {
	if int64(rr.w-rr.r) > rr.maxPending {
		return ErrRequestTooLarge
	}
	if rr.r > 0 && (rr.r == rr.w || rr.w == len(rr.buf)) {
		rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r = 0
	}
	if rr.w == len(rr.buf) {
		nb := make([]byte, 2*len(rr.buf))
		copy(nb, rr.buf[:rr.w])
		rr.buf = nb
	}
	n, err := rr.rd.Read(rr.buf[rr.w:])
	rr.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// parse parses complete requests from buf[r:w] into reqs.
func (rr *RequestReader) parse() error {
	for rr.r < rr.w {
		b := rr.buf[rr.r:rr.w]
		var n int
		var err error
		if b[0] == '*' || rr.partial.active {
			n, err = rr.parseMultibulk(b)
		} else {
			n, err = rr.parseInline(b)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		rr.r += n
	}
	return nil
}

// parseMultibulk parses one RESP request at the start of b, resuming a
// partial parse. It returns the bytes consumed, 0 when incomplete.
func (rr *RequestReader) parseMultibulk(b []byte) (int, error) {
	p := &rr.partial
	if !p.active {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			if len(b) > inlineMax {
				return 0, &ProtocolError{"too big mbulk count string"}
			}
			return 0, nil
		}
		if nl < 2 || b[nl-1] != '\r' {
			return 0, &ProtocolError{"invalid multibulk length"}
		}
		count, ok := ParseInt(b[1 : nl-1])
		if !ok || count > rr.maxMultibulk {
			return 0, &ProtocolError{"invalid multibulk length"}
		}
		if rr.unauth && count > unauthMultibulkMax {
			return 0, &ProtocolError{"unauthenticated multibulk length"}
		}
		if count <= 0 {
			// Redis ignores empty and null multibulk requests.
			return nl + 1, nil
		}
		p.active, p.count, p.pos, p.marks = true, int(count), nl+1, p.marks[:0]
	}
	for len(p.marks)/2 < p.count {
		i := p.pos
		if i >= len(b) {
			return 0, nil
		}
		if b[i] != '$' {
			p.active = false
			return 0, &ProtocolError{"expected '$', got '" + string(b[i]) + "'"}
		}
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			if len(b)-i > inlineMax {
				p.active = false
				return 0, &ProtocolError{"too big bulk count string"}
			}
			return 0, nil
		}
		if nl < 2 || b[i+nl-1] != '\r' {
			p.active = false
			return 0, &ProtocolError{"invalid bulk length"}
		}
		size, ok := ParseInt(b[i+1 : i+nl-1])
		if !ok || size < 0 || size > rr.maxBulk {
			p.active = false
			return 0, &ProtocolError{"invalid bulk length"}
		}
		if rr.unauth && size > unauthBulkMax {
			p.active = false
			return 0, &ProtocolError{"unauthenticated bulk length"}
		}
		if size > rr.maxPending {
			p.active = false
			return 0, ErrRequestTooLarge
		}
		start := i + nl + 1
		end := start + int(size)
		if end+2 > len(b) {
			// Make room for the whole bulk at once.
			if need := rr.r + end + 2; need > len(rr.buf) {
				nb := make([]byte, max(need, 2*len(rr.buf)))
				rr.w = copy(nb, rr.buf[:rr.w])
				rr.buf = nb
			}
			return 0, nil
		}
		if b[end] != '\r' || b[end+1] != '\n' {
			p.active = false
			return 0, &ProtocolError{"invalid bulk length"}
		}
		p.marks = append(p.marks, start, end)
		p.pos = end + 2
	}
	p.active = false
	first := len(rr.args)
	for k := 0; k < len(p.marks); k += 2 {
		rr.args = append(rr.args, b[p.marks[k]:p.marks[k+1]:p.marks[k+1]])
	}
	rr.reqs = append(rr.reqs, Request{Args: rr.args[first:len(rr.args):len(rr.args)], Raw: b[:p.pos:p.pos]})
	return p.pos, nil
}

// parseInline parses an inline command ("SET k v\r\n") as Redis splits
// it (sdssplitargs): quotes, escapes, \xHH. Its arguments and its RESP
// form are built in scratch.
func (rr *RequestReader) parseInline(b []byte) (int, error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if len(b) > inlineMax {
			return 0, &ProtocolError{"too big inline request"}
		}
		return 0, nil
	}
	line := b[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	words, ok := splitArgs(line, nil)
	if !ok {
		return 0, &ProtocolError{"unbalanced quotes in request"}
	}
	if len(words) == 0 {
		return nl + 1, nil
	}
	if rr.unauth && len(words) > unauthMultibulkMax {
		return 0, &ProtocolError{"unauthenticated multibulk length"}
	}
	// The scratch buffer may be reallocated while the RESP form is
	// appended, so arguments are sliced only once it is complete.
	start := len(rr.scratch)
	rr.scratch = AppendArrayLen(rr.scratch, len(words))
	offs := make([]int, 0, 2*len(words))
	for _, w := range words {
		rr.scratch = appendHeader(rr.scratch, '$', int64(len(w)))
		offs = append(offs, len(rr.scratch))
		rr.scratch = append(rr.scratch, w...)
		offs = append(offs, len(rr.scratch))
		rr.scratch = append(rr.scratch, '\r', '\n')
	}
	// Requests built earlier in this batch from scratch must keep their
	// bytes: scratch moved only if it grew, and then the earlier slices
	// still point into the old array, which stays intact.
	first := len(rr.args)
	for k := 0; k < len(offs); k += 2 {
		rr.args = append(rr.args, rr.scratch[offs[k]:offs[k+1]:offs[k+1]])
	}
	end := len(rr.scratch)
	rr.reqs = append(rr.reqs, Request{Args: rr.args[first:len(rr.args):len(rr.args)], Raw: rr.scratch[start:end:end]})
	return nl + 1, nil
}

// splitArgs splits an inline command line as Redis's sdssplitargs does.
// ok is false for unbalanced quotes.
func splitArgs(line []byte, out [][]byte) ([][]byte, bool) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return out, true
		}
		var cur []byte
		inq, insq := false, false
		for done := false; !done; {
			if inq {
				switch {
				case i >= len(line):
					return nil, false
				case line[i] == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					v, _ := strconv.ParseUint(string(line[i+2:i+4]), 16, 8)
					cur = append(cur, byte(v))
					i += 3
				case line[i] == '\\' && i+1 < len(line):
					i++
					c := line[i]
					switch c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					cur = append(cur, c)
				case line[i] == '"':
					// A closing quote must be followed by a space or
					// the end.
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, false
					}
					done = true
				default:
					cur = append(cur, line[i])
				}
			} else if insq {
				switch {
				case i >= len(line):
					return nil, false
				case line[i] == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					cur = append(cur, '\'')
				case line[i] == '\'':
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return nil, false
					}
					done = true
				default:
					cur = append(cur, line[i])
				}
			} else {
				switch {
				case i >= len(line):
					done = true
				case isSpace(line[i]):
					done = true
				case line[i] == '"':
					inq = true
				case line[i] == '\'':
					insq = true
				default:
					cur = append(cur, line[i])
				}
			}
			if i < len(line) {
				i++
			}
		}
		if cur == nil {
			cur = []byte{}
		}
		out = append(out, cur)
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
