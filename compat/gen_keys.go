package compat

// Generators for the generic keyspace and expiry families (db.c, expire.c).
func init() {
	registerFamily(family{name: "keys", cmds: []genCmd{
		{key: "del", weight: 4, gen: func(g *gen) []string { return append([]string{"DEL"}, g.keys(1, 3)...) }},
		{key: "unlink", weight: 2, gen: func(g *gen) []string { return append([]string{"UNLINK"}, g.keys(1, 3)...) }},
		{key: "exists", weight: 4, gen: func(g *gen) []string { return append([]string{"EXISTS"}, g.keys(1, 4)...) }},
		{key: "touch", weight: 1, gen: func(g *gen) []string { return append([]string{"TOUCH"}, g.keys(1, 3)...) }},
		{key: "type", weight: 3, gen: func(g *gen) []string { return []string{"TYPE", g.key()} }},
		{key: "rename", weight: 3, gen: func(g *gen) []string { return []string{"RENAME", g.key(), g.key()} }},
		{key: "renamenx", weight: 2, gen: func(g *gen) []string { return []string{"RENAMENX", g.key(), g.key()} }},
		{key: "copy", weight: 3, gen: genCopy},
		{key: "move", weight: 2, gen: func(g *gen) []string { return []string{"MOVE", g.key(), g.db()} }},
		{key: "select", weight: 2, gen: func(g *gen) []string { return []string{"SELECT", g.db()} }},
		{key: "swapdb", weight: 1, gen: func(g *gen) []string { return []string{"SWAPDB", g.db(), g.db()} }},
		{key: "dbsize", weight: 2, gen: func(g *gen) []string { return []string{"DBSIZE"} }},
		{key: "keys", weight: 2, gen: func(g *gen) []string { return []string{"KEYS", g.pattern()} }},
		{key: "scan", weight: 2, gen: genScan},
		{key: "randomkey", weight: 1, gen: func(g *gen) []string { return []string{"RANDOMKEY"} }},
		{key: "flushdb", weight: 1, gen: func(g *gen) []string {
			if g.chance(80) {
				return []string{"FLUSHDB", g.pick("ASYNC", "SYNC", "sync")}
			}
			return []string{"FLUSHDB", g.pick("", "FOO", "ASYNC SYNC")}
		}},
		{key: "expire", weight: 4, gen: func(g *gen) []string { return genExpire(g, "EXPIRE", g.ttlSeconds()) }},
		{key: "pexpire", weight: 3, gen: func(g *gen) []string { return genExpire(g, "PEXPIRE", g.ttlMillis()) }},
		{key: "expireat", weight: 2, gen: func(g *gen) []string { return genExpire(g, "EXPIREAT", g.unixSeconds()) }},
		{key: "pexpireat", weight: 2, gen: func(g *gen) []string { return genExpire(g, "PEXPIREAT", g.unixMillis()) }},
		{key: "ttl", weight: 4, gen: func(g *gen) []string { return []string{"TTL", g.key()} }},
		{key: "pttl", weight: 3, gen: func(g *gen) []string { return []string{"PTTL", g.key()} }},
		{key: "expiretime", weight: 2, gen: func(g *gen) []string { return []string{"EXPIRETIME", g.key()} }},
		{key: "pexpiretime", weight: 2, gen: func(g *gen) []string { return []string{"PEXPIRETIME", g.key()} }},
		{key: "persist", weight: 3, gen: func(g *gen) []string { return []string{"PERSIST", g.key()} }},
		{key: "object|refcount", weight: 1, gen: func(g *gen) []string { return []string{"OBJECT", "REFCOUNT", g.key()} }},
		{key: "object|freq", weight: 1, gen: func(g *gen) []string { return []string{"OBJECT", "FREQ", g.key()} }},
		// Redis's shared integers (0..9999) carry the LRU clock of the
		// server's start, so their idle time is the server's age, and the
		// reference server here is older than each fresh node: compare
		// the reply's type only.
		{key: "object|idletime", weight: 1, gen: func(g *gen) []string { return []string{"OBJECT", "IDLETIME", g.key()} }, opts: Options{Mode: "type"}},
	}})
}

// db returns a database index, valid (0..2, so data meets) or not.
func (g *gen) db() string {
	if g.chance(10) {
		return g.pick("16", "-1", "x", "", "9223372036854775808")
	}
	return g.pick("0", "1", "2")
}

// pattern returns a glob for KEYS and SCAN MATCH, with the corner cases of
// Redis's stringmatchlen: classes, ranges, negation, escapes, unclosed [.
func (g *gen) pattern() string {
	return g.pick("*", "k*", "k?", "k[0-3]", "k[^1]", "k[3-0]", "*[", "k[", `k\*`, `\k*`, "*0", "[a-z]*", "?", "??", "k[!1]", "", "k[1-]", "*k*", "{tag}*")
}

func genCopy(g *gen) []string {
	args := []string{"COPY", g.key(), g.key()}
	if g.chance(30) {
		args = append(args, "DB", g.db())
	}
	if g.chance(40) {
		args = append(args, "REPLACE")
	}
	if g.chance(3) {
		args = append(args, g.pick("FOO", "DB"))
	}
	return args
}

func genScan(g *gen) []string {
	args := []string{"SCAN", "0"}
	if g.chance(5) {
		args[1] = g.pick("x", "-1", "18446744073709551616")
	}
	if g.chance(50) {
		args = append(args, "MATCH", g.pattern())
	}
	if g.chance(40) {
		args = append(args, "COUNT", g.pick("1", "2", "10", "1000", "0", "-1", "x"))
	}
	if g.chance(30) {
		args = append(args, "TYPE", g.pick("string", "list", "hash", "STRING", "nosuchtype"))
	}
	return args
}

func genExpire(g *gen, name, when string) []string {
	args := []string{name, g.key(), when}
	if g.chance(40) {
		args = append(args, g.pick("NX", "XX", "GT", "LT", "nx", "FOO"))
		if g.chance(15) {
			args = append(args, g.pick("NX", "XX", "GT", "LT"))
		}
	}
	return args
}
