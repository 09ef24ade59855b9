package node

import (
	"math"
	"math/big"
	"strconv"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// The string family, as Redis 7.0's t_string.c: replies, errors, keyspace
// events and the effect each write propagates.

func init() {
	register(map[string]handler{
		"get":         getCommand,
		"set":         setCommand,
		"setnx":       setnxCommand,
		"setex":       setexCommand,
		"psetex":      psetexCommand,
		"getset":      getsetCommand,
		"getdel":      getdelCommand,
		"getex":       getexCommand,
		"mget":        mgetCommand,
		"mset":        msetCommand,
		"msetnx":      msetnxCommand,
		"append":      appendCommand,
		"strlen":      strlenCommand,
		"incr":        incrCommand,
		"decr":        decrCommand,
		"incrby":      incrbyCommand,
		"decrby":      decrbyCommand,
		"incrbyfloat": incrbyfloatCommand,
		"getrange":    getrangeCommand,
		"substr":      getrangeCommand,
		"setrange":    setrangeCommand,
		"lcs":         lcsCommand,
	})
}

// Error replies of the string family.
const (
	errStringTooLong   = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	errOffsetRange     = "ERR offset is out of range"
	errDecrOverflow    = "ERR decrement would overflow"
	errIncrFloatNaN    = "ERR increment would produce NaN or Infinity"
	errLCSNotString    = "ERR The specified keys must contain string values"
	errLCSLenAndIdx    = "ERR If you want both the length and indexes, please just use IDX."
	errLCSTooLong      = "ERR String too long for LCS"
	errLCSTooMuchMem   = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
	errValueOutOfRange = "ERR value is out of range"
)

// Shared argument and reply bytes, so that rewritten argvs cost no
// allocation for their constant parts.
var (
	argSET       = []byte("SET")
	argDEL       = []byte("DEL")
	argUNLINK    = []byte("UNLINK")
	argPXAT      = []byte("PXAT")
	argKEEPTTL   = []byte("KEEPTTL")
	argPEXPIREAT = []byte("PEXPIREAT")
	argPERSIST   = []byte("PERSIST")
)

// embstrMax is the longest string Redis stores embstr-encoded.
const embstrMax = 44

// stringEncoding is the encoding Redis's tryObjectEncoding picks for a
// value: int for the canonical decimal form of an int64, embstr up to 44
// bytes, raw above.
func stringEncoding(v []byte) keyspace.Encoding {
	if len(v) <= 20 {
		if _, ok := parseInt64Strict(v); ok {
			return keyspace.EncInt
		}
	}
	if len(v) <= embstrMax {
		return keyspace.EncEmbStr
	}
	return keyspace.EncRaw
}

// setStringEnc sets a string object's encoding, and marks a small
// integer as shared when Redis would share it: its refcount shows in
// OBJECT REFCOUNT and DEBUG OBJECT, and copies (COPY) are private.
func (s *Server) setStringEnc(o *keyspace.Object, enc keyspace.Encoding) {
	o.Enc = enc
	o.Shared = false
	if enc == keyspace.EncInt && s.sharedIntegersAllowed() {
		if v, ok := parseInt64Strict(o.Str); ok && v >= 0 && v < sharedIntegers {
			o.Shared = true
		}
	}
}

// newStringObject copies v into a new string object with the encoding
// Redis would pick. The copy keeps the value from pinning the request
// buffer.
func newStringObject(v []byte) keyspace.Object {
	return keyspace.Object{Type: keyspace.TypeString, Enc: stringEncoding(v), Str: append([]byte(nil), v...)}
}

// parseInt64Strict parses v as Redis's string2ll does: an optional '-',
// no leading zeros (except "0" itself), no '+', no spaces, no overflow.
// A value it accepts prints back to the same bytes.
func parseInt64Strict(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	if len(v) == 1 && v[0] == '0' {
		return 0, true
	}
	i, neg := 0, false
	if v[0] == '-' {
		neg, i = true, 1
		if len(v) == 1 {
			return 0, false
		}
	}
	if v[i] < '1' || v[i] > '9' {
		return 0, false
	}
	var u uint64
	for ; i < len(v); i++ {
		d := v[i] - '0'
		if d > 9 {
			return 0, false
		}
		if u > math.MaxUint64/10 {
			return 0, false
		}
		u *= 10
		if u > math.MaxUint64-uint64(d) {
			return 0, false
		}
		u += uint64(d)
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// int64Arg parses an integer argument, replying Redis's error if it is
// not one (getLongLongFromObjectOrReply).
func int64Arg(c *Client, v []byte) (int64, bool) {
	n, ok := parseInt64Strict(v)
	if !ok {
		c.Error(errNotInt)
	}
	return n, ok
}

// intArg parses an argument that must fit a C int
// (getIntFromObjectOrReply); msg replaces both errors when not empty.
func intArg(c *Client, v []byte, msg string) (int, bool) {
	n, ok := parseInt64Strict(v)
	if !ok {
		if msg == "" {
			msg = errNotInt
		}
		c.Error(msg)
		return 0, false
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		if msg == "" {
			msg = "ERR value is out of range, value must between -2147483648 and 2147483647"
		}
		c.Error(msg)
		return 0, false
	}
	return int(n), true
}

// invalidExpireError is Redis's addReplyErrorExpireTime for command name.
func invalidExpireError(name string) string {
	return "ERR invalid expire time in '" + name + "' command"
}

// checkStringLength refuses a string that would grow past
// proto-max-bulk-len (Redis's checkStringLength). Writes from the primary
// are applied whatever the local limit, as Redis's mustObeyClient.
func (s *Server) checkStringLength(c *Client, size, add int64) bool {
	if c.flags&flagPrimary != 0 {
		return true
	}
	total := uint64(size) + uint64(add)
	if int64(total) > s.cfg.ProtoMaxBulkLen || int64(total) < size || int64(total) < add {
		c.Error(errStringTooLong)
		return false
	}
	return true
}

// lookupStringRead returns the string at key for a read. ok is false when
// the key holds another type; the WRONGTYPE reply is then written.
func (s *Server) lookupStringRead(c *Client, key []byte) (o *keyspace.Object, ok bool) {
	o = s.lookupRead(c.db, key)
	if o != nil && o.Type != keyspace.TypeString {
		c.Error(errWrongType)
		return nil, false
	}
	return o, true
}

// getString returns the string at key for a read; ok is false (with the
// reply written) on a wrong type.
func (s *Server) getString(c *Client, key []byte) (val []byte, exists, ok bool) {
	o, ok := s.lookupStringRead(c, key)
	if !ok {
		return nil, true, false
	}
	if o == nil {
		return nil, false, true
	}
	return o.Str, true, true
}

// getGeneric replies the string at key (or null) and reports false after a
// WRONGTYPE reply, as Redis's getGenericCommand.
func (s *Server) getGeneric(c *Client, key []byte) bool {
	o, ok := s.lookupStringRead(c, key)
	if !ok {
		return false
	}
	if o == nil {
		c.Null()
	} else {
		c.Bulk(o.Str)
	}
	return true
}

func getCommand(s *Server, c *Client, args [][]byte) { s.getGeneric(c, args[1]) }

// SET flags, as t_string.c's OBJ_* flags.
const (
	setNX = 1 << iota
	setXX
	setEX
	setPX
	setKeepTTL
	setGet
	setEXAT
	setPXAT
	setPersist
)

const setExpireFlags = setEX | setPX | setEXAT | setPXAT

func isWord(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := range b {
		if lower(b[i]) != w[i] {
			return false
		}
	}
	return true
}

// parseStringOptions parses SET's options (isSet) or GETEX's, with Redis's
// rules for which combinations are syntax errors. expire is the argument of
// EX/PX/EXAT/PXAT, or nil.
func parseStringOptions(c *Client, args [][]byte, isSet bool) (flags int, expire []byte, ok bool) {
	j := 2
	if isSet {
		j = 3
	}
	for ; j < len(args); j++ {
		opt := args[j]
		hasNext := j < len(args)-1
		switch {
		case isSet && isWord(opt, "nx") && flags&setXX == 0:
			flags |= setNX
		case isSet && isWord(opt, "xx") && flags&setNX == 0:
			flags |= setXX
		case isSet && isWord(opt, "get"):
			flags |= setGet
		case isSet && isWord(opt, "keepttl") && flags&(setPersist|setExpireFlags) == 0:
			flags |= setKeepTTL
		case !isSet && isWord(opt, "persist") && flags&(setExpireFlags|setKeepTTL) == 0:
			flags |= setPersist
		case isWord(opt, "ex") && flags&(setKeepTTL|setPersist|setEXAT|setPX|setPXAT) == 0 && hasNext:
			flags |= setEX
			expire = args[j+1]
			j++
		case isWord(opt, "px") && flags&(setKeepTTL|setPersist|setEX|setEXAT|setPXAT) == 0 && hasNext:
			flags |= setPX
			expire = args[j+1]
			j++
		case isWord(opt, "exat") && flags&(setKeepTTL|setPersist|setEX|setPX|setPXAT) == 0 && hasNext:
			flags |= setEXAT
			expire = args[j+1]
			j++
		case isWord(opt, "pxat") && flags&(setKeepTTL|setPersist|setEX|setEXAT|setPX) == 0 && hasNext:
			flags |= setPXAT
			expire = args[j+1]
			j++
		default:
			c.Error(errSyntax)
			return 0, nil, false
		}
	}
	return flags, expire, true
}

// expireMillis turns an EX/PX/EXAT/PXAT argument into an absolute unix
// time in ms, replying an error when it is not a positive integer or
// overflows (getExpireMillisecondsOrReply).
func (s *Server) expireMillis(c *Client, arg []byte, flags int, name string) (int64, bool) {
	ms, ok := int64Arg(c, arg)
	if !ok {
		return 0, false
	}
	seconds := flags&(setEX|setEXAT) != 0
	if ms <= 0 || (seconds && ms > math.MaxInt64/1000) {
		c.Error(invalidExpireError(name))
		return 0, false
	}
	if seconds {
		ms *= 1000
	}
	if flags&(setEX|setPX) != 0 {
		ms += s.now() // wraps negative on overflow, caught below
	}
	if ms <= 0 {
		c.Error(invalidExpireError(name))
		return 0, false
	}
	return ms, true
}

// setReplies say what a SET-like command replies on success and when NX or
// XX stopped it.
type setReplies int

const (
	replyOKNull  setReplies = iota // SET, SETEX, PSETEX: +OK / null
	replyOneZero                   // SETNX: 1 / 0
)

// setGeneric implements SET, SETNX, SETEX and PSETEX (setGenericCommand).
func (s *Server) setGeneric(c *Client, args [][]byte, flags int, key, val, expire []byte, replies setReplies, name string) {
	var when int64
	if expire != nil {
		var ok bool
		if when, ok = s.expireMillis(c, expire, flags, name); !ok {
			return
		}
	}
	if flags&setGet != 0 && !s.getGeneric(c, key) {
		return
	}
	db := c.db
	o, at := db.ks.Lookup(key)
	if o != nil && at != 0 && s.expireIfNeeded(db, key, at) {
		o, at = nil, 0
	}
	if o != nil {
		s.touchLRU(o)
	}
	if (flags&setNX != 0 && o != nil) || (flags&setXX != 0 && o == nil) {
		if flags&setGet == 0 {
			if replies == replyOneZero {
				c.Int(0)
			} else {
				c.Null()
			}
		}
		return
	}
	keepTTL := flags&setKeepTTL != 0
	if o != nil && o.Type == keyspace.TypeString && reusable(o.Str, len(val)) {
		// Overwrite in place: no allocation on the hot path. Under an LFU
		// policy the key keeps its frequency, as dbOverwrite does.
		o.Str = append(o.Str[:0], val...)
		s.setStringEnc(o, stringEncoding(val))
		if at != 0 && !keepTTL {
			db.ks.SetExpire(key, 0)
		}
		s.keyModified(db, key)
	} else {
		s.setStringKey(db, key, val, stringEncoding(val), keepTTL)
	}
	s.dirty++
	s.notify(notifyString, "set", key, db.id)
	if expire != nil {
		db.ks.SetExpire(key, when)
		s.notify(notifyGeneric, "expire", key, db.id)
	}
	switch replies {
	case replyOneZero:
		c.Int(1)
	default:
		if flags&setGet == 0 {
			c.OK()
		}
	}
	if !s.propagating() {
		return
	}
	switch {
	case expire != nil:
		// Relative and absolute expiries alike travel as an absolute PXAT,
		// so that replicas and AOF reloads do not shift them.
		var buf [20]byte
		s.propagate(db.id, [][]byte{argSET, key, val, argPXAT, strconv.AppendInt(buf[:0], when, 10)})
	case flags&setGet != 0:
		argv := make([][]byte, 0, len(args))
		for j, a := range args {
			if j >= 3 && isWord(a, "get") {
				continue
			}
			argv = append(argv, a)
		}
		s.propagate(db.id, argv)
	default:
		s.propagate(db.id, args)
	}
}

// reusable reports whether a stored string's buffer can take a new value
// of length n in place without keeping much more memory than it needs.
func reusable(old []byte, n int) bool {
	return cap(old) >= n && cap(old) <= 2*n+32
}

func setCommand(s *Server, c *Client, args [][]byte) {
	if len(args) == 3 {
		s.setGeneric(c, args, 0, args[1], args[2], nil, replyOKNull, "set")
		return
	}
	flags, expire, ok := parseStringOptions(c, args, true)
	if !ok {
		return
	}
	s.setGeneric(c, args, flags, args[1], args[2], expire, replyOKNull, "set")
}

func setnxCommand(s *Server, c *Client, args [][]byte) {
	s.setGeneric(c, args, setNX, args[1], args[2], nil, replyOneZero, "setnx")
}

func setexCommand(s *Server, c *Client, args [][]byte) {
	s.setGeneric(c, args, setEX, args[1], args[3], args[2], replyOKNull, "setex")
}

func psetexCommand(s *Server, c *Client, args [][]byte) {
	s.setGeneric(c, args, setPX, args[1], args[3], args[2], replyOKNull, "psetex")
}

// alreadyExpired reports whether an absolute expiry is in the past, so
// that setting it deletes the key instead. Replicas keep such keys and
// wait for the primary's DEL (checkAlreadyExpired).
func (s *Server) alreadyExpired(when int64) bool {
	return when <= s.now() && !s.isReplica()
}

func getexCommand(s *Server, c *Client, args [][]byte) {
	flags, expire, ok := parseStringOptions(c, args, false)
	if !ok {
		return
	}
	key := args[1]
	o, ok := s.lookupStringRead(c, key)
	if !ok {
		return
	}
	if o == nil {
		c.Null()
		return
	}
	var when int64
	if expire != nil {
		if when, ok = s.expireMillis(c, expire, flags, "getex"); !ok {
			return
		}
	}
	c.Bulk(o.Str)
	db := c.db
	switch {
	case flags&(setEXAT|setPXAT) != 0 && s.alreadyExpired(when):
		old, _ := db.ks.Delete(key)
		s.freeObject(old, s.cfg.LazyfreeLazyExpire)
		s.propagateDeletion(db, key, s.cfg.LazyfreeLazyExpire)
		s.keyModified(db, key)
		s.notify(notifyGeneric, "del", key, db.id)
		s.dirty++
	case expire != nil:
		db.ks.SetExpire(key, when)
		if s.propagating() {
			var buf [20]byte
			s.propagate(db.id, [][]byte{argPEXPIREAT, key, strconv.AppendInt(buf[:0], when, 10)})
		}
		s.keyModified(db, key)
		s.notify(notifyGeneric, "expire", key, db.id)
		s.dirty++
	case flags&setPersist != 0:
		if s.expireOf(db, key) != 0 {
			db.ks.SetExpire(key, 0)
			s.keyModified(db, key)
			s.propagate(db.id, [][]byte{argPERSIST, key})
			s.notify(notifyGeneric, "persist", key, db.id)
			s.dirty++
		}
	}
}

func getdelCommand(s *Server, c *Client, args [][]byte) {
	if !s.getGeneric(c, args[1]) {
		return
	}
	db := c.db
	if old, deleted := db.ks.Delete(args[1]); deleted {
		s.freeObject(old, s.cfg.LazyfreeLazyUserDel)
		s.propagateDeletion(db, args[1], s.cfg.LazyfreeLazyUserDel)
		s.keyModified(db, args[1])
		s.notify(notifyGeneric, "del", args[1], db.id)
		s.dirty++
	}
}

func getsetCommand(s *Server, c *Client, args [][]byte) {
	if !s.getGeneric(c, args[1]) {
		return
	}
	db := c.db
	s.setStringKey(db, args[1], args[2], stringEncoding(args[2]), false)
	s.notify(notifyString, "set", args[1], db.id)
	s.dirty++
	s.propagate(db.id, [][]byte{argSET, args[1], args[2]})
}

func mgetCommand(s *Server, c *Client, args [][]byte) {
	c.ArrayLen(len(args) - 1)
	for _, key := range args[1:] {
		o := s.lookupRead(c.db, key)
		if o == nil || o.Type != keyspace.TypeString {
			c.Null()
		} else {
			c.Bulk(o.Str)
		}
	}
}

func msetGeneric(s *Server, c *Client, args [][]byte, nx bool) {
	if len(args)%2 == 0 {
		c.Error("ERR wrong number of arguments for '" + lowerName(args[0]) + "' command")
		return
	}
	db := c.db
	if nx {
		for j := 1; j < len(args); j += 2 {
			if s.lookupWrite(db, args[j]) != nil {
				c.Int(0)
				return
			}
		}
	}
	for j := 1; j < len(args); j += 2 {
		key, val := args[j], args[j+1]
		o, at := db.ks.Lookup(key)
		if o != nil && at != 0 && s.expireIfNeeded(db, key, at) {
			o, at = nil, 0
		}
		if o != nil && o.Type == keyspace.TypeString && reusable(o.Str, len(val)) {
			s.touchLRU(o)
			o.Str = append(o.Str[:0], val...)
			s.setStringEnc(o, stringEncoding(val))
			if at != 0 {
				db.ks.SetExpire(key, 0)
			}
			s.keyModified(db, key)
		} else {
			s.setStringKey(db, key, val, stringEncoding(val), false)
		}
		s.notify(notifyString, "set", key, db.id)
	}
	s.dirty += int64(len(args) / 2)
	s.propagate(db.id, args)
	if nx {
		c.Int(1)
	} else {
		c.OK()
	}
}

// lowerName is a command name as Redis prints it in arity errors.
func lowerName(b []byte) string {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = lower(b[i])
	}
	return string(out)
}

func msetCommand(s *Server, c *Client, args [][]byte)   { msetGeneric(s, c, args, false) }
func msetnxCommand(s *Server, c *Client, args [][]byte) { msetGeneric(s, c, args, true) }

func appendCommand(s *Server, c *Client, args [][]byte) {
	db, key, add := c.db, args[1], args[2]
	o := s.lookupWrite(db, key)
	var total int
	if o == nil {
		s.setStringKey(db, key, add, stringEncoding(add), false)
		total = len(add)
	} else {
		if o.Type != keyspace.TypeString {
			c.Error(errWrongType)
			return
		}
		if !s.checkStringLength(c, int64(len(o.Str)), int64(len(add))) {
			return
		}
		o.Str = append(o.Str, add...)
		o.Enc, o.Shared = keyspace.EncRaw, false
		total = len(o.Str)
		s.keyModified(db, key)
	}
	s.notify(notifyString, "append", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
	c.Int(int64(total))
}

func strlenCommand(s *Server, c *Client, args [][]byte) {
	o, ok := s.lookupStringRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Int(0)
		return
	}
	c.Int(int64(len(o.Str)))
}

// incrDecr adds incr to the integer at key (incrDecrCommand).
func incrDecr(s *Server, c *Client, args [][]byte, incr int64) {
	db, key := c.db, args[1]
	o := s.lookupWrite(db, key)
	var value int64
	if o != nil {
		if o.Type != keyspace.TypeString {
			c.Error(errWrongType)
			return
		}
		v, ok := parseInt64Strict(o.Str)
		if !ok {
			c.Error(errNotInt)
			return
		}
		value = v
	}
	if (incr < 0 && value < 0 && incr < math.MinInt64-value) ||
		(incr > 0 && value > 0 && incr > math.MaxInt64-value) {
		c.Error(errOverflow)
		return
	}
	value += incr
	if o != nil && o.Type == keyspace.TypeString {
		// In place, as Redis modifies an unshared int object.
		o.Str = strconv.AppendInt(o.Str[:0], value, 10)
		s.setStringEnc(o, keyspace.EncInt)
		s.keyModified(db, key)
	} else {
		var buf [20]byte
		s.setStringKey(db, key, strconv.AppendInt(buf[:0], value, 10), keyspace.EncInt, false)
	}
	s.notify(notifyString, "incrby", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
	c.Int(value)
}

func incrCommand(s *Server, c *Client, args [][]byte) { incrDecr(s, c, args, 1) }
func decrCommand(s *Server, c *Client, args [][]byte) { incrDecr(s, c, args, -1) }

func incrbyCommand(s *Server, c *Client, args [][]byte) {
	incr, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	incrDecr(s, c, args, incr)
}

func decrbyCommand(s *Server, c *Client, args [][]byte) {
	incr, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	if incr == math.MinInt64 {
		c.Error(errDecrOverflow)
		return
	}
	incrDecr(s, c, args, -incr)
}

// Redis computes INCRBYFLOAT (and HINCRBYFLOAT) in C's long double, the
// x87 80-bit format on the platforms it ships on: a 64-bit mantissa and a
// 15-bit exponent. big.Float at 64 bits of precision with round-to-nearest
// reproduces its sums exactly, which float64 would not (10.5+0.1 prints
// as 10.6 in Redis, 10.59999999999999964 in float64).
const (
	longDoublePrec   = 64
	longDoubleMaxExp = 16384  // |x| < 2**16384
	longDoubleMinExp = -16445 // the smallest denormal is 2**-16445
	longDoubleMaxLen = 5 * 1024
)

// longDouble is a parsed long double: a finite value, or an infinity.
type longDouble struct {
	f   *big.Float
	inf int // +1 or -1 for ±inf, 0 for finite
}

// parseLongDouble parses v as Redis's string2ld (strtold with no leading
// space, every byte consumed, no NaN, no overflow or underflow to zero).
func parseLongDouble(v []byte) (longDouble, bool) {
	if len(v) == 0 || len(v) >= longDoubleMaxLen {
		return longDouble{}, false
	}
	i, neg := 0, false
	if v[0] == '+' || v[0] == '-' {
		neg = v[0] == '-'
		i = 1
	}
	rest := v[i:]
	if isWord(rest, "inf") || isWord(rest, "infinity") {
		if neg {
			return longDouble{inf: -1}, true
		}
		return longDouble{inf: 1}, true
	}
	base := 10
	if len(rest) > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X') {
		if !validHexFloat(rest[2:]) {
			return longDouble{}, false
		}
		base = 0
	} else if !validDecimalFloat(rest) {
		return longDouble{}, false
	}
	f, _, err := big.ParseFloat(string(v), base, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return longDouble{}, false
	}
	if f.Sign() != 0 {
		exp := f.MantExp(nil)
		if exp > longDoubleMaxExp || exp < longDoubleMinExp {
			return longDouble{}, false // strtold's ERANGE
		}
	}
	return longDouble{f: f}, true
}

// validDecimalFloat checks strtold's decimal grammar without the sign:
// digits with an optional point (at least one digit), then an optional
// exponent with at least one digit.
func validDecimalFloat(v []byte) bool {
	i, digits := 0, 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
		digits++
	}
	if i < len(v) && v[i] == '.' {
		i++
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(v)
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

// validHexFloat checks a hexadecimal float after "0x": hex digits with an
// optional point and an optional binary exponent p[+-]digits.
func validHexFloat(v []byte) bool {
	i, digits := 0, 0
	for i < len(v) && isHex(v[i]) {
		i++
		digits++
	}
	if i < len(v) && v[i] == '.' {
		i++
		for i < len(v) && isHex(v[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(v) && (v[i] == 'p' || v[i] == 'P') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(v)
}

// addLongDouble adds two long doubles; ok is false when the sum is an
// infinity or NaN (or overflows the long double range).
func addLongDouble(a, b longDouble) (*big.Float, bool) {
	if a.inf != 0 || b.inf != 0 {
		return nil, false
	}
	sum := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven)
	sum.Add(a.f, b.f)
	if sum.Sign() != 0 && sum.MantExp(nil) > longDoubleMaxExp {
		return nil, false
	}
	return sum, true
}

// formatLongDoubleHuman formats f as Redis's ld2string in LD_STR_HUMAN
// mode: "%.17Lf", trailing zeros (and a trailing point) removed, "-0"
// written as "0".
func formatLongDoubleHuman(f *big.Float) []byte {
	b := f.Append(nil, 'f', 17)
	for i := range b {
		if b[i] == '.' {
			for b[len(b)-1] == '0' {
				b = b[:len(b)-1]
			}
			if b[len(b)-1] == '.' {
				b = b[:len(b)-1]
			}
			break
		}
	}
	if len(b) == 2 && b[0] == '-' && b[1] == '0' {
		b = b[1:]
	}
	return b
}

func incrbyfloatCommand(s *Server, c *Client, args [][]byte) {
	db, key := c.db, args[1]
	o := s.lookupWrite(db, key)
	if o != nil && o.Type != keyspace.TypeString {
		c.Error(errWrongType)
		return
	}
	value := longDouble{f: new(big.Float).SetPrec(longDoublePrec)}
	if o != nil {
		v, ok := parseLongDouble(o.Str)
		if !ok {
			c.Error(errNotFloat)
			return
		}
		value = v
	}
	incr, ok := parseLongDouble(args[2])
	if !ok {
		c.Error(errNotFloat)
		return
	}
	sum, ok := addLongDouble(value, incr)
	if !ok {
		c.Error(errIncrFloatNaN)
		return
	}
	str := formatLongDoubleHuman(sum)
	enc := keyspace.EncEmbStr
	if len(str) > embstrMax {
		enc = keyspace.EncRaw
	}
	s.setStringKey(db, key, str, enc, true)
	s.notify(notifyString, "incrbyfloat", key, db.id)
	s.dirty++
	c.Bulk(str)
	// Always replicated as SET with the final value, so that float
	// formatting differences cannot make replicas or AOF reloads diverge.
	s.propagate(db.id, [][]byte{argSET, key, str, argKEEPTTL})
}

func getrangeCommand(s *Server, c *Client, args [][]byte) {
	start, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	end, ok := int64Arg(c, args[3])
	if !ok {
		return
	}
	o, ok := s.lookupStringRead(c, args[1])
	if !ok {
		return
	}
	if o == nil {
		c.Bulk(nil)
		return
	}
	str := o.Str
	n := int64(len(str))
	if start < 0 && end < 0 && start > end {
		c.Bulk(nil)
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end < 0 {
		end = 0
	}
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.Bulk(nil)
		return
	}
	c.Bulk(str[start : end+1])
}

func setrangeCommand(s *Server, c *Client, args [][]byte) {
	offset, ok := int64Arg(c, args[2])
	if !ok {
		return
	}
	if offset < 0 {
		c.Error(errOffsetRange)
		return
	}
	db, key, val := c.db, args[1], args[3]
	o := s.lookupWrite(db, key)
	var length int
	if o == nil {
		if len(val) == 0 {
			c.Int(0)
			return
		}
		if !s.checkStringLength(c, offset, int64(len(val))) {
			return
		}
		buf := make([]byte, offset+int64(len(val)))
		copy(buf[offset:], val)
		s.setKey(db, key, keyspace.Object{Type: keyspace.TypeString, Enc: keyspace.EncRaw, Str: buf}, false)
		length = len(buf)
	} else {
		if o.Type != keyspace.TypeString {
			c.Error(errWrongType)
			return
		}
		if len(val) == 0 {
			c.Int(int64(len(o.Str)))
			return
		}
		if !s.checkStringLength(c, offset, int64(len(val))) {
			return
		}
		if need := int(offset) + len(val); need > len(o.Str) {
			if need <= cap(o.Str) {
				old := len(o.Str)
				o.Str = o.Str[:need]
				clear(o.Str[old:])
			} else {
				grown := make([]byte, need, need+need/2)
				copy(grown, o.Str)
				o.Str = grown
			}
		}
		copy(o.Str[offset:], val)
		o.Enc, o.Shared = keyspace.EncRaw, false
		length = len(o.Str)
		s.keyModified(db, key)
	}
	s.notify(notifyString, "setrange", key, db.id)
	s.dirty++
	s.propagate(db.id, args)
	c.Int(int64(length))
}

// lcsCommand: LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN].
func lcsCommand(s *Server, c *Client, args [][]byte) {
	oa := s.lookupRead(c.db, args[1])
	ob := s.lookupRead(c.db, args[2])
	if (oa != nil && oa.Type != keyspace.TypeString) || (ob != nil && ob.Type != keyspace.TypeString) {
		c.Error(errLCSNotString)
		return
	}
	var a, b []byte
	if oa != nil {
		a = oa.Str
	}
	if ob != nil {
		b = ob.Str
	}
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(args); j++ {
		opt := args[j]
		more := len(args) - 1 - j
		switch {
		case isWord(opt, "idx"):
			getIdx = true
		case isWord(opt, "len"):
			getLen = true
		case isWord(opt, "withmatchlen"):
			withMatchLen = true
		case isWord(opt, "minmatchlen") && more > 0:
			n, ok := int64Arg(c, args[j+1])
			if !ok {
				return
			}
			minMatchLen = max(n, 0)
			j++
		default:
			c.Error(errSyntax)
			return
		}
	}
	if getLen && getIdx {
		c.Error(errLCSLenAndIdx)
		return
	}
	if uint64(len(a)) >= math.MaxUint32-1 || uint64(len(b)) >= math.MaxUint32-1 {
		c.Error(errLCSTooLong)
		return
	}
	alen, blen := len(a), len(b)
	cells := uint64(alen+1) * uint64(blen+1)
	if cells*4 > uint64(s.cfg.ProtoMaxBulkLen) {
		c.Error(errLCSTooMuchMem)
		return
	}
	// lcs[i*(blen+1)+j] is the LCS length of a[:i] and b[:j].
	w := blen + 1
	lcs := make([]uint32, cells)
	for i := 1; i <= alen; i++ {
		row, prev := lcs[i*w:(i+1)*w], lcs[(i-1)*w:i*w]
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				row[j] = prev[j-1] + 1
			} else {
				row[j] = max(prev[j], row[j-1])
			}
		}
	}
	total := lcs[alen*w+blen]
	idx := total
	computeLCS := getIdx || !getLen
	var result []byte
	if computeLCS {
		result = make([]byte, idx)
	}
	var arrayLen deferred
	matches := 0
	if getIdx {
		c.MapLen(2)
		c.BulkString("matches")
		arrayLen = c.DeferLen()
	}
	// Walk back from the end, emitting each maximal run of matches as a
	// pair of ranges, exactly in Redis's order.
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0 // aStart == alen: no range open
	i, j := alen, blen
	for computeLCS && i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if aStart == alen {
				aStart, aEnd = i-1, i-1
				bStart, bEnd = j-1, j-1
			} else if aStart == i && bStart == j {
				aStart--
				bStart--
			} else {
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if lcs[(i-1)*w+j] > lcs[i*w+j-1] {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		matchLen := aEnd - aStart + 1
		if emit {
			if getIdx && (minMatchLen == 0 || int64(matchLen) >= minMatchLen) {
				if withMatchLen {
					c.ArrayLen(3)
				} else {
					c.ArrayLen(2)
				}
				c.ArrayLen(2)
				c.Int(int64(aStart))
				c.Int(int64(aEnd))
				c.ArrayLen(2)
				c.Int(int64(bStart))
				c.Int(int64(bEnd))
				if withMatchLen {
					c.Int(int64(matchLen))
				}
				matches++
			}
			aStart = alen
		}
	}
	switch {
	case getIdx:
		c.SetArrayLen(arrayLen, matches)
		c.BulkString("len")
		c.Int(int64(total))
	case getLen:
		c.Int(int64(total))
	default:
		c.Bulk(result)
	}
}
