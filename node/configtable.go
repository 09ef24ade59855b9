package node

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The configuration registry: every parameter Redis 7.0.15 has (its
// standardConfig table in config.c), with the same names, aliases, types,
// ranges, defaults, flags and error messages, so that CONFIG GET/SET,
// redis.conf and CONFIG REWRITE behave as redis-server's do.

// cfgFlag mirrors Redis's config flags.
type cfgFlag uint16

const (
	cfgImmutable   cfgFlag = 1 << iota // only settable at start-up
	cfgSensitive                       // value redacted from logs (CONFIG SET args)
	cfgDebug                           // reported by DEBUG CONFIG-REWRITE-FORCE-ALL style dumps
	cfgMultiArg                        // takes several arguments
	cfgHidden                          // left out of CONFIG GET patterns
	cfgProtected                       // needs enable-protected-configs
	cfgDenyLoading                     // refused while loading a dataset
	cfgVolatile                        // always counts as changed
)

// numFlag mirrors Redis's numeric config flags.
type numFlag uint8

const (
	numMemory  numFlag = 1 << iota // accepts 1k 1kb 1m 1mb 1g 1gb
	numPercent                     // accepts N% (stored as -N)
	numOctal                       // parsed and shown in octal
)

// configParam is one row of the registry.
type configParam struct {
	name  string
	alias string
	flags cfgFlag
	kind  paramKind
	apply *applier // run after CONFIG SET changed the value; nil: none
}

// paramKind is the type-specific behaviour of a parameter.
type paramKind interface {
	// init stores the default.
	init(c *Config)
	// set validates args and stores the value. It reports whether the
	// value changed; err is Redis's message for a bad value.
	set(c *Config, args []string, ld *configLoader) (changed bool, err error)
	// get formats the value as CONFIG GET replies it.
	get(c *Config) string
	// rewrite writes the directive's line(s) for CONFIG REWRITE.
	rewrite(c *Config, name string, rw *rewriteState)
}

// applier makes a changed value take effect on a running server. Appliers
// are compared by pointer so that one shared by several parameters runs
// once per CONFIG SET.
type applier struct {
	name string
	fn   func(s *Server) error
}

func (p *configParam) has(f cfgFlag) bool { return p.flags&f != 0 }

// setArgs sets the parameter from already-split arguments.
func (p *configParam) setArgs(c *Config, args []string, ld *configLoader) (bool, error) {
	changed, err := p.kind.set(c, args, ld)
	if err == nil && p.has(cfgVolatile) {
		changed = true
	}
	return changed, err
}

// configErr is a validation failure with Redis's wording.
func configErr(msg string) error { return errors.New(msg) }

// The registry is built during package variable initialization, before
// any init function runs, so that subsystems can call onConfigSet from
// theirs whatever their file names.
var (
	configParams = configTable()
	// configIndex maps lower-case names and aliases to their parameter.
	configIndex = indexConfig(configParams)
	// configNames lists every name (aliases too) in registry order, as
	// CONFIG GET patterns walk them.
	configNames = configNameList(configParams)
)

func indexConfig(params []*configParam) map[string]*configParam {
	idx := make(map[string]*configParam, 2*len(params))
	for _, p := range params {
		for _, n := range []string{p.name, p.alias} {
			if n == "" {
				continue
			}
			if _, dup := idx[n]; dup {
				panic("node: config parameter registered twice: " + n)
			}
			idx[n] = p
		}
	}
	return idx
}

func configNameList(params []*configParam) []string {
	var names []string
	for _, p := range params {
		names = append(names, p.name)
		if p.alias != "" {
			names = append(names, p.alias)
		}
	}
	return names
}

// lookupConfig finds a parameter by name or alias, case-insensitively.
func lookupConfig(name string) *configParam {
	if p, ok := configIndex[name]; ok {
		return p
	}
	return configIndex[strings.ToLower(name)]
}

// ---- bool ----

type boolKind struct {
	name  string
	field func(*Config) *bool
	def   bool
	valid func(bool) error
}

func (k *boolKind) load(c *Config) bool {
	if k.field != nil {
		return *k.field(c)
	}
	v, _ := c.extra[k.name].(bool)
	return v
}

func (k *boolKind) store(c *Config, v bool) {
	if k.field != nil {
		*k.field(c) = v
		return
	}
	c.extra[k.name] = v
}

func (k *boolKind) init(c *Config) { k.store(c, k.def) }

func (k *boolKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	v, ok := yesNo(args[0])
	if !ok {
		return false, configErr("argument must be 'yes' or 'no'")
	}
	if k.valid != nil {
		if err := k.valid(v); err != nil {
			return false, err
		}
	}
	if k.load(c) == v {
		return false, nil
	}
	k.store(c, v)
	return true, nil
}

func (k *boolKind) get(c *Config) string { return yesNoString(k.load(c)) }

func (k *boolKind) rewrite(c *Config, name string, rw *rewriteState) {
	v := k.load(c)
	rw.rewriteLine(name, name+" "+yesNoString(v), v != k.def)
}

func yesNo(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "yes"):
		return true, true
	case strings.EqualFold(s, "no"):
		return false, true
	}
	return false, false
}

func yesNoString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ---- string ----

type stringKind struct {
	name      string
	field     func(*Config) *string
	def       string
	emptyNull bool // "" means unset: left out of a rewritten file
	valid     func(string) error
}

func (k *stringKind) load(c *Config) string {
	if k.field != nil {
		return *k.field(c)
	}
	v, _ := c.extra[k.name].(string)
	return v
}

func (k *stringKind) store(c *Config, v string) {
	if k.field != nil {
		*k.field(c) = v
		return
	}
	c.extra[k.name] = v
}

func (k *stringKind) init(c *Config) { k.store(c, k.def) }

func (k *stringKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	if k.valid != nil {
		if err := k.valid(args[0]); err != nil {
			return false, err
		}
	}
	if k.load(c) == args[0] {
		return false, nil
	}
	k.store(c, args[0])
	return true, nil
}

func (k *stringKind) get(c *Config) string { return k.load(c) }

func (k *stringKind) rewrite(c *Config, name string, rw *rewriteState) {
	v := k.load(c)
	if v == "" && k.emptyNull {
		rw.markProcessed(name)
		return
	}
	rw.rewriteLine(name, name+" "+reprString(v), v != k.def || (k.def == "" && k.emptyNull))
}

// ---- enum ----

type enumVal struct {
	name string
	val  int
}

type enumKind struct {
	name     string
	values   []enumVal
	def      int
	bitflags bool // several values OR-ed together (multi-arg enums)
	// Exactly one of these binds the value to a field; both nil: extra.
	strField func(*Config) *string
	intField func(*Config) *int
	valid    func(int) error
}

func (k *enumKind) load(c *Config) int {
	switch {
	case k.strField != nil:
		for _, e := range k.values {
			if e.name == *k.strField(c) {
				return e.val
			}
		}
		return k.def
	case k.intField != nil:
		return *k.intField(c)
	}
	v, _ := c.extra[k.name].(int)
	return v
}

func (k *enumKind) store(c *Config, v int) {
	switch {
	case k.strField != nil:
		*k.strField(c) = enumName(k.values, v, k.bitflags)
	case k.intField != nil:
		*k.intField(c) = v
	default:
		c.extra[k.name] = v
	}
}

func (k *enumKind) init(c *Config) { k.store(c, k.def) }

func (k *enumKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	v, ok := enumValue(k.values, args, k.bitflags)
	if !ok {
		names := make([]string, len(k.values))
		for i, e := range k.values {
			names[i] = e.name
		}
		return false, configErr("argument(s) must be one of the following: " + strings.Join(names, ", "))
	}
	if k.valid != nil {
		if err := k.valid(v); err != nil {
			return false, err
		}
	}
	if k.load(c) == v {
		return false, nil
	}
	k.store(c, v)
	return true, nil
}

func (k *enumKind) get(c *Config) string { return enumName(k.values, k.load(c), k.bitflags) }

func (k *enumKind) rewrite(c *Config, name string, rw *rewriteState) {
	v := k.load(c)
	rw.rewriteLine(name, name+" "+enumName(k.values, v, k.bitflags), v != k.def)
}

// enumValue is configEnumGetValue: names match case-insensitively, and a
// bitflags enum ORs several.
func enumValue(values []enumVal, args []string, bitflags bool) (int, bool) {
	if len(args) == 0 || (!bitflags && len(args) != 1) {
		return 0, false
	}
	v := 0
	for _, a := range args {
		matched := false
		for _, e := range values {
			if strings.EqualFold(a, e.name) {
				v |= e.val
				matched = true
			}
		}
		if !matched {
			return 0, false
		}
	}
	return v, true
}

// enumName is configEnumGetName: the first exact match, or for bitflags
// the names covering the bits in table order; "unknown" otherwise.
func enumName(values []enumVal, v int, bitflags bool) string {
	var names []string
	unmatched := v
	for _, e := range values {
		if v == e.val {
			return e.name
		}
		if bitflags && e.val != 0 && e.val == unmatched&e.val {
			names = append(names, e.name)
			unmatched &^= e.val
		}
	}
	if len(names) == 0 || unmatched != 0 {
		return "unknown"
	}
	return strings.Join(names, " ")
}

// ---- numeric ----

type numKind struct {
	name     string
	load     func(*Config) int64
	store    func(*Config, int64)
	def      int64
	lo, hi   int64
	unsigned bool // bounds compare as unsigned (Redis's uint, ull, size_t)
	flags    numFlag
	valid    func(int64) error
}

// numField binds a numeric parameter to an int or int64 field.
func numField[T int | int64](f func(*Config) *T) (func(*Config) int64, func(*Config, int64)) {
	return func(c *Config) int64 { return int64(*f(c)) },
		func(c *Config, v int64) { *f(c) = T(v) }
}

func (k *numKind) get64(c *Config) int64 {
	if k.load != nil {
		return k.load(c)
	}
	v, _ := c.extra[k.name].(int64)
	return v
}

func (k *numKind) put64(c *Config, v int64) {
	if k.store != nil {
		k.store(c, v)
		return
	}
	c.extra[k.name] = v
}

func (k *numKind) init(c *Config) { k.put64(c, k.def) }

func (k *numKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	v, err := k.parse(args[0])
	if err != nil {
		return false, err
	}
	if err := k.check(v); err != nil {
		return false, err
	}
	if k.valid != nil {
		if err := k.valid(v); err != nil {
			return false, err
		}
	}
	if k.get64(c) == v {
		return false, nil
	}
	k.put64(c, v)
	return true, nil
}

// parse is numericParseString.
func (k *numKind) parse(s string) (int64, error) {
	if k.flags&numMemory != 0 {
		if v, ok := memToUint(s); ok {
			return int64(v), nil
		}
	}
	if k.flags&numPercent != 0 && len(s) > 1 && s[len(s)-1] == '%' {
		if v, ok := parseLL(s[:len(s)-1]); ok && v >= 0 {
			return -v, nil
		}
	}
	if k.flags&numOctal != 0 {
		if v, ok := parseOctal(s); ok {
			return v, nil
		}
	}
	if k.flags == 0 {
		if v, ok := parseLL(s); ok {
			return v, nil
		}
	}
	switch {
	case k.flags&numMemory != 0 && k.flags&numPercent != 0:
		return 0, configErr("argument must be a memory or percent value")
	case k.flags&numMemory != 0:
		return 0, configErr("argument must be a memory value")
	case k.flags&numOctal != 0:
		return 0, configErr("argument couldn't be parsed as an octal number")
	}
	return 0, configErr("argument couldn't be parsed into an integer")
}

// check is numericBoundaryCheck.
func (k *numKind) check(v int64) error {
	if k.unsigned {
		u, lo, hi := uint64(v), uint64(k.lo), uint64(k.hi)
		if u > hi || u < lo {
			if k.flags&numOctal != 0 {
				return configErr(fmt.Sprintf("argument must be between %o and %o inclusive", lo, hi))
			}
			return configErr(fmt.Sprintf("argument must be between %d and %d inclusive", lo, hi))
		}
		return nil
	}
	if k.flags&numPercent != 0 && v < 0 {
		if v < k.lo {
			return configErr(fmt.Sprintf("percentage argument must be less or equal to %d", -k.lo))
		}
		return nil
	}
	if v > k.hi || v < k.lo {
		return configErr(fmt.Sprintf("argument must be between %d and %d inclusive", k.lo, k.hi))
	}
	return nil
}

func (k *numKind) get(c *Config) string {
	v := k.get64(c)
	switch {
	case k.flags&numPercent != 0 && v < 0:
		return strconv.FormatInt(-v, 10) + "%"
	case k.flags&numMemory != 0:
		return strconv.FormatUint(uint64(v), 10)
	case k.flags&numOctal != 0:
		return strconv.FormatUint(uint64(v), 8)
	}
	return strconv.FormatInt(v, 10)
}

func (k *numKind) rewrite(c *Config, name string, rw *rewriteState) {
	v := k.get64(c)
	force := v != k.def
	switch {
	case k.flags&numPercent != 0 && v < 0:
		rw.rewriteLine(name, fmt.Sprintf("%s %d%%", name, -v), force)
	case k.flags&numMemory != 0:
		rw.rewriteLine(name, name+" "+formatMemory(v), force)
	case k.flags&numOctal != 0:
		rw.rewriteLine(name, fmt.Sprintf("%s %o", name, uint64(v)), force)
	default:
		rw.rewriteLine(name, fmt.Sprintf("%s %d", name, v), force)
	}
}

// formatMemory writes bytes with the largest exact unit, as
// rewriteConfigFormatMemory.
func formatMemory(v int64) string {
	const kb, mb, gb = 1024, 1024 * 1024, 1024 * 1024 * 1024
	switch {
	case v != 0 && v%gb == 0:
		return strconv.FormatInt(v/gb, 10) + "gb"
	case v != 0 && v%mb == 0:
		return strconv.FormatInt(v/mb, 10) + "mb"
	case v != 0 && v%kb == 0:
		return strconv.FormatInt(v/kb, 10) + "kb"
	}
	return strconv.FormatInt(v, 10)
}

// memToUint is Redis's memtoull: digits with an optional unit (b, k, kb,
// m, mb, g, gb; case-insensitive). As in Redis, an empty string is 0, an
// out-of-range number saturates and the multiplication wraps.
func memToUint(s string) (uint64, bool) {
	if strings.HasPrefix(s, "-") {
		return 0, false
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	var mul uint64
	switch u := strings.ToLower(s[i:]); u {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1024
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1024 * 1024
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1024 * 1024 * 1024
	default:
		return 0, false
	}
	if i >= 128 {
		return 0, false
	}
	var v uint64
	for _, d := range s[:i] {
		n := uint64(d - '0')
		if v > (math.MaxUint64-n)/10 {
			v = math.MaxUint64
			break
		}
		v = v*10 + n
	}
	return v * mul, true
}

// parseLL is Redis's string2ll: strict decimal, no spaces, no '+', no
// leading zeros.
func parseLL(s string) (int64, bool) {
	if len(s) == 0 || len(s) >= 21 {
		return 0, false
	}
	if s == "0" {
		return 0, true
	}
	p := s
	neg := false
	if p[0] == '-' {
		neg = true
		p = p[1:]
		if len(p) == 0 {
			return 0, false
		}
	}
	if p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, false
		}
		d := uint64(p[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
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

// parseOctal is strtoll(s, &end, 8) requiring the whole string: leading
// white space and a sign are allowed, and an empty string is 0.
func parseOctal(s string) (int64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if t == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(t, 8, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// ---- table helpers ----

func boolCfg(name, alias string, flags cfgFlag, field func(*Config) *bool, def bool, valid func(bool) error, apply *applier) *configParam {
	return &configParam{name: name, alias: alias, flags: flags,
		kind: &boolKind{name: name, field: field, def: def, valid: valid}, apply: apply}
}

func strCfg(name, alias string, flags cfgFlag, emptyNull bool, field func(*Config) *string, def string, valid func(string) error, apply *applier) *configParam {
	return &configParam{name: name, alias: alias, flags: flags,
		kind: &stringKind{name: name, field: field, def: def, emptyNull: emptyNull, valid: valid}, apply: apply}
}

func enumCfg(name, alias string, flags cfgFlag, values []enumVal, field func(*Config) *string, def int, valid func(int) error, apply *applier) *configParam {
	return &configParam{name: name, alias: alias, flags: flags,
		kind: &enumKind{name: name, values: values, def: def, strField: field, valid: valid, bitflags: flags&cfgMultiArg != 0}, apply: apply}
}

func enumIntCfg(name, alias string, flags cfgFlag, values []enumVal, field func(*Config) *int, def int, valid func(int) error, apply *applier) *configParam {
	return &configParam{name: name, alias: alias, flags: flags,
		kind: &enumKind{name: name, values: values, def: def, intField: field, valid: valid, bitflags: flags&cfgMultiArg != 0}, apply: apply}
}

// numeric types, for their bounds semantics.
const (
	signed   = false
	unsigned = true
)

func numCfg(name, alias string, flags cfgFlag, uns bool, lo, hi int64, load func(*Config) int64, store func(*Config, int64), def int64, nf numFlag, valid func(int64) error, apply *applier) *configParam {
	return &configParam{name: name, alias: alias, flags: flags,
		kind: &numKind{name: name, load: load, store: store, def: def, lo: lo, hi: hi, unsigned: uns, flags: nf, valid: valid}, apply: apply}
}

func intCfg(name, alias string, flags cfgFlag, lo, hi int64, f func(*Config) *int, def int64, nf numFlag, apply *applier) *configParam {
	l, s := numField(f)
	return numCfg(name, alias, flags, signed, lo, hi, l, s, def, nf, nil, apply)
}

func i64Cfg(name, alias string, flags cfgFlag, uns bool, lo, hi int64, f func(*Config) *int64, def int64, nf numFlag, apply *applier) *configParam {
	l, s := numField(f)
	return numCfg(name, alias, flags, uns, lo, hi, l, s, def, nf, nil, apply)
}

// extraNum is a numeric parameter that is only stored.
func extraNum(name, alias string, flags cfgFlag, uns bool, lo, hi int64, def int64, nf numFlag) *configParam {
	return numCfg(name, alias, flags, uns, lo, hi, nil, nil, def, nf, nil, nil)
}

const (
	intMax    = math.MaxInt32
	intMin    = math.MinInt32
	uintMax   = math.MaxUint32
	longMax   = math.MaxInt64
	llongMax  = math.MaxInt64
	ullongMax = -1 // as int64 bits: 2^64-1 under unsigned comparison
	ssizeMax  = math.MaxInt64
)

const (
	mutable   cfgFlag = 0
	immutable         = cfgImmutable
)

var (
	maxmemoryPolicies = []enumVal{
		{"volatile-lru", 0}, {"volatile-lfu", 1}, {"volatile-random", 2}, {"volatile-ttl", 3},
		{"allkeys-lru", 4}, {"allkeys-lfu", 5}, {"allkeys-random", 6}, {"noeviction", 7},
	}
	syslogFacilities = []enumVal{
		{"user", 8}, {"local0", 128}, {"local1", 136}, {"local2", 144}, {"local3", 152},
		{"local4", 160}, {"local5", 168}, {"local6", 176}, {"local7", 184},
	}
	logLevels        = []enumVal{{"debug", 0}, {"verbose", 1}, {"notice", 2}, {"warning", 3}}
	supervisedModes  = []enumVal{{"upstart", 1}, {"systemd", 2}, {"auto", 3}, {"no", 0}}
	fsyncModes       = []enumVal{{"everysec", 1}, {"always", 2}, {"no", 0}}
	shutdownSigFlags = []enumVal{{"default", 0}, {"save", shutdownSave}, {"nosave", shutdownNoSave}, {"now", shutdownNow}, {"force", shutdownForce}}
	disklessLoad     = []enumVal{{"disabled", 0}, {"on-empty-db", 1}, {"swapdb", 2}}
	tlsAuthClients   = []enumVal{{"no", 0}, {"yes", 1}, {"optional", 2}}
	oomScoreAdj      = []enumVal{{"no", 0}, {"yes", 1}, {"relative", 1}, {"absolute", 2}}
	aclPubsubDefault = []enumVal{{"allchannels", 1}, {"resetchannels", 0}}
	sanitizePayload  = []enumVal{{"no", 0}, {"yes", 1}, {"clients", 2}}
	protectedAction  = []enumVal{{"no", 0}, {"yes", 1}, {"local", 2}}
	endpointTypes    = []enumVal{{"ip", 0}, {"hostname", 1}, {"unknown-endpoint", 2}}
	propagationError = []enumVal{{"ignore", 0}, {"panic", 1}, {"panic-on-replicas", 2}}
)

// SHUTDOWN flags, as shutdown-on-sigint/sigterm hold them.
const (
	shutdownSave   = 1
	shutdownNoSave = 2
	shutdownNow    = 4
	shutdownForce  = 8
)

// Protected actions (enable-debug-command and friends).
const (
	protectedNo    = 0
	protectedYes   = 1
	protectedLocal = 2
)

// configTable builds the registry, in config.c's order.
func configTable() []*configParam {
	dbg := cfgDebug
	return []*configParam{
		// Bool configs.
		boolCfg("rdbchecksum", "", immutable, func(c *Config) *bool { return &c.RDBChecksum }, true, nil, nil),
		boolCfg("daemonize", "", immutable, func(c *Config) *bool { return &c.Daemonize }, false, nil, nil),
		boolCfg("io-threads-do-reads", "", dbg|immutable, nil, false, nil, nil),
		boolCfg("always-show-logo", "", immutable, nil, false, nil, nil),
		boolCfg("protected-mode", "", mutable, func(c *Config) *bool { return &c.ProtectedMode }, true, nil, nil),
		boolCfg("rdbcompression", "", mutable, func(c *Config) *bool { return &c.RDBCompression }, true, nil, nil),
		boolCfg("rdb-del-sync-files", "", mutable, func(c *Config) *bool { return &c.RDBDelSyncFiles }, false, nil, nil),
		boolCfg("activerehashing", "", mutable, func(c *Config) *bool { return &c.ActiveRehashing }, true, nil, nil),
		boolCfg("stop-writes-on-bgsave-error", "", mutable, func(c *Config) *bool { return &c.StopWritesOnBgsaveError }, true, nil, nil),
		boolCfg("set-proc-title", "", immutable, nil, true, nil, nil),
		boolCfg("dynamic-hz", "", mutable, func(c *Config) *bool { return &c.DynamicHz }, true, nil, nil),
		boolCfg("lazyfree-lazy-eviction", "", dbg, func(c *Config) *bool { return &c.LazyfreeLazyEviction }, false, nil, nil),
		boolCfg("lazyfree-lazy-expire", "", dbg, func(c *Config) *bool { return &c.LazyfreeLazyExpire }, false, nil, nil),
		boolCfg("lazyfree-lazy-server-del", "", dbg, func(c *Config) *bool { return &c.LazyfreeLazyServerDel }, false, nil, nil),
		boolCfg("lazyfree-lazy-user-del", "", dbg, func(c *Config) *bool { return &c.LazyfreeLazyUserDel }, false, nil, nil),
		boolCfg("lazyfree-lazy-user-flush", "", dbg, func(c *Config) *bool { return &c.LazyfreeLazyUserFlush }, false, nil, nil),
		boolCfg("repl-disable-tcp-nodelay", "", mutable, func(c *Config) *bool { return &c.ReplDisableTCPNoDelay }, false, nil, nil),
		boolCfg("repl-diskless-sync", "", dbg, func(c *Config) *bool { return &c.ReplDisklessSync }, true, nil, nil),
		boolCfg("aof-rewrite-incremental-fsync", "", mutable, func(c *Config) *bool { return &c.AOFRewriteIncrementalFsync }, true, nil, nil),
		boolCfg("no-appendfsync-on-rewrite", "", mutable, func(c *Config) *bool { return &c.NoAppendfsyncOnRewrite }, false, nil, nil),
		boolCfg("cluster-require-full-coverage", "", mutable, nil, true, nil, nil),
		boolCfg("rdb-save-incremental-fsync", "", mutable, func(c *Config) *bool { return &c.RDBSaveIncrementalFsync }, true, nil, nil),
		boolCfg("aof-load-truncated", "", mutable, func(c *Config) *bool { return &c.AOFLoadTruncated }, true, nil, nil),
		boolCfg("aof-use-rdb-preamble", "", mutable, func(c *Config) *bool { return &c.AOFUseRDBPreamble }, true, nil, nil),
		boolCfg("aof-timestamp-enabled", "", mutable, func(c *Config) *bool { return &c.AOFTimestampEnabled }, false, nil, nil),
		boolCfg("cluster-replica-no-failover", "cluster-slave-no-failover", mutable, nil, false, nil, nil),
		boolCfg("replica-lazy-flush", "slave-lazy-flush", mutable, func(c *Config) *bool { return &c.ReplicaLazyFlush }, false, nil, nil),
		boolCfg("replica-serve-stale-data", "slave-serve-stale-data", mutable, func(c *Config) *bool { return &c.ReplicaServeStaleData }, true, nil, nil),
		boolCfg("replica-read-only", "slave-read-only", dbg, func(c *Config) *bool { return &c.ReplicaReadOnly }, true, nil, nil),
		boolCfg("replica-ignore-maxmemory", "slave-ignore-maxmemory", mutable, func(c *Config) *bool { return &c.ReplicaIgnoreMaxmemory }, true, nil, nil),
		boolCfg("jemalloc-bg-thread", "", mutable, nil, true, nil, nil),
		boolCfg("activedefrag", "", dbg, nil, false, validActiveDefrag, nil),
		boolCfg("syslog-enabled", "", immutable, nil, false, nil, nil),
		boolCfg("cluster-enabled", "", immutable, nil, false, validClusterEnabled, nil),
		boolCfg("appendonly", "", cfgDenyLoading, func(c *Config) *bool { return &c.AppendOnly }, false, nil, nil),
		boolCfg("cluster-allow-reads-when-down", "", mutable, nil, false, nil, nil),
		boolCfg("cluster-allow-pubsubshard-when-down", "", mutable, nil, true, nil, nil),
		boolCfg("crash-log-enabled", "", mutable, nil, true, nil, nil),
		boolCfg("crash-memcheck-enabled", "", mutable, nil, true, nil, nil),
		boolCfg("use-exit-on-panic", "", cfgHidden, nil, false, nil, nil),
		boolCfg("disable-thp", "", immutable, nil, true, nil, nil),
		boolCfg("cluster-allow-replica-migration", "", mutable, nil, true, nil, nil),
		boolCfg("replica-announced", "", mutable, func(c *Config) *bool { return &c.ReplicaAnnounced }, true, nil, nil),
		boolCfg("latency-tracking", "", mutable, func(c *Config) *bool { return &c.LatencyTracking }, true, nil, nil),
		boolCfg("aof-disable-auto-gc", "", mutable, func(c *Config) *bool { return &c.AOFDisableAutoGC }, false, nil, nil),
		boolCfg("replica-ignore-disk-write-errors", "", mutable, nil, false, nil, nil),

		// String configs.
		strCfg("aclfile", "", immutable, false, func(c *Config) *string { return &c.AclFile }, "", nil, nil),
		strCfg("unixsocket", "", immutable, true, func(c *Config) *string { return &c.UnixSocket }, "", nil, nil),
		strCfg("pidfile", "", immutable, true, func(c *Config) *string { return &c.PidFile }, "", nil, nil),
		strCfg("replica-announce-ip", "slave-announce-ip", mutable, true, func(c *Config) *string { return &c.ReplicaAnnounceIP }, "", nil, nil),
		strCfg("masteruser", "", cfgSensitive, true, func(c *Config) *string { return &c.MasterUser }, "", nil, nil),
		strCfg("cluster-announce-ip", "", mutable, true, nil, "", nil, nil),
		strCfg("cluster-config-file", "", immutable, false, nil, "nodes.conf", nil, nil),
		strCfg("cluster-announce-hostname", "", mutable, true, nil, "", validAnnouncedHostname, nil),
		strCfg("syslog-ident", "", immutable, false, nil, "redis", nil, nil),
		strCfg("dbfilename", "", cfgProtected, false, func(c *Config) *string { return &c.DBFilename }, "dump.rdb", validDBFilename, nil),
		strCfg("appendfilename", "", immutable, false, func(c *Config) *string { return &c.AppendFilename }, "appendonly.aof", validAOFFilename, nil),
		strCfg("appenddirname", "", immutable, false, func(c *Config) *string { return &c.AppendDirname }, "appendonlydir", validAOFDirname, nil),
		strCfg("server_cpulist", "", immutable, true, nil, "", nil, nil),
		strCfg("bio_cpulist", "", immutable, true, nil, "", nil, nil),
		strCfg("aof_rewrite_cpulist", "", immutable, true, nil, "", nil, nil),
		strCfg("bgsave_cpulist", "", immutable, true, nil, "", nil, nil),
		strCfg("ignore-warnings", "", mutable, false, nil, "", nil, nil),
		strCfg("proc-title-template", "", mutable, false, nil, "{title} {listen-addr} {server-mode}", validProcTitleTemplate, nil),
		strCfg("bind-source-addr", "", mutable, true, nil, "", nil, nil),
		strCfg("logfile", "", immutable, false, func(c *Config) *string { return &c.LogFile }, "", nil, nil),

		// SDS configs.
		strCfg("masterauth", "", cfgSensitive, true, func(c *Config) *string { return &c.MasterAuth }, "", nil, nil),
		strCfg("requirepass", "", cfgSensitive, true, func(c *Config) *string { return &c.RequirePass }, "", nil, applyRequirePass),

		// Enum configs.
		enumCfg("supervised", "", immutable, supervisedModes, nil, 0, nil, nil),
		enumCfg("syslog-facility", "", immutable, syslogFacilities, nil, 128, nil, nil),
		enumCfg("repl-diskless-load", "", dbg|cfgDenyLoading, disklessLoad, func(c *Config) *string { return &c.ReplDisklessLoad }, 0, nil, nil),
		enumCfg("loglevel", "", mutable, logLevels, func(c *Config) *string { return &c.LogLevel }, 2, nil, applyLogLevel),
		enumCfg("maxmemory-policy", "", mutable, maxmemoryPolicies, func(c *Config) *string { return &c.MaxMemoryPolicy }, 7, nil, nil),
		enumCfg("appendfsync", "", mutable, fsyncModes, func(c *Config) *string { return &c.AppendFsync }, 1, nil, nil),
		enumCfg("oom-score-adj", "", mutable, oomScoreAdj, nil, 0, nil, applyOOMScoreAdj),
		enumCfg("acl-pubsub-default", "", mutable, aclPubsubDefault, func(c *Config) *string { return &c.AclPubsubDefault }, 0, nil, nil),
		enumCfg("sanitize-dump-payload", "", dbg, sanitizePayload, func(c *Config) *string { return &c.SanitizeDumpPayload }, 0, nil, nil),
		enumCfg("enable-protected-configs", "", immutable, protectedAction, func(c *Config) *string { return &c.EnableProtectedConfigs }, 0, nil, nil),
		enumCfg("enable-debug-command", "", immutable, protectedAction, func(c *Config) *string { return &c.EnableDebugCommand }, 0, nil, nil),
		enumCfg("enable-module-command", "", immutable, protectedAction, func(c *Config) *string { return &c.EnableModuleCommand }, 0, nil, nil),
		enumCfg("cluster-preferred-endpoint-type", "", mutable, endpointTypes, nil, 0, nil, nil),
		enumCfg("propagation-error-behavior", "", mutable, propagationError, nil, 0, nil, nil),
		enumIntCfg("shutdown-on-sigint", "", cfgMultiArg, shutdownSigFlags, func(c *Config) *int { return &c.ShutdownOnSigint }, 0, validShutdownFlags, nil),
		enumIntCfg("shutdown-on-sigterm", "", cfgMultiArg, shutdownSigFlags, func(c *Config) *int { return &c.ShutdownOnSigterm }, 0, validShutdownFlags, nil),

		// Integer configs.
		intCfg("databases", "", immutable, 1, intMax, func(c *Config) *int { return &c.Databases }, 16, 0, nil),
		intCfg("port", "", mutable, 0, 65535, func(c *Config) *int { return &c.Port }, 6379, 0, applyPort),
		extraNum("io-threads", "", dbg|immutable, signed, 1, 128, 1, 0),
		intCfg("auto-aof-rewrite-percentage", "", mutable, 0, intMax, func(c *Config) *int { return &c.AutoAOFRewritePercentage }, 100, 0, nil),
		extraNum("cluster-replica-validity-factor", "cluster-slave-validity-factor", mutable, signed, 0, intMax, 10, 0),
		intCfg("list-max-listpack-size", "list-max-ziplist-size", mutable, intMin, intMax, func(c *Config) *int { return &c.ListMaxListpackSize }, -2, 0, nil),
		intCfg("tcp-keepalive", "", mutable, 0, intMax, func(c *Config) *int { return &c.TCPKeepalive }, 300, 0, applyKeepAlive),
		extraNum("cluster-migration-barrier", "", mutable, signed, 0, intMax, 1, 0),
		extraNum("active-defrag-cycle-min", "", mutable, signed, 1, 99, 1, 0),
		extraNum("active-defrag-cycle-max", "", mutable, signed, 1, 99, 25, 0),
		extraNum("active-defrag-threshold-lower", "", mutable, signed, 0, 1000, 10, 0),
		extraNum("active-defrag-threshold-upper", "", mutable, signed, 0, 1000, 100, 0),
		intCfg("lfu-log-factor", "", mutable, 0, intMax, func(c *Config) *int { return &c.LFULogFactor }, 10, 0, nil),
		intCfg("lfu-decay-time", "", mutable, 0, intMax, func(c *Config) *int { return &c.LFUDecayTime }, 1, 0, nil),
		intCfg("replica-priority", "slave-priority", mutable, 0, intMax, func(c *Config) *int { return &c.ReplicaPriority }, 100, 0, nil),
		intCfg("repl-diskless-sync-delay", "", mutable, 0, intMax, func(c *Config) *int { return &c.ReplDisklessSyncDelay }, 5, 0, nil),
		intCfg("maxmemory-samples", "", mutable, 1, intMax, func(c *Config) *int { return &c.MaxMemorySamples }, 5, 0, nil),
		intCfg("maxmemory-eviction-tenacity", "", mutable, 0, 100, func(c *Config) *int { return &c.MaxMemoryEvictionTenacity }, 10, 0, nil),
		intCfg("timeout", "", mutable, 0, intMax, func(c *Config) *int { return &c.Timeout }, 0, 0, nil),
		intCfg("replica-announce-port", "slave-announce-port", mutable, 0, 65535, func(c *Config) *int { return &c.ReplicaAnnouncePort }, 0, 0, nil),
		intCfg("tcp-backlog", "", immutable, 0, intMax, func(c *Config) *int { return &c.TCPBacklog }, 511, 0, nil),
		extraNum("cluster-port", "", immutable, signed, 0, 65535, 0, 0),
		extraNum("cluster-announce-bus-port", "", mutable, signed, 0, 65535, 0, 0),
		extraNum("cluster-announce-port", "", mutable, signed, 0, 65535, 0, 0),
		extraNum("cluster-announce-tls-port", "", mutable, signed, 0, 65535, 0, 0),
		intCfg("repl-timeout", "", mutable, 1, intMax, func(c *Config) *int { return &c.ReplTimeout }, 60, 0, nil),
		intCfg("repl-ping-replica-period", "repl-ping-slave-period", mutable, 1, intMax, func(c *Config) *int { return &c.ReplPingReplicaPeriod }, 10, 0, nil),
		intCfg("list-compress-depth", "", dbg, 0, intMax, func(c *Config) *int { return &c.ListCompressDepth }, 0, 0, nil),
		intCfg("rdb-key-save-delay", "", cfgHidden, intMin, intMax, func(c *Config) *int { return &c.RDBKeySaveDelay }, 0, 0, nil),
		intCfg("key-load-delay", "", cfgHidden, intMin, intMax, func(c *Config) *int { return &c.KeyLoadDelay }, 0, 0, nil),
		intCfg("active-expire-effort", "", mutable, 1, 10, func(c *Config) *int { return &c.ActiveExpireEffort }, 1, 0, nil),
		intCfg("hz", "", mutable, 0, intMax, func(c *Config) *int { return &c.Hz }, 10, 0, applyHz),
		intCfg("min-replicas-to-write", "min-slaves-to-write", mutable, 0, intMax, func(c *Config) *int { return &c.MinReplicasToWrite }, 0, 0, nil),
		intCfg("min-replicas-max-lag", "min-slaves-max-lag", mutable, 0, intMax, func(c *Config) *int { return &c.MinReplicasMaxLag }, 10, 0, nil),
		extraNum("watchdog-period", "", cfgHidden, signed, 0, intMax, 0, 0),
		intCfg("shutdown-timeout", "", mutable, 0, intMax, func(c *Config) *int { return &c.ShutdownTimeout }, 10, 0, nil),
		intCfg("repl-diskless-sync-max-replicas", "", mutable, 0, intMax, func(c *Config) *int { return &c.ReplDisklessSyncMaxRepls }, 0, 0, nil),

		// Unsigned int configs.
		func() *configParam {
			p := intCfg("maxclients", "", mutable, 1, uintMax, func(c *Config) *int { return &c.MaxClients }, 10000, 0, nil)
			p.kind.(*numKind).unsigned = true
			return p
		}(),
		i64Cfg("unixsocketperm", "", immutable, unsigned, 0, 0o777, func(c *Config) *int64 { return &c.UnixSocketPerm }, 0, numOctal, nil),
		extraNum("socket-mark-id", "", immutable, unsigned, 0, uintMax, 0, 0),

		// Unsigned long configs (bounds compare as signed in Redis).
		extraNum("active-defrag-max-scan-fields", "", mutable, signed, 1, longMax, 1000, 0),
		i64Cfg("slowlog-max-len", "", mutable, signed, 0, longMax, func(c *Config) *int64 { return &c.SlowlogMaxLen }, 128, 0, nil),
		i64Cfg("acllog-max-len", "", mutable, signed, 0, longMax, func(c *Config) *int64 { return &c.AclLogMaxLen }, 128, 0, nil),

		// Long long configs.
		i64Cfg("busy-reply-threshold", "lua-time-limit", mutable, signed, 0, longMax, func(c *Config) *int64 { return &c.LuaTimeLimit }, 5000, 0, nil),
		extraNum("cluster-node-timeout", "", mutable, signed, 0, llongMax, 15000, 0),
		i64Cfg("slowlog-log-slower-than", "", mutable, signed, -1, llongMax, func(c *Config) *int64 { return &c.SlowlogLogSlowerThan }, 10000, 0, nil),
		i64Cfg("latency-monitor-threshold", "", mutable, signed, 0, llongMax, func(c *Config) *int64 { return &c.LatencyMonitorThreshold }, 0, 0, nil),
		i64Cfg("proto-max-bulk-len", "", dbg, signed, 1024*1024, longMax, func(c *Config) *int64 { return &c.ProtoMaxBulkLen }, 512*1024*1024, numMemory, nil),
		i64Cfg("stream-node-max-entries", "", mutable, signed, 0, llongMax, func(c *Config) *int64 { return &c.StreamNodeMaxEntries }, 100, 0, nil),
		i64Cfg("repl-backlog-size", "", mutable, signed, 1, llongMax, func(c *Config) *int64 { return &c.ReplBacklogSize }, 1024*1024, numMemory, applyReplBacklogSize),

		// Unsigned long long configs.
		i64Cfg("maxmemory", "", mutable, unsigned, 0, ullongMax, func(c *Config) *int64 { return &c.MaxMemory }, 0, numMemory, applyMaxMemory),
		extraNum("cluster-link-sendbuf-limit", "", mutable, unsigned, 0, ullongMax, 0, numMemory),

		// size_t configs.
		i64Cfg("hash-max-listpack-entries", "hash-max-ziplist-entries", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.HashMaxListpackEntries }, 512, 0, nil),
		i64Cfg("set-max-intset-entries", "", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.SetMaxIntsetEntries }, 512, 0, nil),
		i64Cfg("zset-max-listpack-entries", "zset-max-ziplist-entries", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.ZSetMaxListpackEntries }, 128, 0, nil),
		extraNum("active-defrag-ignore-bytes", "", mutable, unsigned, 1, llongMax, 100<<20, numMemory),
		i64Cfg("hash-max-listpack-value", "hash-max-ziplist-value", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.HashMaxListpackValue }, 64, numMemory, nil),
		i64Cfg("stream-node-max-bytes", "", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.StreamNodeMaxBytes }, 4096, numMemory, nil),
		i64Cfg("zset-max-listpack-value", "zset-max-ziplist-value", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.ZSetMaxListpackValue }, 64, numMemory, nil),
		i64Cfg("hll-sparse-max-bytes", "", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.HLLSparseMaxBytes }, 3000, numMemory, nil),
		i64Cfg("tracking-table-max-keys", "", mutable, unsigned, 0, longMax, func(c *Config) *int64 { return &c.TrackingTableMaxKeys }, 1000000, 0, nil),
		i64Cfg("client-query-buffer-limit", "", dbg, unsigned, 1024*1024, longMax, func(c *Config) *int64 { return &c.ClientQueryBufferLimit }, 1024*1024*1024, numMemory, nil),
		i64Cfg("maxmemory-clients", "", mutable, signed, -100, ssizeMax, func(c *Config) *int64 { return &c.MaxMemoryClients }, 0, numMemory|numPercent, nil),

		// Other configs.
		i64Cfg("repl-backlog-ttl", "", mutable, signed, 0, longMax, func(c *Config) *int64 { return &c.ReplBacklogTTL }, 60*60, 0, nil),
		i64Cfg("auto-aof-rewrite-min-size", "", mutable, signed, 0, llongMax, func(c *Config) *int64 { return &c.AutoAOFRewriteMinSize }, 64*1024*1024, numMemory, nil),
		extraNum("loading-process-events-interval-bytes", "", cfgHidden, signed, 1024, intMax, 2*1024*1024, 0),

		// TLS configs: Debian's redis-server is built with TLS, so these
		// exist there; the engine only stores them.
		extraNum("tls-port", "", mutable, signed, 0, 65535, 0, 0),
		extraNum("tls-session-cache-size", "", mutable, signed, 0, intMax, 20*1024, 0),
		extraNum("tls-session-cache-timeout", "", mutable, signed, 0, intMax, 300, 0),
		boolCfg("tls-cluster", "", mutable, nil, false, nil, nil),
		boolCfg("tls-replication", "", mutable, nil, false, nil, nil),
		enumCfg("tls-auth-clients", "", mutable, tlsAuthClients, nil, 1, nil, nil),
		boolCfg("tls-prefer-server-ciphers", "", mutable, nil, false, nil, nil),
		boolCfg("tls-session-caching", "", mutable, nil, true, nil, nil),
		strCfg("tls-cert-file", "", cfgVolatile, true, nil, "", nil, nil),
		strCfg("tls-key-file", "", cfgVolatile, true, nil, "", nil, nil),
		strCfg("tls-key-file-pass", "", mutable, true, nil, "", nil, nil),
		strCfg("tls-client-cert-file", "", cfgVolatile, true, nil, "", nil, nil),
		strCfg("tls-client-key-file", "", cfgVolatile, true, nil, "", nil, nil),
		strCfg("tls-client-key-file-pass", "", mutable, true, nil, "", nil, nil),
		strCfg("tls-dh-params-file", "", cfgVolatile, true, nil, "", nil, nil),
		strCfg("tls-ca-cert-file", "", cfgVolatile, true, nil, "", nil, nil),
		strCfg("tls-ca-cert-dir", "", cfgVolatile, true, nil, "", nil, nil),
		strCfg("tls-protocols", "", mutable, true, nil, "", nil, nil),
		strCfg("tls-ciphers", "", mutable, true, nil, "", nil, nil),
		strCfg("tls-ciphersuites", "", mutable, true, nil, "", nil, nil),

		// Special configs.
		{name: "dir", flags: cfgProtected | cfgDenyLoading, kind: dirKind{}},
		{name: "save", flags: cfgMultiArg, kind: saveKind{}},
		{name: "client-output-buffer-limit", flags: cfgMultiArg, kind: obufKind{}},
		{name: "oom-score-adj-values", flags: cfgMultiArg, kind: oomValuesKind{}, apply: applyOOMScoreAdj},
		{name: "notify-keyspace-events", kind: notifyKind{}, apply: applyNotify},
		{name: "bind", flags: cfgMultiArg, kind: bindKind{}, apply: applyBind},
		{name: "replicaof", alias: "slaveof", flags: cfgImmutable | cfgMultiArg, kind: replicaofKind{}},
		{name: "latency-tracking-info-percentiles", flags: cfgMultiArg, kind: percentilesKind{}},
	}
}

// ---- validators (Redis's is_valid functions) ----

func validActiveDefrag(v bool) error {
	if v {
		return configErr("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution")
	}
	return nil
}

// validClusterEnabled refuses cluster mode at start-up: a node is always
// standalone (the proxy provides the cluster view).
func validClusterEnabled(v bool) error {
	if v {
		return configErr("cluster mode is not supported by this server")
	}
	return nil
}

func isBaseName(s string) bool { return !strings.ContainsRune(s, '/') }

func validDBFilename(s string) error {
	if !isBaseName(s) {
		return configErr("dbfilename can't be a path, just a filename")
	}
	return nil
}

func validAOFFilename(s string) error {
	if s == "" {
		return configErr("appendfilename can't be empty")
	}
	if !isBaseName(s) {
		return configErr("appendfilename can't be a path, just a filename")
	}
	return nil
}

func validAOFDirname(s string) error {
	if s == "" {
		return configErr("appenddirname can't be empty")
	}
	if !isBaseName(s) {
		return configErr("appenddirname can't be a path, just a dirname")
	}
	return nil
}

func validShutdownFlags(v int) error {
	if v&shutdownNoSave != 0 && v&shutdownSave != 0 {
		return configErr("shutdown options SAVE and NOSAVE can't be used simultaneously")
	}
	return nil
}

func validAnnouncedHostname(s string) error {
	if len(s) >= 256 {
		return configErr("Hostnames must be less than 256 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return configErr("Hostnames may only contain alphanumeric characters, hyphens or dots")
		}
	}
	return nil
}

// validProcTitleTemplate is validateProcTitleTemplate: the template must
// expand (known variables, "{{" quotes a brace) to something non-blank
// with an empty title.
func validProcTitleTemplate(s string) error {
	bad := configErr("template format is invalid or contains unknown variables")
	vars := map[string]string{
		"title": "", "listen-addr": "*:0", "server-mode": "", "config-file": "-",
		"port": "0", "tls-port": "0", "unixsocket": "",
	}
	var out strings.Builder
	for p := s; p != ""; {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			out.WriteString(p)
			break
		}
		out.WriteString(p[:i])
		p = p[i+1:]
		if p == "" {
			return bad
		}
		if p[0] == '{' {
			out.WriteByte('{')
			p = p[1:]
			continue
		}
		end := strings.IndexByte(p, '}')
		if end < 0 {
			return bad
		}
		v, ok := vars[p[:end]]
		if !ok {
			return bad
		}
		out.WriteString(v)
		p = p[end+1:]
	}
	if strings.Trim(out.String(), " ") == "" {
		return bad
	}
	return nil
}

// ---- special parameters ----

// dirKind is the working directory for persistence files. Unlike Redis the
// node does not chdir (several shards share one process): Dir holds an
// absolute path that persistence joins file names to.
type dirKind struct{}

func (dirKind) init(c *Config) { c.Dir = "." }

func (dirKind) set(c *Config, args []string, ld *configLoader) (bool, error) {
	if len(args) != 1 {
		return false, configErr("wrong number of arguments")
	}
	d := args[0]
	if !filepath.IsAbs(d) {
		d = filepath.Join(absDir(c.Dir), d)
	}
	d = filepath.Clean(d)
	fi, err := os.Stat(d)
	if err != nil && errors.Is(err, fs.ErrNotExist) && ld != nil && ld.createDir {
		// A directory named at start-up is created rather than refused, so
		// that `node --dir /tmp/x` works on a fresh machine.
		err = os.MkdirAll(d, 0o755)
		if err == nil {
			fi, err = os.Stat(d)
		}
	}
	if err != nil {
		return false, configErr(strerror(err))
	}
	if !fi.IsDir() {
		return false, configErr(strerror(syscall.ENOTDIR))
	}
	c.Dir = d
	return true, nil
}

func (dirKind) get(c *Config) string { return absDir(c.Dir) }

func (dirKind) rewrite(c *Config, name string, rw *rewriteState) {
	rw.rewriteLine(name, name+" "+reprString(absDir(c.Dir)), true)
}

func absDir(d string) string {
	if a, err := filepath.Abs(d); err == nil {
		return a
	}
	return d
}

// strerror renders an OS error as C's strerror does ("No such file or
// directory"), which is what Redis puts in its messages.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno
	} else {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
	}
	msg := err.Error()
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		msg = string(msg[0]-'a'+'A') + msg[1:]
	}
	return msg
}

// saveKind is "save <seconds> <changes> ...". In a config file the first
// save line replaces the defaults and later ones add to it; CONFIG SET
// replaces the list. A single empty argument clears it.
type saveKind struct{}

var defaultSave = []SaveParam{{3600, 1}, {300, 100}, {60, 10000}}

func (saveKind) init(c *Config) { c.Save = slices.Clone(defaultSave) }

func (saveKind) set(c *Config, args []string, ld *configLoader) (bool, error) {
	if len(args) == 1 && args[0] == "" {
		c.Save = nil
		args = nil
	}
	if len(args)%2 != 0 {
		return false, configErr("Invalid save parameters")
	}
	for j, a := range args {
		v, ok := cStrtoll(a)
		if !ok || (j%2 == 0 && v < 1) || (j%2 == 1 && v < 0) {
			return false, configErr("Invalid save parameters")
		}
	}
	if ld == nil {
		c.Save = nil
	} else if !ld.saveLoaded {
		ld.saveLoaded = true
		c.Save = nil
	}
	for j := 0; j < len(args); j += 2 {
		secs, _ := cStrtoll(args[j])
		changes, _ := cStrtoll(args[j+1])
		c.Save = append(c.Save, SaveParam{Seconds: secs, Changes: int64(int32(changes))})
	}
	return true, nil
}

func (saveKind) get(c *Config) string {
	parts := make([]string, 0, 2*len(c.Save))
	for _, sp := range c.Save {
		parts = append(parts, strconv.FormatInt(sp.Seconds, 10), strconv.FormatInt(sp.Changes, 10))
	}
	return strings.Join(parts, " ")
}

func (saveKind) rewrite(c *Config, name string, rw *rewriteState) {
	if len(c.Save) == 0 {
		rw.rewriteLine(name, `save ""`, true)
	}
	for _, sp := range c.Save {
		rw.rewriteLine(name, fmt.Sprintf("save %d %d", sp.Seconds, sp.Changes), true)
	}
	rw.markProcessed(name)
}

// cStrtoll is strtoll(s, &end, 10) with *end == '\0' required: leading
// white space and a sign are allowed, "" is 0, overflow saturates.
func cStrtoll(s string) (int64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if t == "" {
		return 0, s == ""
	}
	neg := false
	body := t
	if body[0] == '+' || body[0] == '-' {
		neg = body[0] == '-'
		body = body[1:]
	}
	if body == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v <= 1<<63 {
			v = v*10 + uint64(c-'0')
		}
	}
	switch {
	case neg && v >= 1<<63:
		return math.MinInt64, true
	case neg:
		return -int64(v), true
	case v > math.MaxInt64:
		return math.MaxInt64, true
	}
	return int64(v), true
}

// obufKind is client-output-buffer-limit <class> <hard> <soft> <seconds>.
type obufKind struct{}

var defaultObuf = [3]ObufLimit{
	{0, 0, 0},
	{256 << 20, 64 << 20, 60},
	{32 << 20, 8 << 20, 60},
}

var obufClassNames = [3]string{"normal", "slave", "pubsub"}

func (obufKind) init(c *Config) { c.ClientOutputBufferLimit = defaultObuf }

func (obufKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	if len(args)%4 != 0 {
		return false, configErr("Wrong number of arguments in buffer limit configuration.")
	}
	vals := c.ClientOutputBufferLimit
	for j := 0; j < len(args); j += 4 {
		class := -1
		switch strings.ToLower(args[j]) {
		case "normal":
			class = obufNormal
		case "slave", "replica":
			class = obufReplica
		case "pubsub":
			class = obufPubsub
		}
		if class < 0 {
			return false, configErr("Invalid client class specified in buffer limit configuration.")
		}
		hard, okh := memToUint(args[j+1])
		soft, oks := memToUint(args[j+2])
		secs, okt := cStrtoll(args[j+3])
		secs = int64(int32(secs))
		if !okh || !oks || !okt || secs < 0 {
			return false, configErr("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
		}
		vals[class] = ObufLimit{Hard: hard, Soft: soft, SoftSeconds: secs}
	}
	c.ClientOutputBufferLimit = vals
	return true, nil
}

func (obufKind) get(c *Config) string {
	parts := make([]string, 0, 3)
	for i, l := range c.ClientOutputBufferLimit {
		parts = append(parts, fmt.Sprintf("%s %d %d %d", obufClassNames[i], l.Hard, l.Soft, l.SoftSeconds))
	}
	return strings.Join(parts, " ")
}

func (obufKind) rewrite(c *Config, name string, rw *rewriteState) {
	for i, l := range c.ClientOutputBufferLimit {
		class := obufClassNames[i]
		if class == "slave" {
			class = "replica"
		}
		line := fmt.Sprintf("%s %s %s %s %d", name, class, formatMemory(int64(l.Hard)), formatMemory(int64(l.Soft)), l.SoftSeconds)
		rw.rewriteLine(name, line, l != defaultObuf[i])
	}
}

// oomValuesKind is oom-score-adj-values <primary> <replica> <bgchild>:
// stored only (the node does not adjust its OOM score).
type oomValuesKind struct{}

var defaultOOMValues = [3]int64{0, 200, 800}

func (oomValuesKind) load(c *Config) [3]int64 {
	v, ok := c.extra["oom-score-adj-values"].([3]int64)
	if !ok {
		return defaultOOMValues
	}
	return v
}

func (oomValuesKind) init(c *Config) { c.extra["oom-score-adj-values"] = defaultOOMValues }

func (k oomValuesKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	if len(args) != 3 {
		return false, configErr("wrong number of arguments")
	}
	var vals [3]int64
	for i, a := range args {
		v, ok := cStrtoll(a)
		if !ok || v < -2000 || v > 2000 {
			return false, configErr("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
		}
		vals[i] = v
	}
	if k.load(c) == vals {
		return false, nil
	}
	c.extra["oom-score-adj-values"] = vals
	return true, nil
}

func (k oomValuesKind) get(c *Config) string {
	v := k.load(c)
	return fmt.Sprintf("%d %d %d", v[0], v[1], v[2])
}

func (k oomValuesKind) rewrite(c *Config, name string, rw *rewriteState) {
	v := k.load(c)
	rw.rewriteLine(name, fmt.Sprintf("%s %d %d %d", name, v[0], v[1], v[2]), v != defaultOOMValues)
}

// notifyKind is notify-keyspace-events: the classes are kept in their
// canonical spelling, and applyNotify turns them into s.notifyFlags.
type notifyKind struct{}

func (notifyKind) init(c *Config) { c.NotifyKeyspaceEvents, c.notifyFlags = "", 0 }

func (notifyKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	if len(args) != 1 {
		return false, configErr("wrong number of arguments")
	}
	f, ok := parseNotifyFlags(args[0])
	if !ok {
		return false, configErr("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
	}
	c.NotifyKeyspaceEvents, c.notifyFlags = notifyFlagsString(f), f
	return true, nil
}

func (notifyKind) get(c *Config) string { return c.NotifyKeyspaceEvents }

func (notifyKind) rewrite(c *Config, name string, rw *rewriteState) {
	rw.rewriteLine(name, name+" "+reprString(c.NotifyKeyspaceEvents), c.notifyFlags != 0)
}

// notifyAll is the 'A' alias: every class but key-miss and new-key.
const notifyAll = notifyGeneric | notifyString | notifyList | notifySet | notifyHash |
	notifyZSet | notifyExpired | notifyEvicted | notifyStream | notifyModule

var notifyClassChars = []struct {
	c    byte
	flag int
}{
	{'g', notifyGeneric}, {'$', notifyString}, {'l', notifyList}, {'s', notifySet},
	{'h', notifyHash}, {'z', notifyZSet}, {'x', notifyExpired}, {'e', notifyEvicted},
	{'t', notifyStream}, {'d', notifyModule}, {'n', notifyNew},
}

// parseNotifyFlags is keyspaceEventsStringToFlags.
func parseNotifyFlags(s string) (int, bool) {
	f := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case 'A':
			f |= notifyAll
		case 'K':
			f |= notifyKeyspace
		case 'E':
			f |= notifyKeyevent
		case 'm':
			f |= notifyKeyMiss
		default:
			found := false
			for _, cc := range notifyClassChars {
				if cc.c == ch {
					f |= cc.flag
					found = true
					break
				}
			}
			if !found {
				return 0, false
			}
		}
	}
	return f, true
}

// notifyFlagsString is keyspaceEventsFlagsToString.
func notifyFlagsString(f int) string {
	var b strings.Builder
	if f&notifyAll == notifyAll {
		// As Redis, 'A' hides 'n' in the rendering (not in the flags).
		b.WriteByte('A')
	} else {
		for _, cc := range notifyClassChars {
			if f&cc.flag != 0 {
				b.WriteByte(cc.c)
			}
		}
	}
	if f&notifyKeyspace != 0 {
		b.WriteByte('K')
	}
	if f&notifyKeyevent != 0 {
		b.WriteByte('E')
	}
	if f&notifyKeyMiss != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

// bindKind is "bind addr ..." (at most 16; "" binds nothing).
type bindKind struct{}

var defaultBind = []string{"*", "-::*"}

func (bindKind) init(c *Config) { c.Bind = slices.Clone(defaultBind) }

func (bindKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	if len(args) > 16 {
		return false, configErr("Too many bind addresses specified.")
	}
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	c.Bind = slices.Clone(args)
	return true, nil
}

func (bindKind) get(c *Config) string { return strings.Join(c.Bind, " ") }

func (bindKind) rewrite(c *Config, name string, rw *rewriteState) {
	if slices.Equal(c.Bind, defaultBind) {
		rw.markProcessed(name)
		return
	}
	addrs := `""`
	if len(c.Bind) > 0 {
		addrs = strings.Join(c.Bind, " ")
	}
	rw.rewriteLine(name, name+" "+addrs, true)
}

// replicaofKind is "replicaof <host> <port>" or "replicaof no one".
type replicaofKind struct{}

func (replicaofKind) init(c *Config) { c.ReplicaOf = ReplicaOf{} }

func (replicaofKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	if len(args) != 2 {
		return false, configErr("wrong number of arguments")
	}
	// As Redis, the old primary is forgotten before the new one is checked.
	c.ReplicaOf = ReplicaOf{}
	if strings.EqualFold(args[0], "no") && strings.EqualFold(args[1], "one") {
		return true, nil
	}
	port, ok := cStrtoll(args[1])
	if !ok || port < 0 || port > 65535 {
		return false, configErr("Invalid master port")
	}
	c.ReplicaOf = ReplicaOf{Host: args[0], Port: int(port)}
	return true, nil
}

func (replicaofKind) get(c *Config) string {
	if c.ReplicaOf.Host == "" {
		return ""
	}
	return fmt.Sprintf("%s %d", c.ReplicaOf.Host, c.ReplicaOf.Port)
}

func (replicaofKind) rewrite(c *Config, name string, rw *rewriteState) {
	if c.ReplicaOf.Host == "" {
		rw.markProcessed(name)
		return
	}
	rw.rewriteLine(name, fmt.Sprintf("%s %s %d", name, c.ReplicaOf.Host, c.ReplicaOf.Port), true)
}

// percentilesKind is latency-tracking-info-percentiles.
type percentilesKind struct{}

func (percentilesKind) init(c *Config) { c.LatencyTrackingInfoPercentiles = []float64{50, 99, 99.9} }

func (percentilesKind) set(c *Config, args []string, _ *configLoader) (bool, error) {
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	vals := make([]float64, 0, len(args))
	for _, a := range args {
		v, ok := parseStrictFloat(a)
		if !ok {
			c.LatencyTrackingInfoPercentiles = nil
			return false, configErr("Invalid latency-tracking-info-percentiles parameters")
		}
		if v > 100 || v < 0 {
			c.LatencyTrackingInfoPercentiles = nil
			return false, configErr("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
		}
		vals = append(vals, v)
	}
	c.LatencyTrackingInfoPercentiles = vals
	return true, nil
}

func (percentilesKind) get(c *Config) string {
	parts := make([]string, len(c.LatencyTrackingInfoPercentiles))
	for i, v := range c.LatencyTrackingInfoPercentiles {
		parts[i] = trimFloat(v)
	}
	return strings.Join(parts, " ")
}

func (k percentilesKind) rewrite(c *Config, name string, rw *rewriteState) {
	v := k.get(c)
	if v == "" {
		v = `""`
	}
	rw.rewriteLine(name, name+" "+v, true)
}

// trimFloat formats as "%f" and drops trailing zeros (trimDoubleString).
func trimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 6, 64)
	if strings.ContainsRune(s, '.') {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s
}

// parseStrictFloat is Redis's string2d: the whole string, no leading
// space, no NaN.
func parseStrictFloat(s string) (float64, bool) {
	if s == "" || strings.ContainsRune(" \t\n\v\f\r", rune(s[0])) || strings.ContainsRune(s, '_') {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	if math.IsNaN(v) || (err != nil && (math.IsInf(v, 0) || v == 0)) {
		return 0, false
	}
	return v, true
}
