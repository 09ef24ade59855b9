package node

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/dict"
	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/skiplist"
	"github.com/keyfleet/keyfleet/node/keyspace"
)

// Sorted sets, as Redis 7.0's t_zset.c. Two encodings, as OBJECT ENCODING
// names them: "listpack", member/score entry pairs ordered by score then
// member in one listpack (Object.Str), for sets within
// zset-max-listpack-entries and zset-max-listpack-value; and "skiplist",
// a skiplist plus a dict from member to score (Object.Val, a *zsetSL).
// A set converts to skiplist when it outgrows the limits, and back only
// when a *STORE command builds a small result.

func init() {
	register(map[string]handler{
		"zadd":             zaddCommand,
		"zincrby":          zincrbyCommand,
		"zrem":             zremCommand,
		"zcard":            zcardCommand,
		"zscore":           zscoreCommand,
		"zmscore":          zmscoreCommand,
		"zrank":            zrankCommand,
		"zrevrank":         zrevrankCommand,
		"zcount":           zcountCommand,
		"zlexcount":        zlexcountCommand,
		"zrange":           zrangeCommand,
		"zrangestore":      zrangestoreCommand,
		"zrevrange":        zrevrangeCommand,
		"zrangebyscore":    zrangebyscoreCommand,
		"zrevrangebyscore": zrevrangebyscoreCommand,
		"zrangebylex":      zrangebylexCommand,
		"zrevrangebylex":   zrevrangebylexCommand,
		"zremrangebyrank":  zremrangebyrankCommand,
		"zremrangebyscore": zremrangebyscoreCommand,
		"zremrangebylex":   zremrangebylexCommand,
		"zpopmin":          zpopminCommand,
		"zpopmax":          zpopmaxCommand,
		"zmpop":            zmpopCommand,
		"zrandmember":      zrandmemberCommand,
		"zunion":           zunionCommand,
		"zunionstore":      zunionstoreCommand,
		"zinter":           zinterCommand,
		"zinterstore":      zinterstoreCommand,
		"zintercard":       zintercardCommand,
		"zdiff":            zdiffCommand,
		"zdiffstore":       zdiffstoreCommand,
		"zscan":            zscanCommand,
	})
	registerTypeOps(keyspace.TypeZSet, typeOps{dup: dupZset, freeEffort: zsetFreeEffort})
	registerDebugType(keyspace.TypeZSet, &debugTypeHooks{digest: zsetDigest, htStats: zsetHTStats})
	registerMemoryUsage(keyspace.TypeZSet, zsetMemoryUsage)
}

const (
	errMinMaxNotFloat = "ERR min or max is not a float"
	errMinMaxNotLex   = "ERR min or max not valid string range item"
	errZsetNaN        = "ERR resulting score is not a number (NaN)"
)

var (
	argZPOPMIN = []byte("ZPOPMIN")
	argZPOPMAX = []byte("ZPOPMAX")
)

// ---------------------------------------------------------------------
// Number parsing as C's strtod, which Redis uses for scores and ranges.

func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

// cStrtod parses the longest prefix of b that glibc's strtod accepts
// (leading space, sign, decimal or hexadecimal floats, inf, infinity,
// nan, nan(...)). It returns the value, the bytes consumed (0 when there
// is no number) and whether the result overflowed or underflowed to zero
// (strtod's ERANGE in the cases Redis checks).
func cStrtod(b []byte) (v float64, n int, erange bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	start := i
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	rest := b[i:]
	switch {
	case hasPrefixFold(rest, "inf"):
		i += 3
		if hasPrefixFold(b[i:], "inity") {
			i += 5
		}
		if neg {
			return math.Inf(-1), i, false
		}
		return math.Inf(1), i, false
	case hasPrefixFold(rest, "nan"):
		i += 3
		if i < len(b) && b[i] == '(' {
			j := i + 1
			for j < len(b) && (b[j] == '_' || ('0' <= b[j] && b[j] <= '9') || ('a' <= b[j]|0x20 && b[j]|0x20 <= 'z')) {
				j++
			}
			if j < len(b) && b[j] == ')' {
				i = j + 1
			}
		}
		return math.NaN(), i, false
	case len(rest) >= 2 && rest[0] == '0' && rest[1]|0x20 == 'x':
		if v, n, er, ok := hexStrtod(b, i+2, neg); ok {
			return v, n, er
		}
		// "0x" without hex digits: only the "0" is a number.
		return 0, i + 1, false
	}
	digits, nonzero := 0, false
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		nonzero = nonzero || b[i] != '0'
		i++
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nonzero = nonzero || b[i] != '0'
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j < len(b) && b[j] >= '0' && b[j] <= '9' {
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			i = j
		}
	}
	v, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil && !math.IsInf(v, 0) {
		return 0, 0, false
	}
	return v, i, err != nil || (v == 0 && nonzero)
}

// hexStrtod parses the hexadecimal float whose digits start at b[i].
func hexStrtod(b []byte, i int, neg bool) (float64, int, bool, bool) {
	var mant []byte
	digits, nonzero := 0, false
	for i < len(b) && isHex(b[i]) {
		mant = append(mant, b[i])
		nonzero = nonzero || b[i] != '0'
		i++
		digits++
	}
	if i < len(b) && b[i] == '.' {
		j := i + 1
		frac := 0
		for j < len(b) && isHex(b[j]) {
			frac++
			j++
		}
		if digits+frac > 0 {
			mant = append(mant, b[i:j]...)
			for _, c := range b[i+1 : j] {
				nonzero = nonzero || c != '0'
			}
			digits += frac
			i = j
		}
	}
	if digits == 0 {
		return 0, 0, false, false
	}
	exp := []byte("p0")
	if i < len(b) && b[i]|0x20 == 'p' {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j < len(b) && b[j] >= '0' && b[j] <= '9' {
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			exp = append([]byte("p"), b[i+1:j]...)
			i = j
		}
	}
	s := "0x" + string(mant) + string(exp)
	if neg {
		s = "-" + s
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(v, 0) {
		return 0, 0, false, false
	}
	return v, i, err != nil || (v == 0 && nonzero), true
}

// parseScore is Redis's string2d: the whole argument, no leading space,
// no NaN, no overflow or underflow to zero.
func parseScore(b []byte) (float64, bool) {
	if len(b) == 0 || isCSpace(b[0]) {
		return 0, false
	}
	v, n, erange := cStrtod(b)
	if n != len(b) || math.IsNaN(v) || (erange && (math.IsInf(v, 0) || v == 0)) {
		return 0, false
	}
	return v, true
}

// scoreArg parses a score argument, replying msg (errNotFloat by
// default) when it is not one (getDoubleFromObjectOrReply).
func scoreArg(c *Client, b []byte, msg string) (float64, bool) {
	v, ok := parseScore(b)
	if !ok {
		if msg == "" {
			msg = errNotFloat
		}
		c.Error(msg)
	}
	return v, ok
}

// cString is b up to its first NUL byte: what C code sees of it.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// parseRangeItem parses a ZRANGEBYSCORE bound: "(" for exclusive, then
// whatever strtod reads up to the end (no NaN).
func parseRangeItem(b []byte) (v float64, ex, ok bool) {
	b = cString(b)
	if len(b) > 0 && b[0] == '(' {
		ex = true
		b = b[1:]
	}
	v, n, _ := cStrtod(b)
	if n != len(b) || math.IsNaN(v) {
		return 0, false, false
	}
	return v, ex, true
}

// parseScoreRange is Redis's zslParseRange.
func parseScoreRange(min, max []byte) (skiplist.ScoreRange, bool) {
	var r skiplist.ScoreRange
	var ok bool
	if r.Min, r.MinEx, ok = parseRangeItem(min); !ok {
		return r, false
	}
	if r.Max, r.MaxEx, ok = parseRangeItem(max); !ok {
		return r, false
	}
	return r, true
}

func parseLexItem(b []byte) (skiplist.LexBound, bool) {
	if len(b) == 0 {
		return skiplist.LexBound{}, false
	}
	switch b[0] {
	case '+':
		return skiplist.LexBound{Kind: skiplist.BoundPosInf, Ex: true}, len(cString(b)) == 1
	case '-':
		return skiplist.LexBound{Kind: skiplist.BoundNegInf, Ex: true}, len(cString(b)) == 1
	case '(':
		return skiplist.LexBound{S: string(b[1:]), Ex: true}, true
	case '[':
		return skiplist.LexBound{S: string(b[1:])}, true
	}
	return skiplist.LexBound{}, false
}

// parseLexRange is Redis's zslParseLexRange.
func parseLexRange(min, max []byte) (skiplist.LexRange, bool) {
	var r skiplist.LexRange
	var ok1, ok2 bool
	r.Min, ok1 = parseLexItem(min)
	r.Max, ok2 = parseLexItem(max)
	return r, ok1 && ok2
}

// ---------------------------------------------------------------------
// Members and scores as the encodings hold them.

const (
	zmStr = iota
	zmBytes
	zmInt
)

// zmember is a member as an encoding yields it: a skiplist's string, a
// listpack string (aliasing the listpack until it changes) or a listpack
// integer.
type zmember struct {
	s    string
	b    []byte
	i    int64
	kind uint8
}

func lpMember(e listpack.Entry) zmember {
	if e.IsInt {
		return zmember{i: e.Int, kind: zmInt}
	}
	return zmember{b: e.Str, kind: zmBytes}
}

func (m zmember) appendTo(buf []byte) []byte {
	switch m.kind {
	case zmStr:
		return append(buf, m.s...)
	case zmBytes:
		return append(buf, m.b...)
	}
	return strconv.AppendInt(buf, m.i, 10)
}

// String returns the member as a string the caller may keep.
func (m zmember) String() string {
	switch m.kind {
	case zmStr:
		return m.s
	case zmBytes:
		return string(m.b)
	}
	return strconv.FormatInt(m.i, 10)
}

func (m zmember) size() int {
	switch m.kind {
	case zmStr:
		return len(m.s)
	case zmBytes:
		return len(m.b)
	}
	var buf [20]byte
	return len(strconv.AppendInt(buf[:0], m.i, 10))
}

func (m zmember) reply(c *Client) {
	switch m.kind {
	case zmStr:
		c.BulkString(m.s)
	case zmBytes:
		c.Bulk(m.b)
	default:
		c.BulkInt(m.i)
	}
}

// d2string formats a score as Redis's d2string, the form a listpack
// stores a non-integer score in.
func d2string(buf []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, "nan"...)
	case math.IsInf(v, 1):
		return append(buf, "inf"...)
	case math.IsInf(v, -1):
		return append(buf, "-inf"...)
	case v == 0:
		if math.Signbit(v) {
			return append(buf, "-0"...)
		}
		return append(buf, '0')
	}
	if ll, ok := double2ll(v); ok {
		return strconv.AppendInt(buf, ll, 10)
	}
	return strconv.AppendFloat(buf, v, 'g', 17, 64)
}

// double2ll reports whether v is an integer that converts to int64 and
// back without loss, within Redis's safe range (±LLONG_MAX/2).
func double2ll(v float64) (int64, bool) {
	const lim = float64(math.MaxInt64 / 2)
	if v < -lim || v > lim {
		return 0, false
	}
	ll := int64(v)
	if float64(ll) == v {
		return ll, true
	}
	return 0, false
}

// ---------------------------------------------------------------------
// The listpack encoding: entry pairs member, score.

// zzlScore reads the score entry at p.
func zzlScore(lp listpack.Listpack, p int) float64 {
	e := lp.Get(p)
	if e.IsInt {
		return float64(e.Int)
	}
	// Scores this node writes are d2string's %.17g or inf/-inf, which
	// ParseFloat reads exactly as strtod; anything else (bytes loaded
	// from elsewhere) gets strtod's prefix semantics.
	if v, err := strconv.ParseFloat(string(e.Str), 64); err == nil {
		return v
	}
	b := e.Str
	if len(b) > 127 {
		b = b[:127]
	}
	v, _, _ := cStrtod(cString(b))
	return v
}

// zzlCompare compares the member entry at p with v as strings
// (zzlCompareElements).
func zzlCompare(lp listpack.Listpack, p int, v []byte) int {
	e := lp.Get(p)
	if e.IsInt {
		var buf [20]byte
		return bytes.Compare(strconv.AppendInt(buf[:0], e.Int, 10), v)
	}
	return bytes.Compare(e.Str, v)
}

// zzlFind returns the position of member ele and its score, or -1.
func zzlFind(lp listpack.Listpack, ele []byte) (int, float64) {
	for p := lp.First(); p >= 0; {
		sp := lp.Next(p)
		if lp.Compare(p, ele) {
			return p, zzlScore(lp, sp)
		}
		p = lp.Next(sp)
	}
	return -1, 0
}

// zzlInsertAt inserts (ele, score) before the member at p, or at the end
// when p is -1 (zzlInsertAt).
func zzlInsertAt(lp *listpack.Listpack, p int, ele []byte, score float64) {
	var sp int
	if p < 0 {
		lp.Append(ele)
		sp = -1
	} else {
		sp = lp.Insert(p, listpack.Before, ele)
	}
	if ll, ok := double2ll(score); ok {
		if sp < 0 {
			lp.AppendInt(ll)
		} else {
			lp.InsertInt(sp, listpack.After, ll)
		}
		return
	}
	var buf [32]byte
	sb := d2string(buf[:0], score)
	if sp < 0 {
		lp.Append(sb)
	} else {
		lp.Insert(sp, listpack.After, sb)
	}
}

// zzlInsert inserts a member that is not in the listpack at its place.
func zzlInsert(lp *listpack.Listpack, ele []byte, score float64) {
	l := *lp
	for p := l.First(); p >= 0; {
		sp := l.Next(p)
		s := zzlScore(l, sp)
		if s > score || (s == score && zzlCompare(l, p, ele) > 0) {
			zzlInsertAt(lp, p, ele, score)
			return
		}
		p = l.Next(sp)
	}
	zzlInsertAt(lp, -1, ele, score)
}

func zzlLength(lp listpack.Listpack) int { return lp.Len() / 2 }

// zzlNext and zzlPrev move a (member, score) position pair.
func zzlNext(lp listpack.Listpack, sp int) (int, int) {
	p := lp.Next(sp)
	if p < 0 {
		return -1, -1
	}
	return p, lp.Next(p)
}

func zzlPrev(lp listpack.Listpack, p int) (int, int) {
	sp := lp.Prev(p)
	if sp < 0 {
		return -1, -1
	}
	return lp.Prev(sp), sp
}

func zzlInRange(lp listpack.Listpack, r *skiplist.ScoreRange) bool {
	if r.Empty() {
		return false
	}
	last := lp.Seek(-1)
	if last < 0 || !r.GteMin(zzlScore(lp, last)) {
		return false
	}
	first := lp.Seek(1)
	return first >= 0 && r.LteMax(zzlScore(lp, first))
}

func zzlFirstInRange(lp listpack.Listpack, r *skiplist.ScoreRange) int {
	if !zzlInRange(lp, r) {
		return -1
	}
	for p := lp.First(); p >= 0; {
		sp := lp.Next(p)
		s := zzlScore(lp, sp)
		if r.GteMin(s) {
			if r.LteMax(s) {
				return p
			}
			return -1
		}
		p = lp.Next(sp)
	}
	return -1
}

func zzlLastInRange(lp listpack.Listpack, r *skiplist.ScoreRange) int {
	if !zzlInRange(lp, r) {
		return -1
	}
	for p := lp.Seek(-2); p >= 0; {
		sp := lp.Next(p)
		s := zzlScore(lp, sp)
		if r.LteMax(s) {
			if r.GteMin(s) {
				return p
			}
			return -1
		}
		p = lp.Prev(p)
		if p >= 0 {
			p = lp.Prev(p)
		}
	}
	return -1
}

// zzlMemberString returns the member at p as a string, for lex compares.
func zzlMemberString(lp listpack.Listpack, p int, buf []byte) []byte {
	return lp.Get(p).Append(buf[:0])
}

func lexGteMin(r *skiplist.LexRange, v []byte) bool { return r.GteMin(string(v)) }
func lexLteMax(r *skiplist.LexRange, v []byte) bool { return r.LteMax(string(v)) }

func zzlInLexRange(lp listpack.Listpack, r *skiplist.LexRange) bool {
	if r.Empty() {
		return false
	}
	var buf [64]byte
	last := lp.Seek(-2)
	if last < 0 || !lexGteMin(r, zzlMemberString(lp, last, buf[:])) {
		return false
	}
	first := lp.Seek(0)
	return first >= 0 && lexLteMax(r, zzlMemberString(lp, first, buf[:]))
}

func zzlFirstInLexRange(lp listpack.Listpack, r *skiplist.LexRange) int {
	if !zzlInLexRange(lp, r) {
		return -1
	}
	var buf [64]byte
	for p := lp.First(); p >= 0; {
		m := zzlMemberString(lp, p, buf[:])
		if lexGteMin(r, m) {
			if lexLteMax(r, m) {
				return p
			}
			return -1
		}
		p = lp.Next(lp.Next(p))
	}
	return -1
}

func zzlLastInLexRange(lp listpack.Listpack, r *skiplist.LexRange) int {
	if !zzlInLexRange(lp, r) {
		return -1
	}
	var buf [64]byte
	for p := lp.Seek(-2); p >= 0; {
		m := zzlMemberString(lp, p, buf[:])
		if lexLteMax(r, m) {
			if lexGteMin(r, m) {
				return p
			}
			return -1
		}
		p = lp.Prev(p)
		if p >= 0 {
			p = lp.Prev(p)
		}
	}
	return -1
}

// ---------------------------------------------------------------------
// The skiplist encoding.

// zsetSL is the skiplist encoding: the list orders, the dict finds.
// Both hold the same member strings (Go strings share their bytes).
type zsetSL struct {
	d   *dict.Dict[float64]
	zsl *skiplist.List
}

func newZsetSL(hint int) *zsetSL {
	return &zsetSL{d: dict.New[float64](hint), zsl: skiplist.New()}
}

func zsl(o *keyspace.Object) *zsetSL { return o.Val.(*zsetSL) }

func newZsetObject(sl bool) keyspace.Object {
	if sl {
		return keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncSkiplist, Val: newZsetSL(0)}
	}
	return keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncListpack, Str: listpack.New()}
}

// insert adds a member known to be absent.
func (z *zsetSL) insert(ele string, score float64) {
	z.zsl.Insert(score, ele)
	z.d.AddNew(ele, score)
}

// remove deletes ele and reports whether it was there.
func (z *zsetSL) remove(ele string) bool {
	score, ok := z.d.Pop(ele)
	if !ok {
		return false
	}
	z.zsl.Delete(score, ele)
	return true
}

// ---------------------------------------------------------------------
// Operations on either encoding.

func zsetLength(o *keyspace.Object) int {
	if o.Enc == keyspace.EncListpack {
		return zzlLength(listpack.Listpack(o.Str))
	}
	return zsl(o).zsl.Len()
}

// zsetConvert switches a sorted set between its encodings.
func zsetConvert(o *keyspace.Object, enc keyspace.Encoding) {
	if o.Enc == enc {
		return
	}
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		z := newZsetSL(zzlLength(lp))
		for p := lp.First(); p >= 0; {
			sp := lp.Next(p)
			z.insert(lp.Get(p).String(), zzlScore(lp, sp))
			p = lp.Next(sp)
		}
		o.Enc, o.Str, o.Val = keyspace.EncSkiplist, nil, z
		return
	}
	lp := listpack.New()
	var buf []byte
	for n := zsl(o).zsl.First(); n != nil; n = n.Next() {
		buf = append(buf[:0], n.Ele()...)
		zzlInsertAt(&lp, -1, buf, n.Score())
	}
	o.Enc, o.Str, o.Val = keyspace.EncListpack, lp, nil
}

// zsetConvertToListpackIfNeeded converts a skiplist result that fits the
// listpack limits.
func (s *Server) zsetConvertToListpackIfNeeded(o *keyspace.Object, maxElemLen, totElemLen int) {
	if o.Enc == keyspace.EncListpack {
		return
	}
	if int64(zsetLength(o)) <= s.cfg.ZSetMaxListpackEntries &&
		int64(maxElemLen) <= s.cfg.ZSetMaxListpackValue &&
		listpack.SafeToAdd(nil, totElemLen) {
		zsetConvert(o, keyspace.EncListpack)
	}
}

// zsetScore returns the score of member.
func zsetScore(o *keyspace.Object, member []byte) (float64, bool) {
	if o.Enc == keyspace.EncListpack {
		p, score := zzlFind(listpack.Listpack(o.Str), member)
		return score, p >= 0
	}
	return zsl(o).d.GetBytes(member)
}

// zsetScoreOf is zsetScore for a member taken from another set.
func zsetScoreOf(o *keyspace.Object, m zmember, buf []byte) (float64, bool) {
	if m.kind == zmStr && o.Enc == keyspace.EncSkiplist {
		return zsl(o).d.Get(m.s)
	}
	return zsetScore(o, m.appendTo(buf[:0]))
}

// ZADD flags in and out (zsetAdd's).
const (
	zaddIncr = 1 << iota
	zaddNX
	zaddXX
	zaddGT
	zaddLT
)

const (
	zaddOutNaN = 1 << iota
	zaddOutAdded
	zaddOutUpdated
	zaddOutNop
)

// zsetAdd adds or updates ele (Redis's zsetAdd): it returns the out flags,
// the resulting score (when not a no-op), and false when the score is or
// would become NaN.
func (s *Server) zsetAdd(o *keyspace.Object, score float64, ele []byte, flags int) (int, float64, bool) {
	incr, nx, xx := flags&zaddIncr != 0, flags&zaddNX != 0, flags&zaddXX != 0
	gt, lt := flags&zaddGT != 0, flags&zaddLT != 0
	if math.IsNaN(score) {
		return zaddOutNaN, 0, false
	}
	// update applies the options to an existing member's score.
	update := func(cur float64) (int, float64, bool) {
		if nx {
			return zaddOutNop, 0, true
		}
		if incr {
			score += cur
			if math.IsNaN(score) {
				return zaddOutNaN, 0, false
			}
		}
		if (lt && score >= cur) || (gt && score <= cur) {
			return zaddOutNop, 0, true
		}
		return 0, score, true
	}
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		if p, cur := zzlFind(lp, ele); p >= 0 {
			out, newScore, ok := update(cur)
			if out != 0 || !ok {
				return out, 0, ok
			}
			if newScore != cur {
				lp.DeleteAt(p, 2)
				zzlInsert(&lp, ele, newScore)
				o.Str = lp
				out = zaddOutUpdated
			}
			return out, newScore, true
		}
		if xx {
			return zaddOutNop, 0, true
		}
		if int64(zzlLength(lp)+1) > s.cfg.ZSetMaxListpackEntries ||
			int64(len(ele)) > s.cfg.ZSetMaxListpackValue ||
			!listpack.SafeToAdd(lp, len(ele)) {
			zsetConvert(o, keyspace.EncSkiplist)
		} else {
			zzlInsert(&lp, ele, score)
			o.Str = lp
			return zaddOutAdded, score, true
		}
	}
	z := zsl(o)
	if cur, ok := z.d.GetBytes(ele); ok {
		out, newScore, ok := update(cur)
		if out != 0 || !ok {
			return out, 0, ok
		}
		if newScore != cur {
			member := z.zsl.UpdateScore(cur, string(ele), newScore).Ele()
			*z.d.Ptr(member) = newScore
			out = zaddOutUpdated
		}
		return out, newScore, true
	}
	if xx {
		return zaddOutNop, 0, true
	}
	z.insert(string(ele), score)
	return zaddOutAdded, score, true
}

// zsetRemove deletes member and reports whether it was there (zsetDel).
func zsetRemove(o *keyspace.Object, member []byte) bool {
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		p, _ := zzlFind(lp, member)
		if p < 0 {
			return false
		}
		lp.DeleteAt(p, 2)
		o.Str = lp
		return true
	}
	z := zsl(o)
	score, ok := z.d.GetBytes(member)
	if !ok {
		return false
	}
	z.d.DeleteBytes(member)
	z.zsl.Delete(score, string(member))
	return true
}

// zsetRank returns member's 0-based rank (from the top when reverse).
func zsetRank(o *keyspace.Object, member []byte, reverse bool) (int, bool) {
	n := zsetLength(o)
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		rank := 1
		for p := lp.First(); p >= 0; p = lp.Next(lp.Next(p)) {
			if lp.Compare(p, member) {
				if reverse {
					return n - rank, true
				}
				return rank - 1, true
			}
			rank++
		}
		return 0, false
	}
	z := zsl(o)
	score, ok := z.d.GetBytes(member)
	if !ok {
		return 0, false
	}
	rank := z.zsl.Rank(score, string(member))
	if reverse {
		return n - rank, true
	}
	return rank - 1, true
}

// zsetEach calls f for each member in score order (reverse: descending)
// until it returns false; f must not change the set.
func zsetEach(o *keyspace.Object, reverse bool, f func(m zmember, score float64) bool) {
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		if reverse {
			for p := lp.Seek(-2); p >= 0; {
				if !f(lpMember(lp.Get(p)), zzlScore(lp, lp.Next(p))) {
					return
				}
				p, _ = zzlPrev(lp, p)
			}
			return
		}
		for p := lp.First(); p >= 0; {
			sp := lp.Next(p)
			if !f(lpMember(lp.Get(p)), zzlScore(lp, sp)) {
				return
			}
			p = lp.Next(sp)
		}
		return
	}
	z := zsl(o).zsl
	if reverse {
		for n := z.Last(); n != nil; n = n.Prev() {
			if !f(zmember{s: n.Ele()}, n.Score()) {
				return
			}
		}
		return
	}
	for n := z.First(); n != nil; n = n.Next() {
		if !f(zmember{s: n.Ele()}, n.Score()) {
			return
		}
	}
}

// dupZset deep-copies a sorted set keeping its encoding (zsetDup).
func dupZset(o *keyspace.Object) keyspace.Object {
	if o.Enc == keyspace.EncListpack {
		return keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncListpack, Str: listpack.Listpack(o.Str).Clone()}
	}
	src := zsl(o)
	z := newZsetSL(src.d.Len())
	// From the highest score down: each insertion stops at the head.
	for n := src.zsl.Last(); n != nil; n = n.Prev() {
		z.insert(n.Ele(), n.Score())
	}
	return keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncSkiplist, Val: z}
}

func zsetFreeEffort(o *keyspace.Object) int {
	if o.Enc == keyspace.EncListpack {
		return 1
	}
	return zsl(o).zsl.Len()
}

func zsetDigest(d *digestState, o *keyspace.Object) {
	var buf, sbuf []byte
	zsetEach(o, false, func(m zmember, score float64) bool {
		var ed digestState
		buf = m.appendTo(buf[:0])
		ed.mix(buf)
		sbuf = appendDouble(sbuf[:0], score)
		ed.mix(sbuf)
		d.xor(ed[:])
		return true
	})
}

// zsetMemoryUsage estimates the sorted set's memory as Redis's
// objectComputeSize: the listpack, or the skiplist and dict with sampled
// nodes scaled to the size.
func zsetMemoryUsage(o *keyspace.Object, samples int64) int64 {
	if o.Enc == keyspace.EncListpack {
		return robjSize + int64(jemallocSize(len(o.Str)))
	}
	z := zsl(o)
	size := int64(robjSize + redisZsetSize + redisZskiplist + redisDictSize +
		redisPtrSize*z.d.Buckets() + jemallocSize(redisZslNodeBase+skiplist.MaxLevel*redisZslLevelSize))
	var elesize, n int64
	for x := z.zsl.First(); x != nil && n < samples; x = x.Next() {
		elesize += sdsAllocSize(len(x.Ele())) + dictEntrySize + int64(jemallocSize(redisZslNodeBase+x.Level()*redisZslLevelSize))
		n++
	}
	if n > 0 {
		size += int64(float64(elesize) / float64(n) * float64(z.d.Len()))
	}
	return size
}

func zsetHTStats(o *keyspace.Object) (string, bool) {
	if o.Enc != keyspace.EncSkiplist {
		return "", false
	}
	return zsl(o).d.Stats(), true
}

// ---------------------------------------------------------------------
// Commands.

func (s *Server) lookupZsetRead(c *Client, key []byte) (*keyspace.Object, bool) {
	o := s.lookupRead(c.db, key)
	if o != nil && o.Type != keyspace.TypeZSet {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

func (s *Server) lookupZsetWrite(c *Client, key []byte) (*keyspace.Object, bool) {
	o := s.lookupWrite(c.db, key)
	if o != nil && o.Type != keyspace.TypeZSet {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

// createZsetKey stores a new, empty sorted set at key, of the encoding a
// first member of firstLen bytes calls for, and wakes clients blocked on
// the key (they are served once the command finished filling it).
func (s *Server) createZsetKey(db *DB, key []byte, firstLen int) *keyspace.Object {
	sl := s.cfg.ZSetMaxListpackEntries == 0 || s.cfg.ZSetMaxListpackValue < int64(firstLen)
	o := s.setKey(db, key, newZsetObject(sl), false)
	s.signalReady(db, key)
	return o
}

func zaddGeneric(s *Server, c *Client, args [][]byte, flags int) {
	db, key := c.db, args[1]
	ch := false
	idx := 2
	for ; idx < len(args); idx++ {
		switch {
		case isWord(args[idx], "nx"):
			flags |= zaddNX
		case isWord(args[idx], "xx"):
			flags |= zaddXX
		case isWord(args[idx], "ch"):
			ch = true
		case isWord(args[idx], "incr"):
			flags |= zaddIncr
		case isWord(args[idx], "gt"):
			flags |= zaddGT
		case isWord(args[idx], "lt"):
			flags |= zaddLT
		default:
			goto parsed
		}
	}
parsed:
	elements := len(args) - idx
	if elements%2 != 0 || elements == 0 {
		c.Error(errSyntax)
		return
	}
	elements /= 2
	incr, nx, xx := flags&zaddIncr != 0, flags&zaddNX != 0, flags&zaddXX != 0
	gt, lt := flags&zaddGT != 0, flags&zaddLT != 0
	if nx && xx {
		c.Error("ERR XX and NX options at the same time are not compatible")
		return
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		c.Error("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	}
	if incr && elements > 1 {
		c.Error("ERR INCR option supports a single increment-element pair")
		return
	}
	// Every score is parsed first: the command applies fully or not at all.
	scores := make([]float64, elements)
	for j := range scores {
		v, ok := scoreArg(c, args[idx+2*j], "")
		if !ok {
			return
		}
		scores[j] = v
	}
	o, ok := s.lookupZsetWrite(c, key)
	if !ok {
		return
	}
	added, updated, processed := 0, 0, 0
	var score float64
	if o == nil {
		if xx {
			goto reply
		}
		o = s.createZsetKey(db, key, len(args[idx+1]))
	}
	for j := 0; j < elements; j++ {
		out, newScore, ok := s.zsetAdd(o, scores[j], args[idx+2*j+1], flags)
		if !ok {
			c.Error(errZsetNaN)
			s.zaddNotify(db, key, added, updated, incr)
			return
		}
		if out&zaddOutAdded != 0 {
			added++
		}
		if out&zaddOutUpdated != 0 {
			updated++
		}
		if out&zaddOutNop == 0 {
			processed++
			score = newScore
		}
	}
	s.dirty += int64(added + updated)
	if added+updated > 0 {
		s.propagate(db.id, args)
	}
reply:
	if incr {
		if processed > 0 {
			c.Double(score)
		} else {
			c.Null()
		}
	} else if ch {
		c.Int(int64(added + updated))
	} else {
		c.Int(int64(added))
	}
	s.zaddNotify(db, key, added, updated, incr)
}

func (s *Server) zaddNotify(db *DB, key []byte, added, updated int, incr bool) {
	if added+updated == 0 {
		return
	}
	s.keyModified(db, key)
	if incr {
		s.notify(notifyZSet, "zincr", key, db.id)
	} else {
		s.notify(notifyZSet, "zadd", key, db.id)
	}
}

func zaddCommand(s *Server, c *Client, args [][]byte)    { zaddGeneric(s, c, args, 0) }
func zincrbyCommand(s *Server, c *Client, args [][]byte) { zaddGeneric(s, c, args, zaddIncr) }

func zremCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o, ok := s.lookupZsetWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	deleted, removed := 0, false
	for _, m := range args[2:] {
		if zsetRemove(o, m) {
			deleted++
		}
		if zsetLength(o) == 0 {
			db.ks.Delete(key)
			removed = true
			break
		}
	}
	if deleted > 0 {
		s.notify(notifyZSet, "zrem", key, db.id)
		if removed {
			s.notify(notifyGeneric, "del", key, db.id)
		}
		s.keyModified(db, key)
		s.dirty += int64(deleted)
		s.propagate(db.id, args)
	}
	c.Int(int64(deleted))
}

func zcardCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	c.Int(int64(zsetLength(o)))
}

func zscoreCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	if score, ok := zsetScore(o, args[2]); ok {
		c.Double(score)
	} else {
		c.Null()
	}
}

func zmscoreCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	c.ArrayLen(len(args) - 2)
	for _, m := range args[2:] {
		if o == nil {
			c.Null()
			continue
		}
		if score, ok := zsetScore(o, m); ok {
			c.Double(score)
		} else {
			c.Null()
		}
	}
}

func zrankGeneric(s *Server, c *Client, args [][]byte, reverse bool) {
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	if rank, ok := zsetRank(o, args[2], reverse); ok {
		c.Int(int64(rank))
	} else {
		c.Null()
	}
}

func zrankCommand(s *Server, c *Client, args [][]byte)    { zrankGeneric(s, c, args, false) }
func zrevrankCommand(s *Server, c *Client, args [][]byte) { zrankGeneric(s, c, args, true) }

func zcountCommand(s *Server, c *Client, args [][]byte) {
	r, ok := parseScoreRange(args[2], args[3])
	if !ok {
		c.Error(errMinMaxNotFloat)
		return
	}
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	count := 0
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		for p := zzlFirstInRange(lp, &r); p >= 0; {
			sp := lp.Next(p)
			if !r.LteMax(zzlScore(lp, sp)) {
				break
			}
			count++
			p = lp.Next(sp)
		}
	} else {
		z := zsl(o).zsl
		if n := z.FirstInRange(&r); n != nil {
			rank := z.Rank(n.Score(), n.Ele())
			count = z.Len() - (rank - 1)
			if last := z.LastInRange(&r); last != nil {
				count -= z.Len() - z.Rank(last.Score(), last.Ele())
			}
		}
	}
	c.Int(int64(count))
}

func zlexcountCommand(s *Server, c *Client, args [][]byte) {
	r, ok := parseLexRange(args[2], args[3])
	if !ok {
		c.Error(errMinMaxNotLex)
		return
	}
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	count := 0
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		var buf [64]byte
		for p := zzlFirstInLexRange(lp, &r); p >= 0; p = lp.Next(lp.Next(p)) {
			if !lexLteMax(&r, zzlMemberString(lp, p, buf[:])) {
				break
			}
			count++
		}
	} else {
		z := zsl(o).zsl
		if n := z.FirstInLexRange(&r); n != nil {
			rank := z.Rank(n.Score(), n.Ele())
			count = z.Len() - (rank - 1)
			if last := z.LastInLexRange(&r); last != nil {
				count -= z.Len() - z.Rank(last.Score(), last.Ele())
			}
		}
	}
	c.Int(int64(count))
}

// ---------------------------------------------------------------------
// ZRANGE and friends write their result to a sink: the client, or a new
// sorted set for ZRANGESTORE (Redis's zrange_result_handler).

type zrangeSink interface {
	// begin is called first with the result length, -1 if unknown.
	begin(length int)
	emit(m zmember, score float64)
	finalize(count int)
}

type zrangeClientSink struct {
	c          *Client
	withScores bool
	d          deferred
	deferred   bool
}

func (h *zrangeClientSink) begin(length int) {
	if length > 0 {
		if h.withScores && h.c.resp == 2 {
			length *= 2
		}
		h.c.ArrayLen(length)
		return
	}
	if length == 0 {
		h.c.ArrayLen(0)
		return
	}
	h.d, h.deferred = h.c.DeferLen(), true
}

func (h *zrangeClientSink) emit(m zmember, score float64) {
	if h.withScores && h.c.resp > 2 {
		h.c.ArrayLen(2)
	}
	m.reply(h.c)
	if h.withScores {
		h.c.Double(score)
	}
}

func (h *zrangeClientSink) finalize(count int) {
	if !h.deferred {
		return
	}
	if h.withScores && h.c.resp == 2 {
		count *= 2
	}
	h.c.SetArrayLen(h.d, count)
}

type zrangeStoreSink struct {
	s    *Server
	c    *Client
	args [][]byte
	dst  []byte
	obj  keyspace.Object
	buf  []byte
}

func (h *zrangeStoreSink) begin(length int) {
	h.obj = newZsetObject(int64(length) > h.s.cfg.ZSetMaxListpackEntries)
}

func (h *zrangeStoreSink) emit(m zmember, score float64) {
	h.buf = m.appendTo(h.buf[:0])
	h.s.zsetAdd(&h.obj, score, h.buf, 0)
}

func (h *zrangeStoreSink) finalize(count int) {
	s, c, db := h.s, h.c, h.c.db
	if count > 0 {
		s.setKey(db, h.dst, h.obj, false)
		s.signalReady(db, h.dst)
		c.Int(int64(count))
		s.notify(notifyZSet, "zrangestore", h.dst, db.id)
		s.dirty++
		s.propagate(db.id, h.args)
		return
	}
	c.Int(0)
	if s.deleteKey(db, h.dst) {
		s.notify(notifyGeneric, "del", h.dst, db.id)
		s.dirty++
		s.propagate(db.id, h.args)
	}
}

const (
	zrangeAuto = iota
	zrangeRank
	zrangeScore
	zrangeLex
)

const (
	dirAuto = iota
	dirForward
	dirReverse
)

// longArg parses a C long (getLongFromObjectOrReply).
func longArg(c *Client, b []byte) (int64, bool) { return int64Arg(c, b) }

// zrangeGeneric implements ZRANGE, ZRANGESTORE and the older range
// commands; first is the index of the source key.
func zrangeGeneric(s *Server, c *Client, args [][]byte, first int, store bool, rangeType, dir int) {
	key := args[first]
	minIdx, maxIdx := first+1, first+2
	var withScores bool
	var offset, limit int64 = 0, -1
	for j := first + 3; j < len(args); j++ {
		left := len(args) - j - 1
		switch {
		case !store && isWord(args[j], "withscores"):
			withScores = true
		case isWord(args[j], "limit") && left >= 2:
			var ok bool
			if offset, ok = longArg(c, args[j+1]); !ok {
				return
			}
			if limit, ok = longArg(c, args[j+2]); !ok {
				return
			}
			j += 2
		case dir == dirAuto && isWord(args[j], "rev"):
			dir = dirReverse
		case rangeType == zrangeAuto && isWord(args[j], "bylex"):
			rangeType = zrangeLex
		case rangeType == zrangeAuto && isWord(args[j], "byscore"):
			rangeType = zrangeScore
		default:
			c.Error(errSyntax)
			return
		}
	}
	if dir == dirAuto {
		dir = dirForward
	}
	if rangeType == zrangeAuto {
		rangeType = zrangeRank
	}
	if limit != -1 && rangeType == zrangeRank {
		c.Error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return
	}
	if withScores && rangeType == zrangeLex {
		c.Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return
	}
	reverse := dir == dirReverse
	if reverse && rangeType != zrangeRank {
		minIdx, maxIdx = maxIdx, minIdx
	}
	var start, end int64
	var sr skiplist.ScoreRange
	var lr skiplist.LexRange
	var ok bool
	switch rangeType {
	case zrangeRank:
		if start, ok = longArg(c, args[minIdx]); !ok {
			return
		}
		if end, ok = longArg(c, args[maxIdx]); !ok {
			return
		}
	case zrangeScore:
		if sr, ok = parseScoreRange(args[minIdx], args[maxIdx]); !ok {
			c.Error(errMinMaxNotFloat)
			return
		}
	case zrangeLex:
		if lr, ok = parseLexRange(args[minIdx], args[maxIdx]); !ok {
			c.Error(errMinMaxNotLex)
			return
		}
	}
	var sink zrangeSink
	if store {
		sink = &zrangeStoreSink{s: s, c: c, args: args, dst: args[1]}
	} else {
		sink = &zrangeClientSink{c: c, withScores: withScores}
	}
	o := s.lookupRead(c.db, key)
	if o == nil {
		if store {
			sink.begin(-1)
			sink.finalize(0)
		} else {
			c.ArrayLen(0)
		}
		return
	}
	if o.Type != keyspace.TypeZSet {
		c.Error(errWrongType)
		return
	}
	switch rangeType {
	case zrangeRank:
		zrangeByRank(sink, o, start, end, reverse)
	case zrangeScore:
		zrangeByScore(sink, o, &sr, offset, limit, reverse)
	case zrangeLex:
		zrangeByLex(sink, o, &lr, offset, limit, reverse)
	}
}

func zrangeByRank(sink zrangeSink, o *keyspace.Object, start, end int64, reverse bool) {
	llen := int64(zsetLength(o))
	if start < 0 {
		start += llen
	}
	if end < 0 {
		end += llen
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= llen {
		sink.begin(0)
		sink.finalize(0)
		return
	}
	if end >= llen {
		end = llen - 1
	}
	n := int(end - start + 1)
	sink.begin(n)
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		var p int
		if reverse {
			p = lp.Seek(int(-2 - 2*start))
		} else {
			p = lp.Seek(int(2 * start))
		}
		for i := 0; i < n && p >= 0; i++ {
			sp := lp.Next(p)
			sink.emit(lpMember(lp.Get(p)), zzlScore(lp, sp))
			if reverse {
				p, _ = zzlPrev(lp, p)
			} else {
				p = lp.Next(sp)
			}
		}
	} else {
		z := zsl(o).zsl
		var x *skiplist.Node
		if reverse {
			x = z.Last()
			if start > 0 {
				x = z.ByRank(int(llen - start))
			}
		} else {
			x = z.First()
			if start > 0 {
				x = z.ByRank(int(start + 1))
			}
		}
		for i := 0; i < n && x != nil; i++ {
			sink.emit(zmember{s: x.Ele()}, x.Score())
			if reverse {
				x = x.Prev()
			} else {
				x = x.Next()
			}
		}
	}
	sink.finalize(n)
}

func zrangeByScore(sink zrangeSink, o *keyspace.Object, r *skiplist.ScoreRange, offset, limit int64, reverse bool) {
	sink.begin(-1)
	if offset > 0 && offset >= int64(zsetLength(o)) {
		sink.finalize(0)
		return
	}
	// A negative offset skips everything and a negative limit is no
	// limit, as Redis's post-decrement loops behave.
	if offset < 0 {
		sink.finalize(0)
		return
	}
	count := 0
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		var p int
		if reverse {
			p = zzlLastInRange(lp, r)
		} else {
			p = zzlFirstInRange(lp, r)
		}
		step := func(p int) int {
			if reverse {
				p, _ = zzlPrev(lp, p)
				return p
			}
			return lp.Next(lp.Next(p))
		}
		for ; p >= 0 && offset > 0; offset-- {
			p = step(p)
		}
		for ; p >= 0 && limit != 0; limit-- {
			score := zzlScore(lp, lp.Next(p))
			if reverse && !r.GteMin(score) || !reverse && !r.LteMax(score) {
				break
			}
			sink.emit(lpMember(lp.Get(p)), score)
			count++
			p = step(p)
		}
	} else {
		z := zsl(o).zsl
		var x *skiplist.Node
		if reverse {
			x = z.LastInRange(r)
		} else {
			x = z.FirstInRange(r)
		}
		next := func(x *skiplist.Node) *skiplist.Node {
			if reverse {
				return x.Prev()
			}
			return x.Next()
		}
		for ; x != nil && offset > 0; offset-- {
			x = next(x)
		}
		for ; x != nil && limit != 0; limit-- {
			if reverse && !r.GteMin(x.Score()) || !reverse && !r.LteMax(x.Score()) {
				break
			}
			sink.emit(zmember{s: x.Ele()}, x.Score())
			count++
			x = next(x)
		}
	}
	sink.finalize(count)
}

func zrangeByLex(sink zrangeSink, o *keyspace.Object, r *skiplist.LexRange, offset, limit int64, reverse bool) {
	sink.begin(-1)
	if offset > 0 && offset >= int64(zsetLength(o)) {
		sink.finalize(0)
		return
	}
	if offset < 0 {
		sink.finalize(0)
		return
	}
	count := 0
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		var p int
		if reverse {
			p = zzlLastInLexRange(lp, r)
		} else {
			p = zzlFirstInLexRange(lp, r)
		}
		step := func(p int) int {
			if reverse {
				p, _ = zzlPrev(lp, p)
				return p
			}
			return lp.Next(lp.Next(p))
		}
		for ; p >= 0 && offset > 0; offset-- {
			p = step(p)
		}
		var buf [64]byte
		for ; p >= 0 && limit != 0; limit-- {
			m := zzlMemberString(lp, p, buf[:])
			if reverse && !lexGteMin(r, m) || !reverse && !lexLteMax(r, m) {
				break
			}
			sink.emit(lpMember(lp.Get(p)), zzlScore(lp, lp.Next(p)))
			count++
			p = step(p)
		}
	} else {
		z := zsl(o).zsl
		var x *skiplist.Node
		if reverse {
			x = z.LastInLexRange(r)
		} else {
			x = z.FirstInLexRange(r)
		}
		next := func(x *skiplist.Node) *skiplist.Node {
			if reverse {
				return x.Prev()
			}
			return x.Next()
		}
		for ; x != nil && offset > 0; offset-- {
			x = next(x)
		}
		for ; x != nil && limit != 0; limit-- {
			if reverse && !r.GteMin(x.Ele()) || !reverse && !r.LteMax(x.Ele()) {
				break
			}
			sink.emit(zmember{s: x.Ele()}, x.Score())
			count++
			x = next(x)
		}
	}
	sink.finalize(count)
}

func zrangeCommand(s *Server, c *Client, args [][]byte) {
	zrangeGeneric(s, c, args, 1, false, zrangeAuto, dirAuto)
}

func zrangestoreCommand(s *Server, c *Client, args [][]byte) {
	zrangeGeneric(s, c, args, 2, true, zrangeAuto, dirAuto)
}

func zrevrangeCommand(s *Server, c *Client, args [][]byte) {
	zrangeGeneric(s, c, args, 1, false, zrangeRank, dirReverse)
}

func zrangebyscoreCommand(s *Server, c *Client, args [][]byte) {
	zrangeGeneric(s, c, args, 1, false, zrangeScore, dirForward)
}

func zrevrangebyscoreCommand(s *Server, c *Client, args [][]byte) {
	zrangeGeneric(s, c, args, 1, false, zrangeScore, dirReverse)
}

func zrangebylexCommand(s *Server, c *Client, args [][]byte) {
	zrangeGeneric(s, c, args, 1, false, zrangeLex, dirForward)
}

func zrevrangebylexCommand(s *Server, c *Client, args [][]byte) {
	zrangeGeneric(s, c, args, 1, false, zrangeLex, dirReverse)
}

// zremrangeGeneric implements ZREMRANGEBYRANK, ZREMRANGEBYSCORE and
// ZREMRANGEBYLEX.
func zremrangeGeneric(s *Server, c *Client, args [][]byte, rangeType int) {
	db, key := c.db, args[1]
	var start, end int64
	var sr skiplist.ScoreRange
	var lr skiplist.LexRange
	var event string
	var ok bool
	switch rangeType {
	case zrangeRank:
		event = "zremrangebyrank"
		if start, ok = longArg(c, args[2]); !ok {
			return
		}
		if end, ok = longArg(c, args[3]); !ok {
			return
		}
	case zrangeScore:
		event = "zremrangebyscore"
		if sr, ok = parseScoreRange(args[2], args[3]); !ok {
			c.Error(errMinMaxNotFloat)
			return
		}
	case zrangeLex:
		event = "zremrangebylex"
		if lr, ok = parseLexRange(args[2], args[3]); !ok {
			c.Error(errMinMaxNotLex)
			return
		}
	}
	o, ok := s.lookupZsetWrite(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	if rangeType == zrangeRank {
		llen := int64(zsetLength(o))
		if start < 0 {
			start += llen
		}
		if end < 0 {
			end += llen
		}
		if start < 0 {
			start = 0
		}
		if start > end || start >= llen {
			c.Int(0)
			return
		}
		if end >= llen {
			end = llen - 1
		}
	}
	deleted := 0
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		switch rangeType {
		case zrangeRank:
			deleted = int(end - start + 1)
			lp.DeleteRange(int(2*start), 2*deleted)
		case zrangeScore:
			for p := zzlFirstInRange(lp, &sr); p >= 0; {
				if !sr.LteMax(zzlScore(lp, lp.Next(p))) {
					break
				}
				p = lp.DeleteAt(p, 2)
				deleted++
			}
		case zrangeLex:
			var buf [64]byte
			for p := zzlFirstInLexRange(lp, &lr); p >= 0; {
				if !lexLteMax(&lr, zzlMemberString(lp, p, buf[:])) {
					break
				}
				p = lp.DeleteAt(p, 2)
				deleted++
			}
		}
		o.Str = lp
	} else {
		z := zsl(o)
		drop := func(ele string) { z.d.Delete(ele) }
		switch rangeType {
		case zrangeRank:
			deleted = z.zsl.DeleteRangeByRank(int(start+1), int(end+1), drop)
		case zrangeScore:
			deleted = z.zsl.DeleteRangeByScore(&sr, drop)
		case zrangeLex:
			deleted = z.zsl.DeleteRangeByLex(&lr, drop)
		}
	}
	removed := false
	if zsetLength(o) == 0 {
		db.ks.Delete(key)
		removed = true
	}
	if deleted > 0 {
		s.keyModified(db, key)
		s.notify(notifyZSet, event, key, db.id)
		if removed {
			s.notify(notifyGeneric, "del", key, db.id)
		}
		s.dirty += int64(deleted)
		s.propagate(db.id, args)
	}
	c.Int(int64(deleted))
}

func zremrangebyrankCommand(s *Server, c *Client, args [][]byte) {
	zremrangeGeneric(s, c, args, zrangeRank)
}

func zremrangebyscoreCommand(s *Server, c *Client, args [][]byte) {
	zremrangeGeneric(s, c, args, zrangeScore)
}

func zremrangebylexCommand(s *Server, c *Client, args [][]byte) {
	zremrangeGeneric(s, c, args, zrangeLex)
}

// ---------------------------------------------------------------------
// Pops.

const (
	zsetMin = iota
	zsetMax
)

// zpopReply says how a pop shapes its reply (genericZpopCommand's
// emitkey, use_nested_array and reply_nil_when_empty).
type zpopReply struct {
	emitKey, nested, nilWhenEmpty bool
}

// zpopGeneric pops up to count members (-1: a plain single pop) from the
// first existing key of keys and replies. It returns the key popped from
// and how many members went, or nil when it replied otherwise (no key,
// WRONGTYPE, count 0).
func (s *Server) zpopGeneric(c *Client, keys [][]byte, where int, count int64, shape zpopReply) ([]byte, int64) {
	db := c.db
	var key []byte
	var o *keyspace.Object
	for _, k := range keys {
		o = s.lookupWrite(db, k)
		if o == nil {
			continue
		}
		if o.Type != keyspace.TypeZSet {
			c.Error(errWrongType)
			return nil, 0
		}
		key = k
		break
	}
	if o == nil {
		if shape.nilWhenEmpty {
			c.NullArray()
		} else {
			c.ArrayLen(0)
		}
		return nil, 0
	}
	if count == 0 {
		c.ArrayLen(0)
		return nil, 0
	}
	if count == -1 {
		count = 1
	}
	llen := int64(zsetLength(o))
	n := min(count, llen)
	switch {
	case !shape.nested && !shape.emitKey:
		c.ArrayLen(int(n * 2))
	case shape.nested && !shape.emitKey:
		c.ArrayLen(int(n))
	case !shape.nested && shape.emitKey:
		c.ArrayLen(int(n*2 + 1))
		c.Bulk(key)
	default:
		c.ArrayLen(2)
		c.Bulk(key)
		c.ArrayLen(int(n))
	}
	events := [2]string{"zpopmin", "zpopmax"}
	var buf []byte
	for i := int64(0); i < n; i++ {
		var score float64
		if o.Enc == keyspace.EncListpack {
			lp := listpack.Listpack(o.Str)
			p := lp.Seek(0)
			if where == zsetMax {
				p = lp.Seek(-2)
			}
			buf = lp.Get(p).Append(buf[:0])
			score = zzlScore(lp, lp.Next(p))
			lp.DeleteAt(p, 2)
			o.Str = lp
		} else {
			z := zsl(o)
			x := z.zsl.First()
			if where == zsetMax {
				x = z.zsl.Last()
			}
			buf = append(buf[:0], x.Ele()...)
			score = x.Score()
			z.remove(x.Ele())
		}
		s.dirty++
		if i == 0 {
			s.notify(notifyZSet, events[where], key, db.id)
			s.keyModified(db, key)
		}
		if shape.nested {
			c.ArrayLen(2)
		}
		c.Bulk(buf)
		c.Double(score)
	}
	if zsetLength(o) == 0 {
		db.ks.Delete(key)
		s.notify(notifyGeneric, "del", key, db.id)
	}
	return key, n
}

// propagateZpop propagates a pop as ZPOPMIN/ZPOPMAX key [count].
func (s *Server) propagateZpop(db *DB, key []byte, where int, count int64, withCount bool) {
	cmd := argZPOPMIN
	if where == zsetMax {
		cmd = argZPOPMAX
	}
	if withCount {
		s.propagate(db.id, [][]byte{cmd, key, strconv.AppendInt(nil, count, 10)})
	} else {
		s.propagate(db.id, [][]byte{cmd, key})
	}
}

func zpopMinMax(s *Server, c *Client, args [][]byte, where int) {
	if len(args) > 3 {
		c.Error(errSyntax)
		return
	}
	count := int64(-1)
	if len(args) == 3 {
		var ok bool
		if count, ok = positiveArg(c, args[2]); !ok {
			return
		}
	}
	shape := zpopReply{nested: c.resp > 2 && count != -1}
	if key, _ := s.zpopGeneric(c, args[1:2], where, count, shape); key != nil {
		s.propagate(c.db.id, args)
	}
}

func zpopminCommand(s *Server, c *Client, args [][]byte) { zpopMinMax(s, c, args, zsetMin) }
func zpopmaxCommand(s *Server, c *Client, args [][]byte) { zpopMinMax(s, c, args, zsetMax) }

// parseMpop parses [B]ZMPOP's numkeys key... MIN|MAX [COUNT count], with
// numkeys at args[idx]. It returns the keys, the side and the count.
func parseMpop(c *Client, args [][]byte, idx int) (keys [][]byte, where int, count int64, ok bool) {
	numkeys, ok := numkeysArg(c, args[idx], "ERR numkeys should be greater than 0")
	if !ok {
		return nil, 0, 0, false
	}
	whereIdx := idx + 1 + numkeys
	if numkeys > len(args) || whereIdx >= len(args) {
		c.Error(errSyntax)
		return nil, 0, 0, false
	}
	switch {
	case isWord(args[whereIdx], "min"):
		where = zsetMin
	case isWord(args[whereIdx], "max"):
		where = zsetMax
	default:
		c.Error(errSyntax)
		return nil, 0, 0, false
	}
	count = -1
	for j := whereIdx + 1; j < len(args); j++ {
		if count == -1 && isWord(args[j], "count") && j+1 < len(args) {
			j++
			n, ok := parseInt64Strict(args[j])
			if !ok || n < 1 {
				c.Error("ERR count should be greater than 0")
				return nil, 0, 0, false
			}
			count = n
		} else {
			c.Error(errSyntax)
			return nil, 0, 0, false
		}
	}
	if count == -1 {
		count = 1
	}
	return args[idx+1 : whereIdx], where, count, true
}

func zmpopCommand(s *Server, c *Client, args [][]byte) {
	keys, where, count, ok := parseMpop(c, args, 1)
	if !ok {
		return
	}
	shape := zpopReply{emitKey: true, nested: true, nilWhenEmpty: true}
	if key, n := s.zpopGeneric(c, keys, where, count, shape); key != nil {
		s.propagateZpop(c.db, key, where, n, true)
	}
}

// ---------------------------------------------------------------------
// ZRANDMEMBER.

const zrandmemberSubStrategyMul = 3

// lpPairs returns the positions of a listpack zset's members.
func lpPairs(lp listpack.Listpack) []int {
	ps := make([]int, 0, lp.Len()/2)
	for p := lp.First(); p >= 0; p = lp.Next(lp.Next(p)) {
		ps = append(ps, p)
	}
	return ps
}

func zrandmemberCommand(s *Server, c *Client, args [][]byte) {
	if len(args) >= 3 {
		l, ok := rangeCountArg(c, args[2])
		if !ok {
			return
		}
		withScores := false
		if len(args) > 4 || (len(args) == 4 && !isWord(args[3], "withscores")) {
			c.Error(errSyntax)
			return
		}
		if len(args) == 4 {
			withScores = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.Error("ERR value is out of range")
				return
			}
		}
		zrandmemberWithCount(s, c, args[1], l, withScores)
		return
	}
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	m, _ := s.zsetRandom(o, nil)
	m.reply(c)
}

// zsetRandom returns a uniformly random member and its score; pairs, if
// not nil, are a listpack's member positions.
func (s *Server) zsetRandom(o *keyspace.Object, pairs []int) (zmember, float64) {
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		if pairs == nil {
			pairs = lpPairs(lp)
		}
		p := pairs[s.rng.IntN(len(pairs))]
		return lpMember(lp.Get(p)), zzlScore(lp, lp.Next(p))
	}
	k, score := zsl(o).d.Random(s.rng)
	return zmember{s: k}, score
}

func zrandmemberWithCount(s *Server, c *Client, key []byte, l int64, withScores bool) {
	o, ok := s.lookupZsetRead(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.ArrayLen(0)
		return
	}
	size := int64(zsetLength(o))
	count, uniq := l, true
	if l < 0 {
		count, uniq = -l, false
	}
	if count == 0 {
		c.ArrayLen(0)
		return
	}
	emit := func(m zmember, score float64) {
		if withScores && c.resp > 2 {
			c.ArrayLen(2)
		}
		m.reply(c)
		if withScores {
			c.Double(score)
		}
	}
	header := func(n int64) {
		if withScores && c.resp == 2 {
			c.ArrayLen(int(n * 2))
		} else {
			c.ArrayLen(int(n))
		}
	}
	var pairs []int
	if o.Enc == keyspace.EncListpack {
		pairs = lpPairs(listpack.Listpack(o.Str))
	}
	// Repetitions allowed: independent draws.
	if !uniq || count == 1 {
		header(count)
		for ; count > 0; count-- {
			emit(s.zsetRandom(o, pairs))
			if replyOverflow(c) {
				return
			}
		}
		return
	}
	header(min(count, size))
	// The whole set.
	if count >= size {
		zsetEach(o, false, func(m zmember, score float64) bool { emit(m, score); return true })
		return
	}
	// Most of the set: copy it, drop random members.
	if count*zrandmemberSubStrategyMul > size {
		d := dict.New[float64](int(size))
		zsetEach(o, false, func(m zmember, score float64) bool { d.AddNew(m.String(), score); return true })
		for n := size; n > count; n-- {
			k, _ := d.Random(s.rng)
			d.Delete(k)
		}
		d.Each(func(k string, score float64) bool { emit(zmember{s: k}, score); return true })
		return
	}
	// A few of a listpack: one pass of selection sampling, in order.
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		need := count
		for i, p := range pairs {
			if s.rng.Int64N(int64(len(pairs)-i)) < need {
				emit(lpMember(lp.Get(p)), zzlScore(lp, lp.Next(p)))
				need--
			}
		}
		return
	}
	// A few of a big set: draw until count distinct.
	picked := dict.New[struct{}](int(count))
	for int64(picked.Len()) < count {
		m, score := s.zsetRandom(o, nil)
		if !picked.Add(m.s, struct{}{}) {
			continue
		}
		emit(m, score)
	}
}

// ---------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF and their STORE forms, over sorted sets and sets
// (whose members score 1).

type zsrc struct {
	o      *keyspace.Object // nil: a missing key, an empty set
	weight float64
}

func (z *zsrc) length() int {
	switch {
	case z.o == nil:
		return 0
	case z.o.Type == keyspace.TypeSet:
		return setSize(z.o)
	}
	return zsetLength(z.o)
}

// each iterates the members with their (unweighted) scores.
func (z *zsrc) each(f func(m zmember, score float64) bool) {
	switch {
	case z.o == nil:
	case z.o.Type == keyspace.TypeSet:
		setEach(z.o, func(e setElem) bool {
			if e.isInt {
				return f(zmember{i: e.i, kind: zmInt}, 1)
			}
			return f(zmember{s: e.s}, 1)
		})
	default:
		zsetEach(z.o, false, f)
	}
}

// find returns m's (unweighted) score in the source.
func (z *zsrc) find(m zmember, buf []byte) (float64, bool) {
	switch {
	case z.o == nil:
		return 0, false
	case z.o.Type == keyspace.TypeSet:
		if m.kind == zmInt {
			return 1, setHasElem(z.o, setElem{i: m.i, isInt: true})
		}
		if m.kind == zmStr {
			return 1, setHasElem(z.o, setElem{s: m.s})
		}
		return 1, setIsMember(z.o, m.b)
	}
	return zsetScoreOf(z.o, m, buf)
}

const (
	aggrSum = iota
	aggrMin
	aggrMax
)

func aggregate(target *float64, v float64, aggr int) {
	switch aggr {
	case aggrSum:
		*target += v
		// inf + -inf is NaN: Redis's convention is 0.
		if math.IsNaN(*target) {
			*target = 0
		}
	case aggrMin:
		if v < *target {
			*target = v
		}
	case aggrMax:
		if v > *target {
			*target = v
		}
	}
}

const (
	zopUnion = iota
	zopInter
	zopDiff
)

// zsetOpGeneric implements ZUNION, ZINTER, ZDIFF, their STORE forms and
// ZINTERCARD (cardOnly); numkeysIdx is the index of numkeys.
func zsetOpGeneric(s *Server, c *Client, args [][]byte, dst []byte, numkeysIdx, op int, cardOnly bool) {
	setnum, ok := longArg(c, args[numkeysIdx])
	if !ok {
		return
	}
	if setnum < 1 {
		c.Error("ERR at least 1 input key is needed for '" + lowerName(args[0]) + "' command")
		return
	}
	if setnum > int64(len(args)-numkeysIdx-1) {
		c.Error(errSyntax)
		return
	}
	src := make([]zsrc, setnum)
	j := numkeysIdx + 1
	for i := range src {
		o := s.lookupRead(c.db, args[j])
		if o != nil && o.Type != keyspace.TypeZSet && o.Type != keyspace.TypeSet {
			c.Error(errWrongType)
			return
		}
		src[i] = zsrc{o: o, weight: 1}
		j++
	}
	aggr := aggrSum
	withScores := false
	var limit int64
	for remaining := len(args) - j; remaining > 0; remaining = len(args) - j {
		switch {
		case op != zopDiff && !cardOnly && remaining >= len(src)+1 && isWord(args[j], "weights"):
			j++
			for i := range src {
				w, ok := scoreArg(c, args[j], "ERR weight value is not a float")
				if !ok {
					return
				}
				src[i].weight = w
				j++
			}
		case op != zopDiff && !cardOnly && remaining >= 2 && isWord(args[j], "aggregate"):
			j++
			switch {
			case isWord(args[j], "sum"):
				aggr = aggrSum
			case isWord(args[j], "min"):
				aggr = aggrMin
			case isWord(args[j], "max"):
				aggr = aggrMax
			default:
				c.Error(errSyntax)
				return
			}
			j++
		case dst == nil && !cardOnly && isWord(args[j], "withscores"):
			j++
			withScores = true
		case cardOnly && remaining >= 2 && isWord(args[j], "limit"):
			j++
			if limit, ok = limitArg(c, args[j]); !ok {
				return
			}
			j++
		default:
			c.Error(errSyntax)
			return
		}
	}
	if op != zopDiff {
		// Smallest first (stable, as qsort rarely matters here).
		for a := 1; a < len(src); a++ {
			for b := a; b > 0 && src[b].length() < src[b-1].length(); b-- {
				src[b], src[b-1] = src[b-1], src[b]
			}
		}
	}
	res := newZsetSL(0)
	var buf []byte
	card := int64(0)
	switch op {
	case zopInter:
		if src[0].length() == 0 {
			break
		}
		src[0].each(func(m zmember, score float64) bool {
			acc := src[0].weight * score
			if math.IsNaN(acc) {
				acc = 0
			}
			for k := 1; k < len(src); k++ {
				var v float64
				if src[k].o == src[0].o {
					v = score * src[k].weight
				} else if found, ok := src[k].find(m, buf); ok {
					v = found * src[k].weight
				} else {
					return true
				}
				aggregate(&acc, v, aggr)
			}
			if cardOnly {
				card++
				return limit == 0 || card < limit
			}
			res.insert(m.String(), acc)
			return true
		})
	case zopUnion:
		acc := dict.New[float64](src[len(src)-1].length())
		for i := range src {
			src[i].each(func(m zmember, score float64) bool {
				v := src[i].weight * score
				if math.IsNaN(v) {
					v = 0
				}
				buf = m.appendTo(buf[:0])
				if p := acc.Ptr(string(buf)); p != nil {
					aggregate(p, v, aggr)
				} else {
					acc.AddNew(m.String(), v)
				}
				return true
			})
		}
		acc.Each(func(k string, v float64) bool { res.insert(k, v); return true })
	case zopDiff:
		zdiff(src, res, buf)
	}
	switch {
	case dst != nil:
		s.storeZsetResult(c, args, dst, res, op)
	case cardOnly:
		c.Int(card)
	default:
		n := res.zsl.Len()
		if withScores && c.resp == 2 {
			c.ArrayLen(n * 2)
		} else {
			c.ArrayLen(n)
		}
		for x := res.zsl.First(); x != nil; x = x.Next() {
			if withScores && c.resp > 2 {
				c.ArrayLen(2)
			}
			c.BulkString(x.Ele())
			if withScores {
				c.Double(x.Score())
			}
		}
	}
}

// zdiff computes src[0] minus the others into res, choosing between
// Redis's two algorithms by the expected work.
func zdiff(src []zsrc, res *zsetSL, buf []byte) {
	if src[0].length() == 0 {
		return
	}
	var one, two int
	for j := range src {
		if j > 0 && src[j].o == src[0].o {
			return // the first set minus itself
		}
		one += src[0].length()
		two += src[j].length()
	}
	one /= 2
	if one <= two {
		// Algorithm 1: keep each member of the first set found in no other.
		rest := src[1:]
		for a := 1; a < len(rest); a++ {
			for b := a; b > 0 && rest[b].length() > rest[b-1].length(); b-- {
				rest[b], rest[b-1] = rest[b-1], rest[b]
			}
		}
		src[0].each(func(m zmember, score float64) bool {
			for k := 1; k < len(src); k++ {
				if _, ok := src[k].find(m, buf); ok {
					return true
				}
			}
			res.insert(m.String(), score)
			return true
		})
		return
	}
	// Algorithm 2: add the first set, remove every member of the others.
	src[0].each(func(m zmember, score float64) bool { res.insert(m.String(), score); return true })
	for k := 1; k < len(src); k++ {
		src[k].each(func(m zmember, _ float64) bool {
			buf = m.appendTo(buf[:0])
			res.remove(string(buf))
			return res.zsl.Len() > 0
		})
		if res.zsl.Len() == 0 {
			return
		}
	}
}

// storeZsetResult stores a computed sorted set at dst (converted to a
// listpack when small enough), or deletes dst when it is empty.
func (s *Server) storeZsetResult(c *Client, args [][]byte, dst []byte, res *zsetSL, op int) {
	db := c.db
	if res.zsl.Len() == 0 {
		c.Int(0)
		if s.deleteKey(db, dst) {
			s.notify(notifyGeneric, "del", dst, db.id)
			s.dirty++
			s.propagate(db.id, args)
		}
		return
	}
	maxLen, totLen := 0, 0
	for x := res.zsl.First(); x != nil; x = x.Next() {
		maxLen = max(maxLen, len(x.Ele()))
		totLen += len(x.Ele())
	}
	obj := keyspace.Object{Type: keyspace.TypeZSet, Enc: keyspace.EncSkiplist, Val: res}
	s.zsetConvertToListpackIfNeeded(&obj, maxLen, totLen)
	n := zsetLength(&obj)
	s.setKey(db, dst, obj, false)
	s.signalReady(db, dst)
	c.Int(int64(n))
	events := [3]string{"zunionstore", "zinterstore", "zdiffstore"}
	s.notify(notifyZSet, events[op], dst, db.id)
	s.dirty++
	s.propagate(db.id, args)
}

func zunionstoreCommand(s *Server, c *Client, args [][]byte) {
	zsetOpGeneric(s, c, args, args[1], 2, zopUnion, false)
}

func zinterstoreCommand(s *Server, c *Client, args [][]byte) {
	zsetOpGeneric(s, c, args, args[1], 2, zopInter, false)
}

func zdiffstoreCommand(s *Server, c *Client, args [][]byte) {
	zsetOpGeneric(s, c, args, args[1], 2, zopDiff, false)
}

func zunionCommand(s *Server, c *Client, args [][]byte) {
	zsetOpGeneric(s, c, args, nil, 1, zopUnion, false)
}

func zinterCommand(s *Server, c *Client, args [][]byte) {
	zsetOpGeneric(s, c, args, nil, 1, zopInter, false)
}

func zintercardCommand(s *Server, c *Client, args [][]byte) {
	zsetOpGeneric(s, c, args, nil, 1, zopInter, true)
}

func zdiffCommand(s *Server, c *Client, args [][]byte) {
	zsetOpGeneric(s, c, args, nil, 1, zopDiff, false)
}

func zscanCommand(s *Server, c *Client, args [][]byte) {
	cursor, ok := parseScanCursor(c, args[2])
	if !ok {
		return
	}
	o, ok := s.lookupZsetRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		replyEmptyScan(c)
		return
	}
	opts, ok := parseScanOptions(c, args[3:], false)
	if !ok {
		return
	}
	var elems [][]byte
	if o.Enc == keyspace.EncListpack {
		lp := listpack.Listpack(o.Str)
		for p := lp.First(); p >= 0; p = lp.Next(p) {
			elems = append(elems, lp.Get(p).Append(nil))
		}
		replyScan(c, 0, elems, true, opts)
		return
	}
	d := zsl(o).d
	count := opts.count * 2
	cursor = scanLoop(cursor, count, func(cur uint64) uint64 {
		return d.Scan(cur, func(k string, score float64) {
			elems = append(elems, []byte(k), appendDouble(nil, score))
		})
	}, func() int64 { return int64(len(elems)) })
	replyScan(c, cursor, elems, true, opts)
}

// ---------------------------------------------------------------------
// Payloads from outside (RDB files, RESTORE).

// errCorruptZset is returned (wrapped) for a zset listpack that fails
// validation.
var errCorruptZset = errors.New("zset listpack: corrupt")

// validateZsetListpack checks bytes from outside (an RDB file, a RESTORE
// payload) before they are used as a listpack-encoded sorted set: a
// well-formed listpack (never panicking, whatever b holds), an even number
// of entries, no duplicate member (Redis's lpPairsValidateIntegrityAndDups
// with deep sanitization), and, stricter than Redis, scores that parse as
// numbers other than NaN, so that no NaN ever enters a sorted set.
func validateZsetListpack(b []byte) error {
	members := map[string]struct{}{}
	i := 0
	var verr error
	err := listpack.Validate(b, func(e listpack.Entry) error {
		defer func() { i++ }()
		if i%2 == 0 {
			k := e.String()
			if _, dup := members[k]; dup {
				return fmt.Errorf("%w: duplicate member %q", errCorruptZset, k)
			}
			members[k] = struct{}{}
			return nil
		}
		if !e.IsInt {
			if _, ok := parseScore(e.Str); !ok {
				return fmt.Errorf("%w: score %q of entry %d is not a number", errCorruptZset, e.Str, i)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if i%2 != 0 {
		verr = fmt.Errorf("%w: odd number of entries (%d)", errCorruptZset, i)
	}
	return verr
}
