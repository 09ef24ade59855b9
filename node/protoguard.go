package node

import (
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// The protocol guard sits between a client's socket and redcon's parser.
// redcon has no size limits, rejects requests Redis accepts (`*0`, `*-1`,
// a bulk whose trailer is not CRLF), splits inline commands differently
// from Redis's sdssplitargs, and re-scans an incomplete request on every
// read (a `*2147483647` header costs it two billion loop iterations per
// read). So the guard parses the byte stream itself, exactly as Redis's
// processInlineBuffer/processMultibulkBuffer do, enforces Redis's limits
// with Redis's replies, and hands redcon only canonical multibulk requests
// (`*N\r\n` then N `$L\r\n<payload>\r\n`), and only whole requests, except
// that a request bigger than redcon's buffer fills it, and a big argument
// of a request with few arguments streams as it arrives.
//
// Reads happen on the connection's goroutine, the same one that runs the
// client's commands, and redcon asks for more bytes only after it has run
// every complete request it was given. The guard relies on that: when a
// limit depends on session state (authentication, CONFIG SET of a limit),
// it first hands over the requests parsed so far and decides on its next
// Read, when they have run, as Redis decides after running them.

// Redis's protocol constants (server.h).
const (
	protoInlineMaxSize  = 64 << 10 // longest line without its newline
	protoIOBufLen       = 16 << 10 // Redis's read size
	protoMBulkBigArg    = 32 << 10 // bulk size read with a dedicated buffer
	protoResizeThresh   = 32 << 10 // query buffer size worth shrinking
	unauthMaxMultibulk  = 10       // arguments before AUTH
	unauthMaxBulkLen    = 16384    // bulk length before AUTH
	minConfigurableSize = 1 << 20  // lowest proto-max-bulk-len / client-query-buffer-limit
	maxRedisInt32       = math.MaxInt32
)

// guardLimits is the session state a limit depends on.
type guardLimits struct {
	authRequired bool  // the client must AUTH first
	master       bool  // the primary's link: no bulk or query buffer limit
	maxBulk      int64 // proto-max-bulk-len
	maxQuery     int64 // client-query-buffer-limit
}

// guardPolicy is the guard's view of the server. Both methods are called
// from the connection's goroutine outside the shard lock, only when every
// request handed to redcon before has run.
type guardPolicy interface {
	limits() guardLimits
	// protocolError replies "-ERR Protocol error: <msg>" to the client;
	// the guard closes the connection afterwards.
	protocolError(msg string)
}

// defaultGuardLimits are Redis's defaults, for a guard without a policy.
func defaultGuardLimits() guardLimits {
	return guardLimits{maxBulk: 512 << 20, maxQuery: 1 << 30}
}

// errQueryBufferLimit closes a client whose query buffer passed
// client-query-buffer-limit; Redis closes it without a reply.
var errQueryBufferLimit = errors.New("closing client that reached max query buffer length")

type guardState uint8

const (
	gsRequest    guardState = iota // at the start of a request
	gsBulkHeader                   // expecting "$<len>\r\n"
	gsBulkData                     // inside a bulk payload or its trailer
)

// protoGuard wraps an accepted connection; see the comment at the top.
type protoGuard struct {
	net.Conn
	pol guardPolicy

	raw  []byte // bytes read and not parsed yet: raw[rpos:]
	rpos int
	// scanned bytes after rpos hold no line end; nulSeen: they hold a
	// NUL, so the line end will never be found (strchr stops there).
	scanned int
	nulSeen bool

	out      []byte // canonical requests not handed to redcon yet: out[opos:]
	opos     int
	boundary int // out[:boundary] holds whole requests only

	st          guardState
	argsLeft    int64
	reqArgs     int64 // argument count of the request being parsed
	bulkLeft    int64 // payload bytes still expected
	trailerLeft int   // trailer bytes still expected (Redis skips them unchecked)
	bulkLen     int64 // length of the bulk being read, -1 outside a bulk
	argBytes    int64 // payload bytes of the current bulk parsed so far

	// handoff: the next Read hands redcon handoffRequest instead of the
	// client's bytes; handoffPending: it did, and the handler has not
	// taken the connection over yet (see Server.serveConn).
	handoff        bool
	handoffPending bool

	fail      string // protocol error to reply once the parsed requests ran
	failQuiet bool   // close without replying the error (primary desync)
	failSent  bool
	closeErr  error // close without a reply (query buffer limit)
	readErr   error // socket error, reported once the parsed requests ran

	// A model of Redis's query buffer allocation, for CLIENT LIST's qbuf
	// and qbuf-free and the query buffer tests. Read by other clients'
	// commands, hence atomic.
	qbLen      atomic.Int64
	qbAlloc    atomic.Int64
	qbPeak     atomic.Int64
	qbBulk     atomic.Int64
	lastReadNs atomic.Int64
}

func newProtoGuard(c net.Conn, pol guardPolicy) *protoGuard {
	g := &protoGuard{Conn: c, pol: pol, bulkLen: -1}
	g.qbBulk.Store(-1)
	g.lastReadNs.Store(time.Now().UnixNano())
	return g
}

func (g *protoGuard) limits() guardLimits {
	if g.pol == nil {
		return defaultGuardLimits()
	}
	return g.pol.limits()
}

// handoffRequest is the one request the guard hands redcon on a
// connection the server takes over: a canonical request of one empty
// argument, which no client request can be mistaken for because only
// handoffPending marks it. It is whole and redcon's reader holds nothing
// after parsing it (its first read is at least 4 KiB, straight into its
// own buffer), so every later byte of the socket reaches the guard.
var handoffRequest = []byte("*1\r\n$0\r\n\r\n")

// Read hands redcon canonical requests; see the type's comment.
func (g *protoGuard) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if g.handoff {
		g.handoff = false
		if len(p) >= len(handoffRequest) {
			g.handoffPending = true
			return copy(p, handoffRequest), nil
		}
	}
	for {
		if g.boundary > g.opos {
			n := copy(p, g.out[g.opos:g.boundary])
			g.opos += n
			g.compactOut()
			g.qbLen.Store(g.queryLen())
			return n, nil
		}
		if g.streamable() {
			// A big argument of a request with few arguments streams to
			// redcon as it arrives rather than being held twice.
			n := copy(p, g.out[g.opos:])
			g.opos += n
			g.compactOut()
			g.qbLen.Store(g.queryLen())
			return n, nil
		}
		if err := g.failure(); err != nil {
			return 0, err
		}
		if g.parse(len(p)) {
			continue
		}
		if g.readErr != nil {
			return 0, g.readErr
		}
		g.fill()
	}
}

// failure replies a protocol error found by parse, once, and returns the
// error that ends the connection (nil if there is none).
func (g *protoGuard) failure() error {
	switch {
	case g.fail != "":
		if !g.failSent {
			g.failSent = true
			if g.pol != nil && !g.failQuiet {
				g.pol.protocolError(g.fail)
			}
		}
		return io.EOF
	case g.closeErr != nil:
		return g.closeErr
	}
	return nil
}

// takeoverBatch bounds the bytes of whole requests readRequests parses
// before returning them to run.
const takeoverBatch = 64 << 10

// readRequests is Read for a connection the server took over: it parses
// the socket's bytes as Read does and returns the whole requests ready,
// appended to dst as argument lists, without re-encoding them for redcon
// to parse again. It blocks until there is at least one, and returns an
// error when the connection must end (after replying a protocol error).
// The same session-state rule holds: it is called again only once the
// requests it returned have run.
func (g *protoGuard) readRequests(dst [][][]byte) ([][][]byte, error) {
	for {
		if g.boundary > g.opos {
			return g.takeRequests(dst), nil
		}
		if err := g.failure(); err != nil {
			return dst, err
		}
		if g.parse(takeoverBatch) {
			continue
		}
		if g.readErr != nil {
			return dst, g.readErr
		}
		g.fill()
	}
}

// takeOwnMin is the size from which a batch that fills out is handed
// over as it is (its arguments point into it) rather than copied.
const takeOwnMin = 64 << 10

// takeRequests splits the canonical requests of out[opos:boundary] into
// argument lists. Each request's arguments get memory of their own, as
// redcon gave each command: handlers may keep them (MULTI queues, list
// elements), and out is reused.
func (g *protoGuard) takeRequests(dst [][][]byte) [][][]byte {
	b := g.out[g.opos:g.boundary]
	own := g.opos == 0 && g.boundary == len(g.out) && len(b) >= takeOwnMin
	// The argument lists of the batch share slabs sized to them, one
	// allocation for many requests; a list kept by a handler (MULTI
	// queue) keeps its slab, at most argSlab entries.
	left := countArgs(b)
	var slab [][]byte
	for len(b) > 0 {
		n, i := canonicalLen(b, 1) // b[0] is '*'
		if len(slab) < n {
			slab = make([][]byte, max(n, min(left, argSlab)))
		}
		args := slab[:n:n]
		slab = slab[n:]
		left -= n
		size := 0
		for k := range args {
			l, j := canonicalLen(b, i+1) // b[i] is '$'
			args[k] = b[j : j+l : j+l]
			size += l
			i = j + l + 2
		}
		if !own {
			buf := make([]byte, size)
			off := 0
			for k, a := range args {
				end := off + copy(buf[off:], a)
				args[k] = buf[off:end:end]
				off = end
			}
		}
		dst = append(dst, args)
		b = b[i:]
	}
	if own {
		g.out, g.opos, g.boundary = nil, 0, 0
	} else {
		g.opos = g.boundary
		g.compactOut()
	}
	g.qbLen.Store(g.queryLen())
	return dst
}

// argSlab bounds the shared argument-list slabs of takeRequests.
const argSlab = 256

// countArgs is the number of arguments of the canonical requests in b.
func countArgs(b []byte) int {
	total := 0
	for len(b) > 0 {
		n, i := canonicalLen(b, 1)
		for k := 0; k < n; k++ {
			l, j := canonicalLen(b, i+1)
			i = j + l + 2
		}
		total += n
		b = b[i:]
	}
	return total
}

// canonicalLen reads the decimal at b[i:] of a canonical request, which
// ends with CRLF, and returns it and the index after the CRLF.
func canonicalLen(b []byte, i int) (int, int) {
	n := 0
	for ; b[i] != '\r'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	return n, i + 2
}

// fill reads once from the socket into raw and enforces the query buffer
// limit on what is buffered, as readQueryFromClient does after each read.
func (g *protoGuard) fill() {
	if g.rpos == len(g.raw) {
		if cap(g.raw) > 256<<10 && g.st == gsRequest {
			g.raw = nil // don't pin a big argument's buffer when idle
		}
		g.raw = g.raw[:0]
		g.rpos = 0
	} else if g.rpos > len(g.raw)/2 {
		g.raw = g.raw[:copy(g.raw, g.raw[g.rpos:])]
		g.rpos = 0
	}
	want := protoIOBufLen
	big := g.st == gsBulkData && g.bulkLen >= protoMBulkBigArg
	if big {
		// A big argument is read in one go, as Redis sizes its read to
		// the rest of the bulk.
		want = int(min(g.bulkLeft+int64(g.trailerLeft), 1<<20))
		want = max(want, protoIOBufLen)
	}
	g.modelBeforeRead(want, big)
	if cap(g.raw)-len(g.raw) < want {
		nb := make([]byte, len(g.raw), max(len(g.raw)+want, 2*cap(g.raw)))
		copy(nb, g.raw)
		g.raw = nb
	}
	n, err := g.Conn.Read(g.raw[len(g.raw):cap(g.raw)])
	g.raw = g.raw[:len(g.raw)+n]
	if n > 0 {
		g.lastReadNs.Store(time.Now().UnixNano())
		qb := g.queryLen()
		g.modelAfterRead(qb)
		if qb > minConfigurableSize {
			lim := g.limits()
			if !lim.master && qb > lim.maxQuery {
				g.closeErr = errQueryBufferLimit
				return
			}
		}
	}
	if err != nil {
		g.readErr = err
	}
}

// queryLen is what Redis would hold in its query buffer: the unparsed
// bytes plus the part of the current bulk already read.
func (g *protoGuard) queryLen() int64 {
	return int64(len(g.raw)-g.rpos) + g.argBytes
}

// streamLimits: a partial request is handed to redcon before it is
// complete only when it has at most streamMaxArgs arguments (redcon
// re-scans an incomplete request's argument headers on every read) and
// at least streamMinBytes are pending.
const (
	streamMaxArgs  = 1024
	streamMinBytes = 64 << 10
)

func (g *protoGuard) streamable() bool {
	return g.st != gsRequest && g.reqArgs <= streamMaxArgs &&
		g.fail == "" && len(g.out)-max(g.opos, g.boundary) >= streamMinBytes && g.opos >= g.boundary
}

// compactOut drops what redcon has taken, without moving a big partial
// request on every read.
func (g *protoGuard) compactOut() {
	if g.opos == len(g.out) {
		if cap(g.out) > 256<<10 {
			g.out = nil
		} else {
			g.out = g.out[:0]
		}
		g.boundary = max(g.boundary-g.opos, 0)
		g.opos = 0
		return
	}
	if g.opos > len(g.out)/2 {
		g.out = g.out[:copy(g.out, g.out[g.opos:])]
		g.boundary = max(g.boundary-g.opos, 0)
		g.opos = 0
	}
}

// failWith records a protocol error; nothing after it is parsed.
func (g *protoGuard) failWith(msg string) {
	g.fail = msg
	// A partial request is never run (a part already streamed to redcon
	// stays incomplete there).
	g.out = g.out[:max(g.boundary, g.opos)]
}

// parse turns raw bytes into canonical requests until it runs out of
// input, hits an error, has more than want bytes of whole requests ready,
// or reaches a limit that must wait for the ready requests to run. It
// reports whether the caller should loop (output ready or an error)
// rather than read more.
func (g *protoGuard) parse(want int) bool {
	for {
		if g.fail != "" || g.closeErr != nil {
			return true
		}
		ready := max(g.boundary-g.opos, 0)
		if ready >= want {
			return true
		}
		switch g.st {
		case gsRequest:
			if g.rpos == len(g.raw) {
				return ready > 0
			}
			if g.raw[g.rpos] == '*' {
				if g.fastRequest() {
					continue
				}
				if !g.parseMultibulkHeader(ready) {
					return ready > 0 || g.fail != ""
				}
			} else if !g.parseInline() {
				return ready > 0 || g.fail != ""
			}
		case gsBulkHeader:
			if !g.parseBulkHeader(ready) {
				return ready > 0 || g.fail != ""
			}
		case gsBulkData:
			if !g.parseBulkData() {
				return ready > 0
			}
		}
	}
}

// findLineEnd finds the first sep in the unparsed bytes as C's strchr
// does on Redis's NUL-terminated query buffer: a NUL byte before it ends
// the search. It returns the index or -1.
// The part already searched is remembered, so that a line arriving a
// byte at a time costs linear time.
func (g *protoGuard) findLineEnd(sep byte) int {
	if g.nulSeen {
		return -1
	}
	for i := g.rpos + g.scanned; i < len(g.raw); i++ {
		switch g.raw[i] {
		case sep:
			return i
		case 0:
			g.nulSeen = true
			return -1
		}
	}
	g.scanned = len(g.raw) - g.rpos
	return -1
}

// fastRequest takes a whole request that is already canonical and needs
// no session state (at most 10 arguments of at most 16384 bytes, CRLF
// everywhere, no leading zeros) with one copy, and reports whether it
// did. Anything else, including an incomplete request, is left to the
// general parser, which gives the same result for these bytes.
func (g *protoGuard) fastRequest() bool {
	b := g.raw[g.rpos:]
	n, i, ok := canonicalNumber(b, 1)
	if !ok || n == 0 || n > unauthMaxMultibulk {
		return false
	}
	for k := 0; k < n; k++ {
		if i >= len(b) || b[i] != '$' {
			return false
		}
		l, j, ok := canonicalNumber(b, i+1)
		if !ok || l > unauthMaxBulkLen {
			return false
		}
		end := j + l
		if end+2 > len(b) || b[end] != '\r' || b[end+1] != '\n' {
			return false
		}
		i = end + 2
	}
	g.out = append(g.out, b[:i]...)
	g.rpos += i
	g.scanned = 0
	g.boundary = len(g.out)
	return true
}

// canonicalNumber reads a decimal without sign or leading zeros, at most
// 5 digits, followed by CRLF, at b[i:]; it returns the value and the
// index after the CRLF.
func canonicalNumber(b []byte, i int) (int, int, bool) {
	start := i
	v := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 5 {
		v = v*10 + int(b[i]-'0')
		i++
	}
	if i == start || (b[start] == '0' && i-start > 1) || i+1 >= len(b) || b[i] != '\r' || b[i+1] != '\n' {
		return 0, 0, false
	}
	return v, i + 2, true
}

// parseMultibulkHeader consumes "*<count>\r\n". It returns false when it
// needs more input, must wait for ready requests to run, or failed.
func (g *protoGuard) parseMultibulkHeader(ready int) bool {
	cr := g.findLineEnd('\r')
	if cr < 0 {
		if len(g.raw)-g.rpos > protoInlineMaxSize {
			g.failWith("too big mbulk count string")
		}
		return false
	}
	if cr+1 >= len(g.raw) { // the byte after '\r' has not arrived
		return false
	}
	n, ok := parseRedisInt64(g.raw[g.rpos+1 : cr])
	if !ok || n > maxRedisInt32 {
		g.failWith("invalid multibulk length")
		return false
	}
	if n > unauthMaxMultibulk {
		if ready > 0 {
			return false // decide once the requests before it ran
		}
		if g.limits().authRequired {
			g.failWith("unauthenticated multibulk length")
			return false
		}
	}
	g.rpos = cr + 2
	g.scanned = 0
	if n <= 0 {
		return true // Redis ignores empty and negative counts
	}
	g.out = append(g.out, '*')
	g.out = strconv.AppendInt(g.out, n, 10)
	g.out = append(g.out, '\r', '\n')
	g.argsLeft = n
	g.reqArgs = n
	g.st = gsBulkHeader
	return true
}

// parseBulkHeader consumes "$<len>\r\n".
func (g *protoGuard) parseBulkHeader(ready int) bool {
	cr := g.findLineEnd('\r')
	if cr < 0 {
		if len(g.raw)-g.rpos > protoInlineMaxSize {
			g.failWith("too big bulk count string")
		}
		return false
	}
	if cr+1 >= len(g.raw) {
		return false
	}
	if b := g.raw[g.rpos]; b != '$' {
		// Redis formats the byte with %c: the raw byte, whatever it is.
		g.failWith("expected '$', got '" + string([]byte{b}) + "'")
		return false
	}
	n, ok := parseRedisInt64(g.raw[g.rpos+1 : cr])
	if !ok || n < 0 {
		g.failWith("invalid bulk length")
		return false
	}
	if n > unauthMaxBulkLen {
		if ready > 0 {
			return false
		}
		lim := g.limits()
		if !lim.master && n > lim.maxBulk {
			g.failWith("invalid bulk length")
			return false
		}
		if lim.authRequired {
			g.failWith("unauthenticated bulk length")
			return false
		}
	}
	g.rpos = cr + 2
	g.scanned = 0
	g.out = append(g.out, '$')
	g.out = strconv.AppendInt(g.out, n, 10)
	g.out = append(g.out, '\r', '\n')
	g.bulkLen = n
	g.bulkLeft = n
	g.trailerLeft = 2
	g.argBytes = 0
	g.qbBulk.Store(n)
	g.st = gsBulkData
	return true
}

// parseBulkData moves payload bytes to out and skips the two trailer
// bytes, whatever they are, as Redis does. It returns false when it needs
// more input.
func (g *protoGuard) parseBulkData() bool {
	avail := int64(len(g.raw) - g.rpos)
	if avail == 0 {
		return false
	}
	if g.bulkLeft > 0 {
		take := min(g.bulkLeft, avail)
		g.out = append(g.out, g.raw[g.rpos:g.rpos+int(take)]...)
		g.rpos += int(take)
		g.scanned = 0
		g.bulkLeft -= take
		g.argBytes += take
		return true
	}
	take := min(g.trailerLeft, int(avail))
	g.rpos += take
	g.scanned = 0
	g.trailerLeft -= take
	if g.trailerLeft > 0 {
		return false
	}
	g.out = append(g.out, '\r', '\n')
	g.argBytes = 0
	g.bulkLen = -1
	g.qbBulk.Store(-1)
	g.argsLeft--
	if g.argsLeft == 0 {
		g.st = gsRequest
		g.boundary = len(g.out)
	} else {
		g.st = gsBulkHeader
	}
	return true
}

// parseInline consumes one inline request line.
func (g *protoGuard) parseInline() bool {
	nl := g.findLineEnd('\n')
	if nl < 0 {
		if len(g.raw)-g.rpos > protoInlineMaxSize {
			g.failWith("too big inline request")
		}
		return false
	}
	end := nl
	if end > g.rpos && g.raw[end-1] == '\r' {
		end--
	}
	args, ok := splitArgs(g.raw[g.rpos:end])
	if !ok {
		g.failWith("unbalanced quotes in request")
		return false
	}
	if end > g.rpos && g.pol != nil && g.limits().master {
		// A primary never sends inline requests except bare newlines:
		// anything else means the stream is out of sync.
		g.failWith("Master using the inline protocol. Desync?")
		g.failQuiet = true
		return false
	}
	g.rpos = nl + 1
	g.scanned = 0
	if len(args) == 0 {
		return true
	}
	g.out = appendCanonicalRequest(g.out, args)
	g.boundary = len(g.out)
	return true
}

// appendCanonicalRequest encodes args as a multibulk request.
func appendCanonicalRequest(b []byte, args [][]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// canonicalRequestLen is the size of args encoded as a multibulk request:
// what Redis's query buffer holds while it runs the request (CLIENT LIST
// qbuf).
func canonicalRequestLen(args [][]byte) int64 {
	n := int64(1 + len(strconv.Itoa(len(args))) + 2)
	for _, a := range args {
		n += int64(1+len(strconv.Itoa(len(a)))+2) + int64(len(a)) + 2
	}
	return n
}

// parseRedisInt64 parses s as Redis's string2ll: an optional '-', no
// leading zeros or '+', no spaces, at most 20 characters, no overflow.
func parseRedisInt64(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) >= 21 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if s[0] == '-' {
		neg = true
		i++
		if i == len(s) {
			return 0, false
		}
	}
	if s[i] < '1' || s[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		if v > math.MaxUint64-uint64(d-'0') {
			return 0, false
		}
		v += uint64(d - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func hexDigitValue(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// splitArgs splits an inline request line as Redis's sdssplitargs: blanks
// separate arguments; "double quotes" take \xHH, \n, \r, \t, \b, \a and
// \<any> escapes; 'single quotes' take \' only; a closing quote must be
// followed by a blank or the end. A NUL byte ends the line, as it ends a
// C string. ok is false for unbalanced quotes.
func splitArgs(line []byte) (args [][]byte, ok bool) {
	if i := indexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	p := 0
	for {
		for p < len(line) && isCSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return args, true
		}
		cur := []byte{}
		inq, insq, done := false, false, false
		for !done {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHexDigit(at(p+2)) && isHexDigit(at(p+3)):
					cur = append(cur, hexDigitValue(at(p+2))*16+hexDigitValue(at(p+3)))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					e := at(p)
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					cur = append(cur, e)
				case c == '"':
					if n := at(p + 1); n != 0 && !isCSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if n := at(p + 1); n != 0 && !isCSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
			}
			if p < len(line) {
				p++
			}
		}
		args = append(args, cur)
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Query buffer model. Redis reports its query buffer's length and free
// space in CLIENT LIST and shrinks idle or oversized buffers from its
// cron; the suite checks those numbers, so the guard keeps the same
// accounting of a buffer it does not need to have.

func (g *protoGuard) modelBeforeRead(readLen int, big bool) {
	qlen := g.queryLen()
	alloc := g.qbAlloc.Load()
	if big || alloc < protoIOBufLen {
		// sdsMakeRoomForNonGreedy: exactly enough for this read.
		if alloc-qlen < int64(readLen) {
			alloc = qlen + int64(readLen)
		}
	} else if alloc-qlen < int64(readLen) {
		// sdsMakeRoomFor: greedy growth.
		nl := qlen + int64(readLen)
		if nl < 1<<20 {
			nl *= 2
		} else {
			nl += 1 << 20
		}
		alloc = nl
	}
	g.qbAlloc.Store(alloc)
}

func (g *protoGuard) modelAfterRead(qlen int64) {
	g.qbLen.Store(qlen)
	if alloc := g.qbAlloc.Load(); alloc < qlen {
		g.qbAlloc.Store(qlen)
	}
	if g.qbPeak.Load() < qlen {
		g.qbPeak.Store(qlen)
	}
}

// queryBufferStats returns the modelled length and free space of the
// query buffer; current is the size of the request being run, which Redis
// still holds in it while the request runs.
func (g *protoGuard) queryBufferStats(current int64) (qlen, free int64) {
	qlen = g.qbLen.Load() + current
	alloc := max(g.qbAlloc.Load(), qlen)
	return qlen, alloc - qlen
}

// cronResize shrinks the modelled buffer as clientsCronResizeQueryBuffer.
func (g *protoGuard) cronResize(now time.Time) {
	qlen := g.qbLen.Load()
	alloc := max(g.qbAlloc.Load(), qlen)
	peak := g.qbPeak.Load()
	bulk := g.qbBulk.Load()
	idle := (now.UnixNano() - g.lastReadNs.Load()) / int64(time.Second)
	if alloc-qlen > 4<<10 {
		if idle > 2 {
			alloc = qlen
		} else if alloc > protoResizeThresh && alloc/2 > peak {
			resize := max(qlen, peak)
			if bulk != -1 && resize < bulk {
				resize = bulk
			}
			alloc = resize
		}
		g.qbAlloc.Store(alloc)
	}
	peak = qlen
	if bulk != -1 && bulk > peak {
		peak = bulk
	}
	g.qbPeak.Store(peak)
}

// guardListener wraps every accepted connection in a protoGuard.
type guardListener struct {
	net.Listener
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newProtoGuard(c, nil), nil
}

// clientGuard is the guard's policy for one client of s.
type clientGuard struct {
	s *Server
	c *Client
}

func (p clientGuard) limits() guardLimits {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return guardLimits{
		authRequired: p.s.authRequired(p.c),
		master:       p.c.flags&flagPrimary != 0,
		maxBulk:      p.s.cfg.ProtoMaxBulkLen,
		maxQuery:     p.s.cfg.ClientQueryBufferLimit,
	}
}

func (p clientGuard) protocolError(msg string) {
	p.s.mu.Lock()
	p.c.Error("ERR Protocol error: " + msg)
	p.c.closeAfterReply = true
	p.s.mu.Unlock()
	p.c.flush()
}

// guardOf returns the protocol guard of c's connection, or nil for a
// client without a socket of its own (Lua, AOF loading).
func guardOf(c *Client) *protoGuard {
	g, _ := c.nc.(*protoGuard)
	return g
}

func init() {
	serverInits = append(serverInits, func(s *Server) {
		s.hooks.cron = append(s.hooks.cron, func(now time.Time) {
			for _, c := range s.clients {
				if g := guardOf(c); g != nil {
					g.cronResize(now)
				}
			}
		})
	})
}

// watchClose watches the socket while the client's goroutine is blocked
// in a command (client pause, WAIT) and does not read: what arrives is
// buffered for later, and closed is closed when the peer goes away or
// the connection is closed (CLIENT KILL), so the command can give up as
// Redis frees a disconnected blocked client. stop ends the watch and
// returns once the watcher is done with the buffer.
func (g *protoGuard) watchClose() (closed <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		buf := make([]byte, protoIOBufLen)
		for {
			n, err := g.Conn.Read(buf)
			if n > 0 {
				g.raw = append(g.raw, buf[:n]...)
				g.lastReadNs.Store(time.Now().UnixNano())
			}
			if err == nil {
				continue
			}
			select {
			case <-quit: // the deadline set by stop
			default:
				g.readErr = err
				close(ch)
			}
			return
		}
	}()
	return ch, func() {
		close(quit)
		g.Conn.SetReadDeadline(time.Unix(1, 0))
		<-exited
		g.Conn.SetReadDeadline(time.Time{})
	}
}

// watchClientClose is watchClose for a client; a client without a
// socket of its own never closes.
func watchClientClose(c *Client) (<-chan struct{}, func()) {
	if g := guardOf(c); g != nil {
		return g.watchClose()
	}
	return nil, func() {}
}
