package node

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/node/keyspace"
)

// DEBUG, gated by enable-debug-command: the subcommands Redis's test
// suite relies on. Those that would crash or restart Redis reply an error
// instead: the node never dies on request. Those that belong to other
// subsystems (RELOAD and LOADAOF to persistence, CHANGE-REPL-ID and
// REPLICATE to replication) call the hooks in debugState, which reply an
// error until the subsystem sets them.

func init() {
	register(map[string]handler{"debug": debugCommand})
}

// digestState is DEBUG DIGEST's running SHA1-based digest.
type digestState [20]byte

// xor folds SHA1(b) into d: order-independent (Redis's xorDigest).
func (d *digestState) xor(b []byte) {
	h := sha1.Sum(b)
	for i := range d {
		d[i] ^= h[i]
	}
}

// mix folds b in order-dependently: d = SHA1(d xor SHA1(b)) (mixDigest).
func (d *digestState) mix(b []byte) {
	d.xor(b)
	*d = sha1.Sum(d[:])
}

func (d *digestState) hex() string { return fmt.Sprintf("%x", d[:]) }

// debugTypeHooks let a type family plug its values into DEBUG.
type debugTypeHooks struct {
	// digest folds the value into d as Redis's xorObjectDigest does for
	// the type: mix for ordered elements, xor of per-element digests for
	// unordered ones.
	digest func(d *digestState, o *keyspace.Object)
	// objectExtra is appended to DEBUG OBJECT's line (" ql_nodes:...").
	objectExtra func(o *keyspace.Object) string
	// htStats returns HTSTATS-KEY's text, false if the value is not a
	// hash table.
	htStats func(o *keyspace.Object) (string, bool)
}

// debugTypes holds the hooks per type; registered from init functions
// with registerDebugType.
var debugTypes = map[keyspace.Type]*debugTypeHooks{}

func registerDebugType(t keyspace.Type, h *debugTypeHooks) {
	if _, dup := debugTypes[t]; dup {
		panic("node: debug hooks registered twice for " + t.String())
	}
	debugTypes[t] = h
}

// debugState holds DEBUG's switches and the other subsystems' hooks.
type debugState struct {
	// reload saves (unless !save) and reloads the RDB (persistence).
	reload func(c *Client, save, flush, merge bool) error
	// loadAOF flushes and reloads the AOF (persistence).
	loadAOF func(c *Client) error
	// serializedLen is a value's RDB serialized length (persistence);
	// nil: an estimate.
	serializedLen func(key []byte, o *keyspace.Object) int64
	// changeReplID renews the replication IDs (replication).
	changeReplID func()
	// replicate sends args to the replicas only (replication).
	replicate func(args [][]byte)

	quicklistPackedThreshold int64
	skipChecksumValidation   bool
	aofFlushSleepUs          int64
	disableDenyScripts       bool
	pauseCron                bool
	dictResizingDisabled     bool
}

// defaultPackedThreshold is the quicklist plain-node threshold (1GB).
const defaultPackedThreshold = 1 << 30

func (s *Server) debugState() *debugState {
	if st, ok := s.ext["debug"].(*debugState); ok {
		return st
	}
	st := &debugState{quicklistPackedThreshold: defaultPackedThreshold}
	s.ext["debug"] = st
	return st
}

// Accessors for the subsystems that obey DEBUG's switches.
func (s *Server) quicklistPackedThreshold() int64 { return s.debugState().quicklistPackedThreshold }
func (s *Server) skipChecksumValidation() bool    { return s.debugState().skipChecksumValidation }
func (s *Server) cronPaused() bool                { return s.debugState().pauseCron || s.scriptYielding() }
func (s *Server) dictResizingDisabled() bool      { return s.debugState().dictResizingDisabled }
func (s *Server) scriptsDenyDisabled() bool       { return s.debugState().disableDenyScripts }

// debugGateInterceptor refuses DEBUG when enable-debug-command does not
// allow the client, as a rejected command (Redis checks protected
// commands before running them).
func debugGateInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	if cmd.Name != "debug" || s.debugAllowed(c) {
		return false
	}
	s.rejectCommand(c, cmd, errDebugNotAllowed)
	return true
}

var debugHelp = []string{
	"AOF-FLUSH-SLEEP <microsec>",
	"    Server will sleep before flushing the AOF, this is used for testing.",
	"ASSERT",
	"    Crash by assertion failed.",
	"CHANGE-REPL-ID",
	"    Change the replication IDs of the instance.",
	"    Dangerous: should be used only for testing the replication subsystem.",
	"CONFIG-REWRITE-FORCE-ALL",
	"    Like CONFIG REWRITE but writes all configuration options, including",
	"    keywords not listed in original configuration file or default values.",
	"CRASH-AND-RECOVER [<milliseconds>]",
	"    Hard crash and restart after a <milliseconds> delay (default 0).",
	"DIGEST",
	"    Output a hex signature representing the current DB content.",
	"DIGEST-VALUE <key> [<key> ...]",
	"    Output a hex signature of the values of all the specified keys.",
	"ERROR <string>",
	"    Return a Redis protocol error with <string> as message. Useful for clients",
	"    unit tests to simulate Redis errors.",
	"LEAK <string>",
	"    Create a memory leak of the input string.",
	"LOG <message>",
	"    Write <message> to the server log.",
	"HTSTATS <dbid>",
	"    Return hash table statistics of the specified Redis database.",
	"HTSTATS-KEY <key>",
	"    Like HTSTATS but for the hash table stored at <key>'s value.",
	"LOADAOF",
	"    Flush the AOF buffers on disk and reload the AOF in memory.",
	"REPLICATE <string>",
	"    Replicates the provided string to replicas, allowing data divergence.",
	"MALLCTL <key> [<val>]",
	"    Get or set a malloc tuning integer.",
	"MALLCTL-STR <key> [<val>]",
	"    Get or set a malloc tuning string.",
	"OBJECT <key>",
	"    Show low level info about `key` and associated value.",
	"DROP-CLUSTER-PACKET-FILTER <packet-type>",
	"    Drop all packets that match the filtered type. Set to -1 allow all packets.",
	"OOM",
	"    Crash the server simulating an out-of-memory error.",
	"PANIC",
	"    Crash the server simulating a panic.",
	"POPULATE <count> [<prefix>] [<size>]",
	"    Create <count> string keys named key:<num>. If <prefix> is specified then",
	"    it is used instead of the 'key' prefix. These are not propagated to",
	"    replicas. Cluster slots are not respected so keys not belonging to the",
	"    current node can be created in cluster mode.",
	"PROTOCOL <type>",
	"    Reply with a test value of the specified type. <type> can be: string,",
	"    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
	"    true, false.",
	"RELOAD [option ...]",
	"    Save the RDB on disk and reload it back to memory. Valid <option> values:",
	"    * MERGE: conflicting keys will be loaded from RDB.",
	"    * NOFLUSH: the existing database will not be removed before load, but",
	"      conflicting keys will generate an exception and kill the server.",
	"    * NOSAVE: the database will be loaded from an existing RDB file.",
	"    Examples:",
	"    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
	"      the database.",
	"    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
	"      existing RDB file.",
	"    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
	"      file to the database.",
	"RESTART [<milliseconds>]",
	"    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
	"SDSLEN <key>",
	"    Show low level SDS string info representing `key` and value.",
	"SEGFAULT",
	"    Crash the server with sigsegv.",
	"SET-ACTIVE-EXPIRE <0|1>",
	"    Setting it to 0 disables expiring keys in background when they are not",
	"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
	"    default.",
	"QUICKLIST-PACKED-THRESHOLD <size>",
	"    Sets the threshold for elements to be inserted as plain vs packed nodes",
	"    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
	"SET-SKIP-CHECKSUM-VALIDATION <0|1>",
	"    Enables or disables checksum checks for RDB files and RESTORE's payload.",
	"SLEEP <seconds>",
	"    Stop the server for <seconds>. Decimals allowed.",
	"STRINGMATCH-TEST",
	"    Run a fuzz tester against the stringmatchlen() function.",
	"STRUCTSIZE",
	"    Return the size of different Redis core C structures.",
	"LISTPACK <key>",
	"    Show low level info about the listpack encoding of <key>.",
	"QUICKLIST <key> [<0|1>]",
	"    Show low level info about the quicklist encoding of <key>.",
	"    The optional argument (0 by default) sets the level of detail",
	"CLIENT-EVICTION",
	"    Show low level client eviction pools info (maxmemory-clients).",
	"PAUSE-CRON <0|1>",
	"    Stop periodic cron job processing.",
	"REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
	"    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
	"    In case NEVER is provided the last observed peak will never be reset",
	"    In case RESET is provided the peak reset time will be restored to the default value",
	"REPLYBUFFER RESIZING <0|1>",
	"    Enable or disable the reply buffer resize cron job",
	"CLUSTERLINK KILL <to|from|all> <node-id>",
	"    Kills the link based on the direction to/from (both) with the provided node.",
}

// debugSubcommands maps DEBUG's subcommands to their implementation and
// arity check (argc: exact count, or at least -argc).
var debugSubcommands = map[string]struct {
	argc int
	fn   func(s *Server, c *Client, args [][]byte)
}{
	"help":                         {2, func(s *Server, c *Client, args [][]byte) { replyHelp(c, args[0], debugHelp) }},
	"segfault":                     {-2, debugCrash},
	"panic":                        {-2, debugCrash},
	"assert":                       {-2, debugCrash},
	"oom":                          {-2, debugCrash},
	"restart":                      {-2, debugRestart},
	"crash-and-recover":            {-2, debugRestart},
	"log":                          {3, debugLog},
	"leak":                         {3, func(s *Server, c *Client, args [][]byte) { c.OK() }},
	"reload":                       {-2, debugReload},
	"loadaof":                      {-2, debugLoadAOF},
	"drop-cluster-packet-filter":   {3, debugDropClusterPacketFilter},
	"object":                       {3, debugObject},
	"sdslen":                       {3, debugSDSLen},
	"listpack":                     {3, debugListpack},
	"quicklist":                    {-3, debugQuicklist},
	"populate":                     {-3, debugPopulate},
	"digest":                       {2, debugDigest},
	"digest-value":                 {-2, debugDigestValue},
	"protocol":                     {3, debugProtocol},
	"sleep":                        {3, debugSleep},
	"set-active-expire":            {3, debugSetActiveExpire},
	"quicklist-packed-threshold":   {3, debugQuicklistPackedThreshold},
	"set-skip-checksum-validation": {3, debugSetSkipChecksumValidation},
	"aof-flush-sleep":              {3, debugAOFFlushSleep},
	"replicate":                    {-3, debugReplicate},
	"error":                        {3, debugError},
	"structsize":                   {2, debugStructSize},
	"htstats":                      {3, debugHTStats},
	"htstats-key":                  {3, debugHTStatsKey},
	"change-repl-id":               {2, debugChangeReplID},
	"stringmatch-test":             {2, debugStringmatchTest},
	"set-disable-deny-scripts":     {3, debugSetDisableDenyScripts},
	"config-rewrite-force-all":     {2, debugConfigRewriteForceAll},
	"client-eviction":              {2, debugClientEviction},
	"mallctl":                      {-3, debugMallctl},
	"mallctl-str":                  {-3, debugMallctl},
	"pause-cron":                   {3, debugPauseCron},
	"replybuffer":                  {4, debugReplyBuffer},
	"clusterlink":                  {5, debugClusterLink},
	// Redis 7.2's switch of the main dictionaries' resizing; tests of
	// later versions use it and it costs nothing here.
	"dict-resizing": {3, debugDictResizing},
}

func debugCommand(s *Server, c *Client, args [][]byte) {
	sub, ok := debugSubcommands[strings.ToLower(string(args[1]))]
	if !ok || (sub.argc > 0 && len(args) != sub.argc) || len(args) < -sub.argc {
		subcommandSyntaxError(c, args)
		return
	}
	sub.fn(s, c, args)
}

// debugCrash answers the subcommands that crash Redis on purpose.
func debugCrash(s *Server, c *Client, args [][]byte) {
	s.log.Warn("DEBUG " + strings.ToUpper(string(args[1])) + " refused: the node does not crash on request")
	c.Error("ERR DEBUG " + strings.ToUpper(string(args[1])) + " is not supported: the node does not crash on request")
}

func debugRestart(s *Server, c *Client, args [][]byte) {
	if len(args) >= 3 {
		if _, ok := parseRedisInt64(args[2]); !ok {
			c.Error(errNotInt)
			return
		}
	}
	c.Error("ERR failed to restart the server. Check server logs.")
}

func debugLog(s *Server, c *Client, args [][]byte) {
	s.log.Warn("DEBUG LOG: " + string(args[2]))
	c.OK()
}

func debugReload(s *Server, c *Client, args [][]byte) {
	save, flush, merge := true, true, false
	for _, a := range args[2:] {
		switch strings.ToUpper(string(a)) {
		case "MERGE":
			merge = true
		case "NOFLUSH":
			flush = false
		case "NOSAVE":
			save = false
		default:
			c.Error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
			return
		}
	}
	st := s.debugState()
	if st.reload == nil {
		c.Error("ERR DEBUG RELOAD needs RDB persistence, which this node does not have yet")
		return
	}
	if err := st.reload(c, save, flush, merge); err != nil {
		c.Error("ERR Error trying to load the RDB dump: " + err.Error())
		return
	}
	s.log.Warn("DB reloaded by DEBUG RELOAD")
	c.OK()
}

func debugLoadAOF(s *Server, c *Client, args [][]byte) {
	st := s.debugState()
	if st.loadAOF == nil {
		c.Error("ERR DEBUG LOADAOF needs AOF persistence, which this node does not have yet")
		return
	}
	if err := st.loadAOF(c); err != nil {
		c.Error("ERR Error loading the AOF: " + err.Error())
		return
	}
	s.log.Warn("Append Only File loaded by DEBUG LOADAOF")
	c.OK()
}

func debugDropClusterPacketFilter(s *Server, c *Client, args [][]byte) {
	if _, ok := parseRedisInt64(args[2]); !ok {
		c.Error(errNotInt)
		return
	}
	c.OK()
}

// rawLookup finds a key without expiring it: DEBUG works on logically
// expired keys, as Redis's dictFind does.
func rawLookup(c *Client, key []byte) *keyspace.Object {
	o, _ := c.db.ks.Lookup(key)
	return o
}

// debugLookup is Redis's objectCommandLookupOrReply: a lookup that
// expires keys but does not touch them; a missing key replies the error.
func (s *Server) debugLookup(c *Client, key []byte) *keyspace.Object {
	o, _ := s.peek(c.db, key)
	if o == nil {
		c.Error(errNoKey)
	}
	return o
}

func debugObject(s *Server, c *Client, args [][]byte) {
	o := rawLookup(c, args[2])
	if o == nil {
		c.Error(errNoKey)
		return
	}
	extra := ""
	if h := debugTypes[o.Type]; h != nil && h.objectExtra != nil {
		extra = h.objectExtra(o)
	}
	c.Status(fmt.Sprintf("Value at:%p refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d%s",
		o, s.objectRefcount(o), o.Enc, s.serializedLen(args[2], o), o.LRU, s.objectIdleMs(o)/1000, extra))
}

// serializedLen is the value's length in an RDB file: persistence's
// exact figure when it is there, else the uncompressed string encoding.
func (s *Server) serializedLen(key []byte, o *keyspace.Object) int64 {
	if f := s.debugState().serializedLen; f != nil {
		return f(key, o)
	}
	if o.Type != keyspace.TypeString {
		return 0
	}
	if v, ok := parseRedisInt64(o.Str); ok && len(o.Str) <= 11 {
		switch {
		case v >= math.MinInt8 && v <= math.MaxInt8:
			return 2
		case v >= math.MinInt16 && v <= math.MaxInt16:
			return 3
		case v >= math.MinInt32 && v <= math.MaxInt32:
			return 5
		}
	}
	n := int64(len(o.Str))
	switch {
	case n < 1<<6:
		return 1 + n
	case n < 1<<14:
		return 2 + n
	case n <= math.MaxUint32:
		return 5 + n
	}
	return 9 + n
}

func debugSDSLen(s *Server, c *Client, args [][]byte) {
	o := rawLookup(c, args[2])
	if o == nil {
		c.Error(errNoKey)
		return
	}
	if o.Type != keyspace.TypeString || o.Enc == keyspace.EncInt {
		c.Error("ERR Not an sds encoded string.")
		return
	}
	key := args[2]
	keyAlloc := jemallocSize(sdsHeaderSize(len(key)) + len(key) + 1)
	valAvail := int64(0)
	valAlloc := int64(jemallocSize(sdsHeaderSize(len(o.Str)) + len(o.Str) + 1))
	if o.Enc == keyspace.EncRaw {
		valAvail = int64(cap(o.Str) - len(o.Str))
		valAlloc = int64(jemallocSize(sdsHeaderSize(cap(o.Str)) + cap(o.Str) + 1))
	}
	c.Status(fmt.Sprintf("key_sds_len:%d, key_sds_avail:%d, key_zmalloc: %d, val_sds_len:%d, val_sds_avail:%d, val_zmalloc: %d",
		len(key), keyAlloc-sdsHeaderSize(len(key))-len(key)-1, keyAlloc, len(o.Str), valAvail, valAlloc))
}

func debugListpack(s *Server, c *Client, args [][]byte) {
	o := s.debugLookup(c, args[2])
	if o == nil {
		return
	}
	if o.Enc != keyspace.EncListpack {
		c.Error("ERR Not a listpack encoded object.")
		return
	}
	c.Status("Listpack structure printed on stdout")
}

func debugQuicklist(s *Server, c *Client, args [][]byte) {
	if len(args) > 4 {
		subcommandSyntaxError(c, args)
		return
	}
	o := s.debugLookup(c, args[2])
	if o == nil {
		return
	}
	if o.Enc != keyspace.EncQuicklist {
		c.Error("ERR Not a quicklist encoded object.")
		return
	}
	c.Status("Quicklist structure printed on stdout")
}

// positiveArg is Redis's getPositiveLongFromObjectOrReply without a
// message: anything but a non-negative integer is "out of range".
func positiveArg(c *Client, b []byte) (int64, bool) {
	v, ok := parseRedisInt64(b)
	if !ok || v < 0 {
		c.Error(errNegativeCount)
		return 0, false
	}
	return v, true
}

func debugPopulate(s *Server, c *Client, args [][]byte) {
	if len(args) > 5 {
		subcommandSyntaxError(c, args)
		return
	}
	n, ok := positiveArg(c, args[2])
	if !ok {
		return
	}
	var size int64
	if len(args) == 5 {
		if size, ok = positiveArg(c, args[4]); !ok {
			return
		}
		// Redis would abort on the allocation; the node refuses instead.
		if size > s.cfg.ProtoMaxBulkLen {
			c.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
			return
		}
	}
	prefix := "key"
	if len(args) >= 4 {
		prefix = string(args[3])
	}
	var kb, vb []byte
	for j := int64(0); j < n; j++ {
		kb = append(append(kb[:0], prefix...), ':')
		kb = strconv.AppendInt(kb, j, 10)
		if s.lookupWrite(c.db, kb) != nil {
			continue
		}
		vb = strconv.AppendInt(append(vb[:0], "value:"...), j, 10)
		val := vb
		if size > 0 {
			// A value of exactly size bytes: the prefix of "value:N",
			// padded with zero bytes, as Redis's populate.
			val = make([]byte, size)
			copy(val, vb)
		}
		enc := keyspace.EncEmbStr
		if len(val) > embstrMax {
			enc = keyspace.EncRaw
		}
		s.setKey(c.db, kb, keyspace.Object{Type: keyspace.TypeString, Enc: enc, Str: append([]byte(nil), val...)}, false)
	}
	c.OK()
}

// datasetDigest is Redis's computeDatasetDigest: per database (mixing
// its id in), the xor over keys of mix(key) + the value's digest.
func (s *Server) datasetDigest() digestState {
	var final digestState
	for _, db := range s.dbs {
		if db.ks.Len() == 0 {
			continue
		}
		var id [4]byte
		binary.BigEndian.PutUint32(id[:], uint32(db.id))
		final.mix(id[:])
		db.ks.Each(func(r keyspace.KeyRef) bool {
			var d digestState
			d.mix([]byte(r.Key))
			objectDigest(&d, r.Obj, r.Expire)
			final.xor(d[:])
			return true
		})
	}
	return final
}

// objectDigest folds a value into d as Redis's xorObjectDigest: its type,
// its contents, and whether it has a TTL.
func objectDigest(d *digestState, o *keyspace.Object, expire int64) {
	var t [4]byte
	binary.BigEndian.PutUint32(t[:], uint32(redisObjType(o.Type)))
	d.mix(t[:])
	if o.Type == keyspace.TypeString {
		d.mix(o.Str)
	} else if h := debugTypes[o.Type]; h != nil && h.digest != nil {
		h.digest(d, o)
	}
	if expire != 0 {
		d.xor([]byte("!!expire!!"))
	}
}

// redisObjType is Redis's OBJ_* number of a type, which the digest hashes.
func redisObjType(t keyspace.Type) int {
	switch t {
	case keyspace.TypeString:
		return 0
	case keyspace.TypeList:
		return 1
	case keyspace.TypeSet:
		return 2
	case keyspace.TypeZSet:
		return 3
	case keyspace.TypeHash:
		return 4
	case keyspace.TypeStream:
		return 6
	}
	return 5 // OBJ_MODULE
}

func debugDigest(s *Server, c *Client, args [][]byte) {
	d := s.datasetDigest()
	c.Status(d.hex())
}

func debugDigestValue(s *Server, c *Client, args [][]byte) {
	c.ArrayLen(len(args) - 2)
	for _, key := range args[2:] {
		var d digestState
		if o, at := c.db.ks.Lookup(key); o != nil {
			objectDigest(&d, o, at)
		}
		c.Status(d.hex())
	}
}

func debugProtocol(s *Server, c *Client, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "string":
		c.BulkString("Hello World")
	case "integer":
		c.Int(12345)
	case "double":
		c.Double(3.141)
	case "bignum":
		c.BigNum("1234567999999999999999999999999999999")
	case "null":
		c.Null()
	case "array":
		c.ArrayLen(3)
		for j := int64(0); j < 3; j++ {
			c.Int(j)
		}
	case "set":
		c.SetLen(3)
		for j := int64(0); j < 3; j++ {
			c.Int(j)
		}
	case "map":
		c.MapLen(3)
		for j := int64(0); j < 3; j++ {
			c.Int(j)
			c.Bool(j == 1)
		}
	case "attrib":
		if c.resp >= 3 {
			c.AttributeLen(1)
			c.BulkString("key-popularity")
			c.ArrayLen(2)
			c.BulkString("key:123")
			c.Int(90)
		}
		c.BulkString("Some real reply following the attribute")
	case "push":
		if c.resp < 3 {
			c.Error("ERR RESP2 is not supported by this command")
			return
		}
		c.PushLen(2)
		c.BulkString("server-cpu-usage")
		c.Int(42)
		c.BulkString("Some real reply following the push reply")
	case "true":
		c.Bool(true)
	case "false":
		c.Bool(false)
	case "verbatim":
		c.Verbatim("This is a verbatim\nstring", "txt")
	default:
		c.Error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
	}
}

// strtod parses the longest prefix of b that is a decimal floating point
// number, as C's strtod does (0 when there is none).
func strtod(b []byte) float64 {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	for n := len(s); n > 0; n-- {
		if v, err := strconv.ParseFloat(s[:n], 64); err == nil || isRangeErr(err) {
			return v
		}
	}
	return 0
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// atoi parses a leading integer as C's atoi (0 when there is none).
func atoi(b []byte) int64 {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, _ := strconv.ParseInt(s[:end], 10, 64)
	return v
}

// debugSleep stops the shard for the given seconds with its lock held:
// the point is to make the whole server unresponsive, as Redis does.
func debugSleep(s *Server, c *Client, args [][]byte) {
	d := strtod(args[2])
	if d > 0 && !math.IsInf(d, 0) && !math.IsNaN(d) {
		time.Sleep(time.Duration(d * float64(time.Second)))
	}
	c.OK()
}

func debugSetActiveExpire(s *Server, c *Client, args [][]byte) {
	s.setActiveExpire(atoi(args[2]) != 0)
	c.OK()
}

func debugQuicklistPackedThreshold(s *Server, c *Client, args [][]byte) {
	sz, ok := parseMemoryValue(args[2])
	if !ok || sz > 1<<32-1<<20 {
		c.Error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
		return
	}
	if sz == 0 {
		sz = defaultPackedThreshold
	}
	s.debugState().quicklistPackedThreshold = sz
	c.OK()
}

// parseMemoryValue parses a size with Redis's memtoull units (b, k, kb,
// m, mb, g, gb; k is 1000, kb is 1024).
func parseMemoryValue(b []byte) (int64, bool) {
	s := strings.ToLower(string(b))
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || (mul > 1 && v > math.MaxInt64/uint64(mul)) || v > math.MaxInt64 {
		return 0, false
	}
	return int64(v) * mul, true
}

func debugSetSkipChecksumValidation(s *Server, c *Client, args [][]byte) {
	s.debugState().skipChecksumValidation = atoi(args[2]) != 0
	c.OK()
}

func debugAOFFlushSleep(s *Server, c *Client, args [][]byte) {
	s.debugState().aofFlushSleepUs = atoi(args[2])
	c.OK()
}

func debugReplicate(s *Server, c *Client, args [][]byte) {
	if f := s.debugState().replicate; f != nil {
		cp := make([][]byte, len(args)-2)
		for i, a := range args[2:] {
			cp[i] = append([]byte(nil), a...)
		}
		f(cp)
	}
	c.OK()
}

// debugError replies its argument as an error, verbatim: it does not
// count in the error statistics, as Redis writes it as raw protocol.
func debugError(s *Server, c *Client, args [][]byte) {
	msg := []byte(string(args[2]))
	for i, b := range msg {
		if b == '\r' || b == '\n' {
			msg[i] = ' '
		}
	}
	c.Raw([]byte("-" + string(msg) + "\r\n"))
}

func debugStructSize(s *Server, c *Client, args [][]byte) {
	c.BulkString("bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 sdshdr64:17 ")
}

// htStatsText describes a hash table of n entries in buckets slots in the
// layout of Redis's dictGetStats.
func htStatsText(n, buckets int, rehashing bool) string {
	if n == 0 {
		return "No stats available for empty dictionaries\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hash table 0 stats (main hash table):\n table size: %d\n number of elements: %d\n", buckets, n)
	if rehashing {
		b.WriteString("Hash table 1 stats (rehashing target):\n")
	}
	return b.String()
}

func debugHTStats(s *Server, c *Client, args [][]byte) {
	id, ok := parseRedisInt64(args[2])
	if !ok {
		c.Error(errNotInt)
		return
	}
	if id < 0 || id >= int64(len(s.dbs)) {
		c.Error("ERR Out of range database")
		return
	}
	db := s.dbs[id].ks
	main, rehash := db.Buckets()
	text := "[Dictionary HT]\n" + htStatsText(db.Len(), main, rehash > 0) +
		"[Expires HT]\n" + htStatsText(db.VolatileLen(), db.VolatileLen(), false)
	c.Verbatim(text, "txt")
}

func debugHTStatsKey(s *Server, c *Client, args [][]byte) {
	o := s.debugLookup(c, args[2])
	if o == nil {
		return
	}
	if h := debugTypes[o.Type]; h != nil && h.htStats != nil {
		if text, ok := h.htStats(o); ok {
			c.Verbatim(text, "txt")
			return
		}
	}
	c.Error("ERR The value stored at the specified key is not represented using an hash table")
}

func debugChangeReplID(s *Server, c *Client, args [][]byte) {
	s.log.Warn("Changing replication IDs after receiving DEBUG change-repl-id")
	if f := s.debugState().changeReplID; f != nil {
		f()
	}
	c.OK()
}

// debugStringmatchTest runs random patterns and strings through the
// glob matcher: the test is that nothing panics.
func debugStringmatchTest(s *Server, c *Client, args [][]byte) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const alphabet = "ab*?[]^-\\c"
	rnd := func(n int) []byte {
		b := make([]byte, r.IntN(n))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return b
	}
	for i := 0; i < 1000; i++ {
		globMatch(rnd(32), rnd(32), false)
	}
	c.Status("Apparently Redis did not crash: test passed")
}

func debugSetDisableDenyScripts(s *Server, c *Client, args [][]byte) {
	s.debugState().disableDenyScripts = atoi(args[2]) != 0
	c.OK()
}

func debugConfigRewriteForceAll(s *Server, c *Client, args [][]byte) {
	if err := s.rewriteConfigForceAll(); err != nil {
		c.Error("ERR CONFIG-REWRITE-FORCE-ALL failed: " + err.Error())
		return
	}
	c.OK()
}

func debugClientEviction(s *Server, c *Client, args [][]byte) {
	c.Error("ERR maxmemory-clients is disabled.")
}

func debugMallctl(s *Server, c *Client, args [][]byte) {
	c.Error("ERR DEBUG " + strings.ToUpper(string(args[1])) + " is not supported: the node does not use jemalloc")
}

func debugPauseCron(s *Server, c *Client, args [][]byte) {
	s.debugState().pauseCron = atoi(args[2]) != 0
	c.OK()
}

func debugReplyBuffer(s *Server, c *Client, args [][]byte) {
	st := &s.clientState().replyBuf
	switch strings.ToLower(string(args[2])) {
	case "peak-reset-time":
		switch strings.ToLower(string(args[3])) {
		case "never":
			st.peakResetMs = -1
		case "reset":
			st.peakResetMs = replyPeakResetDefault
		default:
			v, ok := parseRedisInt64(args[3])
			if !ok {
				c.Error(errNotInt)
				return
			}
			st.peakResetMs = v
		}
	case "resizing":
		st.noResizing = atoi(args[3]) == 0
	default:
		subcommandSyntaxError(c, args)
		return
	}
	c.OK()
}

func debugClusterLink(s *Server, c *Client, args [][]byte) {
	if !strings.EqualFold(string(args[2]), "kill") {
		subcommandSyntaxError(c, args)
		return
	}
	c.Error("ERR Debug option only available for cluster mode enabled setup!")
}

func debugDictResizing(s *Server, c *Client, args [][]byte) {
	s.debugState().dictResizingDisabled = atoi(args[2]) == 0
	c.OK()
}

// Allocation sizes, for the figures Redis derives from jemalloc.

// jemallocSize rounds an allocation up to jemalloc's size class: 8, then
// steps of 16 up to 128, then four classes per doubling.
func jemallocSize(n int) int {
	switch {
	case n <= 8:
		return 8
	case n <= 128:
		return (n + 15) &^ 15
	}
	step := 1 << (bitLen(n-1) - 3)
	return (n + step - 1) &^ (step - 1)
}

func bitLen(n int) int {
	l := 0
	for n > 0 {
		n >>= 1
		l++
	}
	return l
}

// sdsHeaderSize is the header of the sds type Redis picks for a length.
func sdsHeaderSize(n int) int {
	switch {
	case n < 1<<5:
		return 1
	case n < 1<<8:
		return 3
	case n < 1<<16:
		return 5
	case n < 1<<32:
		return 9
	}
	return 17
}
