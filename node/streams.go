package node

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/node/ds/stream"
	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
)

// The stream type and its commands without consumer groups, as Redis
// 7.0's t_stream.c: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD,
// XSETID, XINFO STREAM/HELP. The entries live in node/ds/stream (Redis's
// listpack layout); a stream value is a *streamObj in Object.Val.
//
// What the consumer-group code (stream_groups.go) may rely on:
//   - streamID{ms, seq} with cmp, less, incr, decr, isZero, String,
//     appendTo; maxStreamID; parseStreamID (no reply) and
//     parseStreamIDOrReply (Redis's streamGenericParseIDOrReply).
//   - streamObj's fields below; streamOf(o); newStreamObj().
//   - s.streamLookupRead / s.streamLookupWrite (WRONGTYPE replied, nil
//     object when the key is missing) and s.streamCreate (XGROUP CREATE
//     MKSTREAM).
//   - st.iter(start, end, rev) and its next(): entries in range, with
//     fields and values alternating (valid until the next call);
//     st.entry(id) for XCLAIM; st.lastValidID(); st.rangeHasTombstones;
//     st.estimateDistance (lag, entries-read).
//   - emitEntry(c, id, fv) writes one entry as Redis does (a two-element
//     array: the ID and the field/value array); replyStreamID(c, id).
//   - xreadArgs/parseXreadArgs parse XREAD and XREADGROUP alike (group
//     options only when group is true); xreadReplyKey writes a key's
//     entries in XREAD's reply shape.
//   - streamGroupHooks: the groups code fills it from an init function so
//     that COPY, RDB save/load, XINFO STREAM and MEMORY USAGE cover groups
//     without this file knowing their layout.

// streamID is a stream entry ID.
type streamID struct{ ms, seq uint64 }

var maxStreamID = streamID{math.MaxUint64, math.MaxUint64}

func (a streamID) cmp(b streamID) int {
	return stream.ID{Ms: a.ms, Seq: a.seq}.Compare(stream.ID{Ms: b.ms, Seq: b.seq})
}
func (a streamID) less(b streamID) bool { return a.cmp(b) < 0 }
func (a streamID) isZero() bool         { return a.ms == 0 && a.seq == 0 }

// incr returns the next ID; false when a is the maximum (streamIncrID).
func (a streamID) incr() (streamID, bool) {
	switch {
	case a.seq != math.MaxUint64:
		return streamID{a.ms, a.seq + 1}, true
	case a.ms != math.MaxUint64:
		return streamID{a.ms + 1, 0}, true
	}
	return a, false
}

// decr returns the previous ID; false when a is 0-0 (streamDecrID).
func (a streamID) decr() (streamID, bool) {
	switch {
	case a.seq != 0:
		return streamID{a.ms, a.seq - 1}, true
	case a.ms != 0:
		return streamID{a.ms - 1, math.MaxUint64}, true
	}
	return a, false
}

func (a streamID) appendTo(b []byte) []byte {
	b = strconv.AppendUint(b, a.ms, 10)
	b = append(b, '-')
	return strconv.AppendUint(b, a.seq, 10)
}

func (a streamID) String() string { return string(a.appendTo(nil)) }

func (a streamID) pkg() stream.ID          { return stream.ID{Ms: a.ms, Seq: a.seq} }
func fromPkgID(id stream.ID) streamID      { return streamID{id.Ms, id.Seq} }
func replyStreamID(c *Client, id streamID) { c.Bulk(id.appendTo(nil)) }

const errInvalidStreamID = "ERR Invalid stream ID specified as stream command argument"

// parseStreamID is streamGenericParseIDOrReply without the reply: "-" and
// "+" (unless strict), "ms", "ms-seq", and with seqStar "ms-*" (seqGiven
// false). A missing sequence is missingSeq.
func parseStreamID(b []byte, missingSeq uint64, strict, seqStar bool) (id streamID, seqGiven, ok bool) {
	if len(b) > 127 {
		return id, false, false
	}
	if len(b) == 1 && (b[0] == '-' || b[0] == '+') {
		if strict {
			return id, false, false
		}
		if b[0] == '-' {
			return streamID{}, true, true
		}
		return maxStreamID, true, true
	}
	msPart, seqPart, hasSeq := strings.Cut(string(b), "-")
	ms, ok := parseUint64(msPart)
	if !ok {
		return id, false, false
	}
	seq := missingSeq
	seqGiven = true
	if hasSeq {
		if seqStar && seqPart == "*" {
			seq, seqGiven = 0, false
		} else if seq, ok = parseUint64(seqPart); !ok {
			return id, false, false
		}
	}
	return streamID{ms, seq}, seqGiven, true
}

// parseUint64 is Redis's string2ull: an optional sign is refused, but
// string2ull accepts what strtoull does after its own checks; Redis's
// version takes "0"-prefixed digits and nothing else.
func parseUint64(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	if s[0] == '-' {
		// string2ull falls back to string2ll and refuses negatives.
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// parseStreamIDOrReply parses a non-special ID argument (strict) or any
// ID, replying the error on failure.
func parseStreamIDOrReply(c *Client, b []byte, missingSeq uint64, strict bool) (streamID, bool) {
	id, _, ok := parseStreamID(b, missingSeq, strict, false)
	if !ok {
		c.Error(errInvalidStreamID)
	}
	return id, ok
}

// streamObj is a stream value (Redis's struct stream).
type streamObj struct {
	entries *stream.Stream
	length  uint64
	// lastID is the greatest ID ever generated (XSETID may raise it);
	// firstID the first live entry's (0-0 when empty); maxDeletedID the
	// greatest ID deleted by XDEL.
	lastID, firstID, maxDeletedID streamID
	entriesAdded                  uint64
	groups                        *streamGroups // nil when none
}

func newStreamObj() *streamObj { return &streamObj{entries: stream.New()} }

// streamOf returns the stream of a stream object.
func streamOf(o *keyspace.Object) *streamObj { return o.Val.(*streamObj) }

func newStreamObject(st *streamObj) keyspace.Object {
	return keyspace.Object{Type: keyspace.TypeStream, Enc: keyspace.EncStream, Val: st}
}

// streamGroupHooks connect consumer groups (stream_groups.go) to the
// type-wide operations here. Each is nil until registered.
var streamGroupHooks struct {
	// dup deep-copies the groups of src for dst (COPY).
	dup func(g *streamGroups) *streamGroups
	// count is the number of groups (XINFO STREAM's "groups").
	count func(g *streamGroups) int
	// infoFull writes XINFO STREAM FULL's "groups" value.
	infoFull func(c *Client, st *streamObj, count int64)
	// memory estimates the groups' size for MEMORY USAGE.
	memory func(g *streamGroups) int64
	// save and load write and read the groups' part of an RDB value
	// (after the stream metadata): see stream_rdb.go. rdbType is the RDB
	// type byte being read (15 lacks entries_read).
	save func(w *rdb.Writer, st *streamObj)
	load func(r *rdb.Reader, st *streamObj, rdbType byte, deep bool) error
}

func init() {
	register(map[string]handler{
		"xadd":         xaddCommand,
		"xrange":       xrangeCommand,
		"xrevrange":    xrevrangeCommand,
		"xlen":         xlenCommand,
		"xdel":         xdelCommand,
		"xtrim":        xtrimCommand,
		"xread":        xreadCommand,
		"xsetid":       xsetidCommand,
		"xinfo|stream": xinfoStreamCommand,
		"xinfo|help":   xinfoHelpCommand,
	})
	registerTypeOps(keyspace.TypeStream, typeOps{
		dup: dupStream,
		freeEffort: func(o *keyspace.Object) int {
			st := streamOf(o)
			return st.entries.NumNodes() + 1
		},
	})
	registerDebugType(keyspace.TypeStream, &debugTypeHooks{digest: streamDigest})
	registerMemoryUsage(keyspace.TypeStream, streamMemory)
}

func dupStream(o *keyspace.Object) keyspace.Object {
	src := streamOf(o)
	st := *src
	st.entries = src.entries.Clone()
	st.groups = nil
	if src.groups != nil && streamGroupHooks.dup != nil {
		st.groups = streamGroupHooks.dup(src.groups)
	}
	return newStreamObject(&st)
}

// streamDigest is xorObjectDigest for a stream: every entry's ID (as
// "ms.seq"), fields and values mixed in order; groups are left out, as
// in Redis 7.0.
func streamDigest(d *digestState, o *keyspace.Object) {
	st := streamOf(o)
	it := st.iter(streamID{}, maxStreamID, false)
	var buf []byte
	for {
		id, fv, ok := it.next()
		if !ok {
			break
		}
		buf = strconv.AppendUint(buf[:0], id.ms, 10)
		buf = append(buf, '.')
		buf = strconv.AppendUint(buf, id.seq, 10)
		d.mix(buf)
		for _, x := range fv {
			d.mix(x)
		}
	}
}

// streamMemory is objectComputeSize for a stream: the listpacks, the
// index, and the groups' estimate.
func streamMemory(o *keyspace.Object, samples int64) int64 {
	st := streamOf(o)
	n := int64(robjSize) + 72 + int64(st.entries.Bytes())
	if st.groups != nil && streamGroupHooks.memory != nil {
		n += streamGroupHooks.memory(st.groups)
	}
	return n
}

// streamLookupRead finds key for a read: nil object when missing, false
// after replying WRONGTYPE.
func (s *Server) streamLookupRead(c *Client, key []byte) (*streamObj, bool) {
	o := s.lookupRead(c.db, key)
	if o == nil {
		return nil, true
	}
	if o.Type != keyspace.TypeStream {
		c.Error(errWrongType)
		return nil, false
	}
	return streamOf(o), true
}

// streamLookupWrite is streamLookupRead for a write.
func (s *Server) streamLookupWrite(c *Client, key []byte) (*streamObj, bool) {
	o := s.lookupWrite(c.db, key)
	if o == nil {
		return nil, true
	}
	if o.Type != keyspace.TypeStream {
		c.Error(errWrongType)
		return nil, false
	}
	return streamOf(o), true
}

// streamCreate adds an empty stream at key in db (which must not exist).
func (s *Server) streamCreate(db *DB, key []byte) *streamObj {
	st := newStreamObj()
	s.setKey(db, key, newStreamObject(st), false)
	return st
}

func (st *streamObj) limits(s *Server) stream.Limits {
	return stream.Limits{MaxBytes: int(s.cfg.StreamNodeMaxBytes), MaxEntries: int(s.cfg.StreamNodeMaxEntries)}
}

// streamIter walks the live entries of a range.
type streamIter struct{ it *stream.Iterator }

// iter returns an iterator over the live entries with start <= ID <= end.
func (st *streamObj) iter(start, end streamID, rev bool) streamIter {
	return streamIter{st.entries.Iter(start.pkg(), end.pkg(), rev)}
}

// next returns the next entry; fv alternates fields and values and is
// valid until the next call or change to the stream.
func (it streamIter) next() (streamID, [][]byte, bool) {
	id, fv, ok := it.it.Next()
	return fromPkgID(id), fv, ok
}

// entry returns the fields and values of the live entry id.
func (st *streamObj) entry(id streamID) ([][]byte, bool) { return st.entries.Get(id.pkg()) }

// lastValidID is the ID of the last live entry (streamLastValidID).
func (st *streamObj) lastValidID() (streamID, bool) {
	id, _, ok := st.iter(streamID{}, maxStreamID, true).next()
	return id, ok
}

// firstValidID is streamGetEdgeID for the first entry, skipping
// tombstones: the first live ID, or the max ID when empty.
func (st *streamObj) firstValidID() streamID {
	id, _, ok := st.iter(streamID{}, maxStreamID, false).next()
	if !ok {
		return maxStreamID
	}
	return id
}

// rangeHasTombstones is streamRangeHasTombstones; end nil means the max.
func (st *streamObj) rangeHasTombstones(start streamID, end *streamID) bool {
	if st.length == 0 || st.maxDeletedID.isZero() {
		return false
	}
	if st.firstID.cmp(st.maxDeletedID) > 0 {
		return false
	}
	e := maxStreamID
	if end != nil {
		e = *end
	}
	return start.cmp(st.maxDeletedID) <= 0 && st.maxDeletedID.cmp(e) <= 0
}

// estimateDistance is streamEstimateDistanceFromFirstEverEntry; ok false
// is Redis's SCG_INVALID_ENTRIES_READ.
func (st *streamObj) estimateDistance(id streamID) (uint64, bool) {
	if st.entriesAdded == 0 {
		return 0, true
	}
	if st.length == 0 && id.cmp(st.lastID) < 1 {
		return st.entriesAdded, true
	}
	cmpLast := id.cmp(st.lastID)
	if cmpLast == 0 {
		return st.entriesAdded, true
	} else if cmpLast > 0 {
		return 0, false
	}
	cmpFirst := id.cmp(st.firstID)
	if st.maxDeletedID.isZero() || st.maxDeletedID.less(st.firstID) {
		if cmpFirst < 0 {
			return st.entriesAdded - st.length, true
		} else if cmpFirst == 0 {
			return st.entriesAdded - st.length + 1, true
		}
	}
	return 0, false
}

// emitEntry writes one entry: [id, [field, value, ...]].
func emitEntry(c *Client, id streamID, fv [][]byte) {
	c.ArrayLen(2)
	replyStreamID(c, id)
	c.ArrayLen(len(fv))
	for _, x := range fv {
		c.Bulk(x)
	}
}

// replyRange writes the entries of a range as an array (count 0: all)
// and returns how many.
func (st *streamObj) replyRange(c *Client, start, end streamID, count int64, rev bool) int64 {
	d := c.DeferLen()
	n := st.emitRange(c, start, end, count, rev)
	c.SetArrayLen(d, int(n))
	return n
}

// emitRange writes the entries of a range without the array header.
func (st *streamObj) emitRange(c *Client, start, end streamID, count int64, rev bool) int64 {
	var n int64
	it := st.iter(start, end, rev)
	for count == 0 || n < count {
		id, fv, ok := it.next()
		if !ok {
			break
		}
		emitEntry(c, id, fv)
		n++
	}
	return n
}

// Trimming (streamAddTrimArgs).
const (
	trimNone = iota
	trimMaxLen
	trimMinID
)

type streamTrimArgs struct {
	id         streamID // XADD's ID
	idGiven    bool
	seqGiven   bool
	noMkstream bool
	strategy   int
	argIdx     int // index of MAXLEN/MINID's value, for the rewrite
	approx     bool
	limit      int64
	maxLen     int64
	minID      streamID
}

// parseAddTrimArgs is streamParseAddOrTrimArgsOrReply: it returns the
// index of XADD's ID, or -1 after replying an error.
func (s *Server) parseAddTrimArgs(c *Client, args [][]byte, xadd bool) (streamTrimArgs, int) {
	var a streamTrimArgs
	limitGiven := false
	i := 2
	for ; i < len(args); i++ {
		more := len(args) - 1 - i
		opt := args[i]
		switch {
		case xadd && len(opt) == 1 && opt[0] == '*':
			goto done
		case strings.EqualFold(string(opt), "maxlen") && more > 0,
			strings.EqualFold(string(opt), "minid") && more > 0:
			if a.strategy != trimNone {
				c.Error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
				return a, -1
			}
			a.approx = false
			next := args[i+1]
			if more >= 2 && len(next) == 1 && next[0] == '~' {
				a.approx = true
				i++
			} else if more >= 2 && len(next) == 1 && next[0] == '=' {
				i++
			}
			if strings.EqualFold(string(opt), "maxlen") {
				n, ok := parseInt64Strict(args[i+1])
				if !ok {
					c.Error(errNotInt)
					return a, -1
				}
				if n < 0 {
					c.Error("ERR The MAXLEN argument must be >= 0.")
					return a, -1
				}
				a.maxLen, a.strategy = n, trimMaxLen
			} else {
				id, ok := parseStreamIDOrReply(c, args[i+1], 0, true)
				if !ok {
					return a, -1
				}
				a.minID, a.strategy = id, trimMinID
			}
			i++
			a.argIdx = i
		case strings.EqualFold(string(opt), "limit") && more > 0:
			n, ok := parseInt64Strict(args[i+1])
			if !ok {
				c.Error(errNotInt)
				return a, -1
			}
			if n < 0 {
				c.Error("ERR The LIMIT argument must be >= 0.")
				return a, -1
			}
			a.limit, limitGiven = n, true
			i++
		case xadd && strings.EqualFold(string(opt), "nomkstream"):
			a.noMkstream = true
		case xadd:
			id, seqGiven, ok := parseStreamID(opt, 0, true, true)
			if !ok {
				c.Error(errInvalidStreamID)
				return a, -1
			}
			a.id, a.seqGiven, a.idGiven = id, seqGiven, true
			goto done
		default:
			c.Error(errSyntax)
			return a, -1
		}
	}
done:
	if a.limit != 0 && a.strategy == trimNone {
		c.Error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
		return a, -1
	}
	if !xadd && a.strategy == trimNone {
		c.Error("ERR syntax error, XTRIM must be called with a trimming strategy")
		return a, -1
	}
	if c.flags&flagPrimary != 0 || s.persist().loading {
		// The primary (or the AOF) has approximate trims rewritten into
		// exact ones, which must apply as they are (mustObeyClient).
		a.limit = 0
	} else if limitGiven {
		if !a.approx {
			c.Error("ERR syntax error, LIMIT cannot be used without the special ~ option")
			return a, -1
		}
	} else if a.approx {
		a.limit = 100 * s.cfg.StreamNodeMaxEntries
		if a.limit <= 0 {
			a.limit = 10000
		}
		if a.limit > 1000000 {
			a.limit = 1000000
		}
	} else {
		a.limit = 0
	}
	return a, i
}

// trim applies a's strategy (streamTrim) and returns the entries removed.
func (st *streamObj) trim(a *streamTrimArgs) int64 {
	if a.strategy == trimNone {
		return 0
	}
	ta := stream.TrimArgs{Approx: a.approx, Limit: a.limit}
	if a.strategy == trimMaxLen {
		ta.MaxLen = uint64(a.maxLen)
	} else {
		ta.ByMinID, ta.MinID = true, a.minID.pkg()
	}
	deleted := st.entries.Trim(st.length, ta)
	st.length -= uint64(deleted)
	if st.length == 0 {
		st.firstID = streamID{}
	} else if deleted > 0 {
		st.firstID = st.firstValidID()
	}
	return deleted
}

// rewriteTrim turns an approximate trim into the exact one it did, for
// propagation (streamRewriteApproxSpecifier + streamRewriteTrimArgument):
// MAXLEN = <length> or MINID = <first ID, deleted entries included>.
func (st *streamObj) rewriteTrim(argv [][]byte, a *streamTrimArgs) {
	argv[a.argIdx-1] = argEquals
	if a.strategy == trimMaxLen {
		argv[a.argIdx] = strconv.AppendUint(nil, st.length, 10)
		return
	}
	first := maxStreamID
	it := st.entries.Iter(stream.ID{}, stream.MaxID, false)
	it.Tombstones = true
	if id, _, ok := it.Next(); ok {
		first = fromPkgID(id)
	}
	argv[a.argIdx] = first.appendTo(nil)
}

var argEquals = []byte("=")

func xaddCommand(s *Server, c *Client, args [][]byte) {
	a, idPos := s.parseAddTrimArgs(c, args, true)
	if idPos < 0 {
		return
	}
	fieldPos := idPos + 1
	if n := len(args) - fieldPos; n < 2 || n%2 == 1 {
		c.Error("ERR wrong number of arguments for 'xadd' command")
		return
	}
	if a.idGiven && a.seqGiven && a.id.isZero() {
		c.Error("ERR The ID specified in XADD must be greater than 0-0")
		return
	}
	db, key := c.db, args[1]
	st, ok := s.streamLookupWrite(c, key)
	if !ok {
		return
	}
	created := false
	if st == nil {
		if a.noMkstream {
			c.Null()
			return
		}
		st = newStreamObj()
		created = true
	}
	if st.lastID == maxStreamID {
		c.Error("ERR The stream has exhausted the last possible ID, unable to add more items")
		return
	}
	// The new ID (streamAppendItem).
	var id streamID
	switch {
	case !a.idGiven:
		// The wall clock, as Redis's mstime(): not the command's cached
		// time, which a long script or MULTI would hold still.
		id = streamNextID(st.lastID, time.Now().UnixMilli())
	case a.seqGiven:
		id = a.id
	default:
		if st.lastID.ms == a.id.ms {
			if st.lastID.seq == math.MaxUint64 {
				// Redis fails here without setting errno and so
				// answers with its other error.
				c.Error("ERR Elements are too large to be stored")
				return
			}
			id = streamID{a.id.ms, st.lastID.seq + 1}
		} else {
			id = a.id
		}
	}
	if id.cmp(st.lastID) <= 0 {
		c.Error("ERR The ID specified in XADD is equal or smaller than the target stream top item")
		return
	}
	total := 0
	for _, v := range args[fieldPos:] {
		total += len(v)
	}
	if total > stream.MaxListpackSize {
		c.Error("ERR Elements are too large to be stored")
		return
	}
	if created {
		s.setKey(db, key, newStreamObject(st), false)
	}
	st.entries.Append(id.pkg(), args[fieldPos:], st.limits(s))
	st.length++
	st.entriesAdded++
	st.lastID = id
	if st.length == 1 {
		st.firstID = id
	}
	var idBuf [41]byte
	c.Bulk(id.appendTo(idBuf[:0]))
	s.keyModified(db, key)
	s.notify(notifyStream, "xadd", key, db.id)
	s.dirty++

	rewrite := false
	if a.strategy != trimNone {
		if st.trim(&a) > 0 {
			s.notify(notifyStream, "xtrim", key, db.id)
		}
		rewrite = a.approx
	}
	if !s.propagating() {
		// Nothing consumes the effect: spare building it.
	} else if rewrite || !a.idGiven || !a.seqGiven {
		// Propagate the effect: the generated ID, the exact trim.
		argv := append([][]byte(nil), args...)
		if rewrite {
			st.rewriteTrim(argv, &a)
		}
		if !a.idGiven || !a.seqGiven {
			argv[idPos] = id.appendTo(nil)
		}
		s.propagate(db.id, argv)
	} else {
		s.propagate(db.id, args)
	}
	s.signalReady(db, key)
}

// streamNextID is streamNextID: the current ms time when it is past the
// last ID, else the last ID plus one.
func streamNextID(last streamID, now int64) streamID {
	ms := uint64(now)
	if ms > last.ms {
		return streamID{ms, 0}
	}
	id, _ := last.incr()
	return id
}

func xrangeCommand(s *Server, c *Client, args [][]byte)    { xrangeGeneric(s, c, args, false) }
func xrevrangeCommand(s *Server, c *Client, args [][]byte) { xrangeGeneric(s, c, args, true) }

// parseIntervalID is streamParseIntervalIDOrReply: a "(" prefix makes the
// bound exclusive (and strict).
func parseIntervalID(c *Client, b []byte, missingSeq uint64) (streamID, bool, bool) {
	if len(b) > 1 && b[0] == '(' {
		id, ok := parseStreamIDOrReply(c, b[1:], missingSeq, true)
		return id, true, ok
	}
	id, ok := parseStreamIDOrReply(c, b, missingSeq, false)
	return id, false, ok
}

func xrangeGeneric(s *Server, c *Client, args [][]byte, rev bool) {
	startArg, endArg := args[2], args[3]
	if rev {
		startArg, endArg = endArg, startArg
	}
	start, ex, ok := parseIntervalID(c, startArg, 0)
	if !ok {
		return
	}
	if ex {
		if start, ok = start.incr(); !ok {
			c.Error("ERR invalid start ID for the interval")
			return
		}
	}
	end, ex, ok := parseIntervalID(c, endArg, math.MaxUint64)
	if !ok {
		return
	}
	if ex {
		if end, ok = end.decr(); !ok {
			c.Error("ERR invalid end ID for the interval")
			return
		}
	}
	count := int64(-1)
	for j := 4; j < len(args); j++ {
		if strings.EqualFold(string(args[j]), "count") && j+1 < len(args) {
			n, ok := parseInt64Strict(args[j+1])
			if !ok {
				c.Error(errNotInt)
				return
			}
			count = max(n, 0)
			j++
		} else {
			c.Error(errSyntax)
			return
		}
	}
	st, ok := s.streamLookupRead(c, args[1])
	if !ok {
		return
	}
	if st == nil {
		c.ArrayLen(0)
		return
	}
	if count == 0 {
		c.NullArray()
		return
	}
	if count < 0 {
		count = 0
	}
	st.replyRange(c, start, end, count, rev)
}

func xlenCommand(s *Server, c *Client, args [][]byte) {
	st, ok := s.streamLookupRead(c, args[1])
	if !ok {
		return
	}
	if st == nil {
		c.Int(0)
		return
	}
	c.Int(int64(st.length))
}

func xdelCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	st, ok := s.streamLookupWrite(c, key)
	if !ok {
		return
	}
	if st == nil {
		c.Int(0)
		return
	}
	ids := make([]streamID, 0, len(args)-2)
	for _, a := range args[2:] {
		id, ok := parseStreamIDOrReply(c, a, 0, true)
		if !ok {
			return
		}
		ids = append(ids, id)
	}
	deleted := int64(0)
	firstGone := false
	for _, id := range ids {
		if !st.entries.Delete(id.pkg()) {
			continue
		}
		st.length--
		if id == st.firstID {
			firstGone = true
		}
		if id.cmp(st.maxDeletedID) > 0 {
			st.maxDeletedID = id
		}
		deleted++
	}
	if deleted > 0 {
		if st.length == 0 {
			st.firstID = streamID{}
		} else if firstGone {
			st.firstID = st.firstValidID()
		}
		s.keyModified(db, key)
		s.notify(notifyStream, "xdel", key, db.id)
		s.dirty += deleted
		s.propagate(db.id, args)
	}
	c.Int(deleted)
}

func xtrimCommand(s *Server, c *Client, args [][]byte) {
	a, idx := s.parseAddTrimArgs(c, args, false)
	if idx < 0 {
		return
	}
	db, key := c.db, args[1]
	st, ok := s.streamLookupWrite(c, key)
	if !ok {
		return
	}
	if st == nil {
		c.Int(0)
		return
	}
	deleted := st.trim(&a)
	if deleted > 0 {
		s.notify(notifyStream, "xtrim", key, db.id)
		argv := args
		if a.approx {
			argv = append([][]byte(nil), args...)
			st.rewriteTrim(argv, &a)
		}
		s.keyModified(db, key)
		s.dirty += deleted
		s.propagate(db.id, argv)
	}
	c.Int(deleted)
}

func xsetidCommand(s *Server, c *Client, args [][]byte) {
	id, ok := parseStreamIDOrReply(c, args[2], 0, true)
	if !ok {
		return
	}
	entriesAdded := int64(-1)
	var maxDel streamID
	for i := 3; i < len(args); i += 2 {
		more := len(args) - 1 - i
		switch {
		case strings.EqualFold(string(args[i]), "entriesadded") && more > 0:
			n, ok := parseInt64Strict(args[i+1])
			if !ok {
				c.Error(errNotInt)
				return
			}
			if n < 0 {
				c.Error("ERR entries_added must be positive")
				return
			}
			entriesAdded = n
		case strings.EqualFold(string(args[i]), "maxdeletedid") && more > 0:
			if maxDel, ok = parseStreamIDOrReply(c, args[i+1], 0, true); !ok {
				return
			}
			if id.less(maxDel) {
				c.Error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
				return
			}
		default:
			c.Error(errSyntax)
			return
		}
	}
	db, key := c.db, args[1]
	st, ok := s.streamLookupWrite(c, key)
	if !ok {
		return
	}
	if st == nil {
		c.Error(errNoKey)
		return
	}
	if st.length > 0 {
		top, _ := st.lastValidID()
		if id.less(top) {
			c.Error("ERR The ID specified in XSETID is smaller than the target stream top item")
			return
		}
		if entriesAdded != -1 && st.length > uint64(entriesAdded) {
			c.Error("ERR The entries_added specified in XSETID is smaller than the target stream length")
			return
		}
	}
	st.lastID = id
	if entriesAdded != -1 {
		st.entriesAdded = uint64(entriesAdded)
	}
	if !maxDel.isZero() {
		st.maxDeletedID = maxDel
	}
	c.OK()
	s.keyModified(db, key)
	s.dirty++
	s.notify(notifyStream, "xsetid", key, db.id)
	s.propagate(db.id, args)
}

// xreadArgs are XREAD's (and XREADGROUP's) parsed arguments.
type xreadArgs struct {
	timeout  int64 // deadline in unix ms; 0 none; -1 no BLOCK
	count    int64
	keys     [][]byte
	idArgs   [][]byte
	group    []byte
	consumer []byte
	noack    bool
}

// parseXreadArgs parses the options up to STREAMS and splits keys from
// IDs; group enables GROUP and NOACK (XREADGROUP). It replies the error
// and returns false on failure.
func (s *Server) parseXreadArgs(c *Client, args [][]byte, group bool) (xreadArgs, bool) {
	a := xreadArgs{timeout: -1}
	name := strings.ToUpper(string(args[0]))
	streamsAt := 0
	for i := 1; i < len(args) && streamsAt == 0; i++ {
		more := len(args) - i - 1
		opt := strings.ToLower(string(args[i]))
		switch {
		case opt == "block" && more > 0:
			if c.flags&flagLuaClient != 0 {
				c.Error(fmt.Sprintf("ERR %s command is not allowed with BLOCK option from scripts", string(args[0])))
				return a, false
			}
			i++
			d, ok := s.parseTimeoutMs(c, args[i])
			if !ok {
				return a, false
			}
			a.timeout = d
		case opt == "count" && more > 0:
			i++
			n, ok := parseInt64Strict(args[i])
			if !ok {
				c.Error(errNotInt)
				return a, false
			}
			a.count = max(n, 0)
		case opt == "streams" && more > 0:
			streamsAt = i + 1
			n := len(args) - streamsAt
			if n%2 != 0 {
				c.Error("ERR Unbalanced " + name + " list of streams: for each stream key an ID or '$' must be specified.")
				return a, false
			}
			a.keys = args[streamsAt : streamsAt+n/2]
			a.idArgs = args[streamsAt+n/2:]
		case opt == "group" && more >= 2:
			if !group {
				c.Error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
				return a, false
			}
			a.group, a.consumer = args[i+1], args[i+2]
			i += 2
		case opt == "noack":
			if !group {
				c.Error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
				return a, false
			}
			a.noack = true
		default:
			c.Error(errSyntax)
			return a, false
		}
	}
	if streamsAt == 0 {
		c.Error(errSyntax)
		return a, false
	}
	if group && a.group == nil {
		c.Error("ERR Missing GROUP option for XREADGROUP")
		return a, false
	}
	return a, true
}

// parseTimeoutMs parses a blocking timeout in milliseconds
// (getTimeoutFromObjectOrReply with UNIT_MILLISECONDS: an integer) into
// a deadline in unix ms, 0 for none.
func (s *Server) parseTimeoutMs(c *Client, arg []byte) (int64, bool) {
	ms, ok := parseInt64Strict(arg)
	if !ok {
		c.Error("ERR timeout is not an integer or out of range")
		return 0, false
	}
	if ms < 0 {
		c.Error("ERR timeout is negative")
		return 0, false
	}
	if ms == 0 {
		return 0, true
	}
	deadline := ms + time.Now().UnixMilli()
	if deadline < 0 {
		// The sum wraps in Redis too, into a time its timeout table
		// never reaches: the client waits forever.
		return 0, true
	}
	return deadline, true
}

// xreadBlockedDefaultCount bounds a blocked XREAD's reply when it gave
// no COUNT (XREAD_BLOCKED_DEFAULT_COUNT).
const xreadBlockedDefaultCount = 1000

// xreadReplyKey writes one key's part of XREAD's reply: [key, entries]
// in RESP2, key => entries in a RESP3 map (the caller wrote the map or
// array header).
func xreadReplyKey(c *Client, key []byte, st *streamObj, after streamID, count int64) {
	if c.resp == 2 {
		c.ArrayLen(2)
	}
	c.Bulk(key)
	start, _ := after.incr()
	st.replyRange(c, start, maxStreamID, count, false)
}

func xreadCommand(s *Server, c *Client, args [][]byte) {
	a, ok := s.parseXreadArgs(c, args, false)
	if !ok {
		return
	}
	ids := make([]streamID, len(a.keys))
	for i, key := range a.keys {
		o := s.lookupRead(c.db, key)
		if o != nil && o.Type != keyspace.TypeStream {
			c.Error(errWrongType)
			return
		}
		arg := a.idArgs[i]
		if len(arg) == 1 && arg[0] == '$' {
			if o != nil {
				ids[i] = streamOf(o).lastID
			}
			continue
		}
		if len(arg) == 1 && arg[0] == '>' {
			c.Error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
			return
		}
		id, ok := parseStreamIDOrReply(c, arg, 0, true)
		if !ok {
			return
		}
		ids[i] = id
	}
	var d deferred
	n := 0
	for i, key := range a.keys {
		o := s.lookupRead(c.db, key)
		if o == nil {
			continue
		}
		st := streamOf(o)
		if st.length == 0 {
			continue
		}
		if top, _ := st.lastValidID(); top.cmp(ids[i]) <= 0 {
			continue
		}
		if n == 0 {
			d = c.DeferLen()
		}
		n++
		xreadReplyKey(c, key, st, ids[i], a.count)
	}
	if n > 0 {
		if c.resp == 2 {
			c.SetArrayLen(d, n)
		} else {
			c.SetMapLen(d, n)
		}
		return
	}
	if a.timeout == -1 || denyBlocking(c) {
		c.NullArray()
		return
	}
	count := a.count
	if count == 0 {
		count = xreadBlockedDefaultCount
	}
	// The keys and IDs outlive the request buffer while the client waits.
	waitIDs := make(map[string]streamID, len(a.keys))
	keys := make([][]byte, len(a.keys))
	for i, key := range a.keys {
		keys[i] = append([]byte(nil), key...)
		if _, dup := waitIDs[string(key)]; !dup {
			waitIDs[string(key)] = ids[i]
		}
	}
	s.blockForKeys(c, keys, a.timeout, func(key []byte) bool {
		return s.serveBlockedXread(c, key, waitIDs[string(key)], count)
	}, nil)
}

// serveBlockedXread serves a client blocked in XREAD on key when the
// stream grew past the ID it waits for (serveClientsBlockedOnStreamKey).
func (s *Server) serveBlockedXread(c *Client, key []byte, after streamID, count int64) bool {
	o := s.lookupRead(c.db, key)
	if o == nil || o.Type != keyspace.TypeStream {
		return false
	}
	st := streamOf(o)
	if st.lastID.cmp(after) <= 0 {
		return false
	}
	if c.resp == 2 {
		c.ArrayLen(1)
	} else {
		c.MapLen(1)
	}
	xreadReplyKey(c, key, st, after, count)
	return true
}

var xinfoHelp = []string{
	"CONSUMERS <key> <groupname>",
	"    Show consumers of <groupname>.",
	"GROUPS <key>",
	"    Show the stream consumer groups.",
	"STREAM <key> [FULL [COUNT <count>]",
	"    Show information about the stream.",
}

func xinfoHelpCommand(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], xinfoHelp) }

func xinfoStreamCommand(s *Server, c *Client, args [][]byte) {
	full := false
	count := int64(10)
	opts := args[3:]
	if len(opts) > 0 {
		if (len(opts) != 1 && len(opts) != 3) || !strings.EqualFold(string(opts[0]), "full") {
			subcommandSyntaxError(c, args)
			return
		}
		full = true
		if len(opts) == 3 {
			if !strings.EqualFold(string(opts[1]), "count") {
				subcommandSyntaxError(c, args)
				return
			}
			n, ok := parseInt64Strict(opts[2])
			if !ok {
				c.Error(errNotInt)
				return
			}
			if n < 0 {
				n = 10
			}
			count = n
		}
	}
	st, ok := s.streamLookupRead(c, args[2])
	if !ok {
		return
	}
	if st == nil {
		c.Error(errNoKey)
		return
	}
	if full {
		c.MapLen(9)
	} else {
		c.MapLen(10)
	}
	c.BulkString("length")
	c.Int(int64(st.length))
	c.BulkString("radix-tree-keys")
	c.Int(int64(st.entries.NumNodes()))
	c.BulkString("radix-tree-nodes")
	c.Int(int64(raxNodes(st.entries.Nodes())))
	c.BulkString("last-generated-id")
	replyStreamID(c, st.lastID)
	c.BulkString("max-deleted-entry-id")
	replyStreamID(c, st.maxDeletedID)
	c.BulkString("entries-added")
	c.Int(int64(st.entriesAdded))
	c.BulkString("recorded-first-entry-id")
	replyStreamID(c, st.firstID)
	if !full {
		c.BulkString("groups")
		groups := 0
		if st.groups != nil && streamGroupHooks.count != nil {
			groups = streamGroupHooks.count(st.groups)
		}
		c.Int(int64(groups))
		c.BulkString("first-entry")
		if st.emitRange(c, streamID{}, maxStreamID, 1, false) == 0 {
			c.Null()
		}
		c.BulkString("last-entry")
		if st.emitRange(c, streamID{}, maxStreamID, 1, true) == 0 {
			c.Null()
		}
		return
	}
	c.BulkString("entries")
	st.replyRange(c, streamID{}, maxStreamID, count, false)
	c.BulkString("groups")
	if st.groups == nil || streamGroupHooks.infoFull == nil {
		c.ArrayLen(0)
		return
	}
	streamGroupHooks.infoFull(c, st, count)
}

// raxNodes is the number of nodes of the radix tree Redis would hold
// for these node keys (XINFO's radix-tree-nodes): a compressed node per
// run of bytes all keys below share, a branching node where they part,
// a node per key; 1 for the empty tree's root.
func raxNodes(nodes []*stream.Node) int {
	keys := make([][]byte, len(nodes))
	for i, nd := range nodes {
		keys[i] = nd.Master.Encode(nil)
	}
	if len(keys) == 0 {
		return 1
	}
	return raxCount(keys, 0)
}

// raxCount counts the nodes under the prefix keys[0][:depth]; keys are
// sorted, distinct and 16 bytes long.
func raxCount(keys [][]byte, depth int) int {
	if depth == 16 {
		return 1
	}
	first, last := keys[0], keys[len(keys)-1]
	lcp := 0
	for depth+lcp < 16 && first[depth+lcp] == last[depth+lcp] {
		lcp++
	}
	if lcp > 0 {
		return 1 + raxCount(keys, depth+lcp)
	}
	n := 1
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j][depth] == keys[i][depth] {
			j++
		}
		n += raxCount(keys[i:j], depth+1)
		i = j
	}
	return n
}
