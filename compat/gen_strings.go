package compat

// Generators for the string family (t_string.c).
func init() {
	registerFamily(family{name: "strings", cmds: []genCmd{
		{key: "get", weight: 10, gen: func(g *gen) []string { return []string{"GET", g.key()} }},
		{key: "set", weight: 12, gen: genSet},
		{key: "setnx", weight: 2, gen: func(g *gen) []string { return []string{"SETNX", g.key(), g.value()} }},
		{key: "setex", weight: 2, gen: func(g *gen) []string { return []string{"SETEX", g.key(), g.ttlSeconds(), g.value()} }},
		{key: "psetex", weight: 2, gen: func(g *gen) []string { return []string{"PSETEX", g.key(), g.ttlMillis(), g.value()} }},
		{key: "getset", weight: 2, gen: func(g *gen) []string { return []string{"GETSET", g.key(), g.value()} }},
		{key: "getdel", weight: 2, gen: func(g *gen) []string { return []string{"GETDEL", g.key()} }},
		{key: "getex", weight: 3, gen: genGetex},
		{key: "mget", weight: 4, gen: func(g *gen) []string { return append([]string{"MGET"}, g.keys(1, 5)...) }},
		{key: "mset", weight: 3, gen: func(g *gen) []string { return genMset(g, "MSET") }},
		{key: "msetnx", weight: 2, gen: func(g *gen) []string { return genMset(g, "MSETNX") }},
		{key: "append", weight: 5, gen: func(g *gen) []string { return []string{"APPEND", g.key(), g.value()} }},
		{key: "strlen", weight: 3, gen: func(g *gen) []string { return []string{"STRLEN", g.key()} }},
		{key: "incr", weight: 5, gen: func(g *gen) []string { return []string{"INCR", g.key()} }},
		{key: "decr", weight: 3, gen: func(g *gen) []string { return []string{"DECR", g.key()} }},
		{key: "incrby", weight: 4, gen: func(g *gen) []string { return []string{"INCRBY", g.key(), g.integer()} }},
		{key: "decrby", weight: 3, gen: func(g *gen) []string { return []string{"DECRBY", g.key(), g.integer()} }},
		{key: "incrbyfloat", weight: 4, gen: func(g *gen) []string { return []string{"INCRBYFLOAT", g.key(), g.float()} }},
		{key: "getrange", weight: 3, gen: func(g *gen) []string { return []string{"GETRANGE", g.key(), g.index(), g.index()} }},
		{key: "substr", weight: 1, gen: func(g *gen) []string { return []string{"SUBSTR", g.key(), g.index(), g.index()} }},
		{key: "setrange", weight: 3, gen: genSetrange},
		{key: "lcs", weight: 2, gen: genLcs},
		{key: "object|encoding", weight: 4, gen: func(g *gen) []string { return []string{"OBJECT", "ENCODING", g.key()} }},
	}})
}

// genSet draws SET with a random subset of its options, in random order,
// including the conflicting and malformed combinations clients send.
func genSet(g *gen) []string {
	args := []string{"SET", g.key(), g.value()}
	n := g.intn(4)
	for i := 0; i < n; i++ {
		switch g.intn(11) {
		case 0:
			args = append(args, g.pick("EX", "ex"), g.ttlSeconds())
		case 1:
			args = append(args, "PX", g.ttlMillis())
		case 2:
			args = append(args, "EXAT", g.setUnixSeconds())
		case 3:
			args = append(args, "PXAT", g.setUnixMillis())
		case 4:
			args = append(args, "KEEPTTL")
		case 5, 6:
			args = append(args, g.pick("NX", "XX", "nx"))
		case 7, 8:
			args = append(args, "GET")
		case 9:
			args = append(args, g.pick("EX", "PX"))
		default:
			args = append(args, g.pick("FOO", "EXX", "GETX"))
		}
	}
	return args
}

func genGetex(g *gen) []string {
	args := []string{"GETEX", g.key()}
	switch g.intn(8) {
	case 0:
		args = append(args, "EX", g.ttlSeconds())
	case 1:
		args = append(args, "PX", g.ttlMillis())
	case 2:
		args = append(args, "EXAT", g.unixSeconds())
	case 3:
		args = append(args, "PXAT", g.unixMillis())
	case 4:
		args = append(args, "PERSIST")
	case 5:
		// Malformed pairs only: a real one-second or one-millisecond
		// expiry would race between the two servers.
		args = append(args, g.pick("PERSIST", "EX", "KEEPTTL", "PX"), g.pick("EX", "x", "PERSIST"))
	}
	return args
}

func genMset(g *gen, name string) []string {
	args := []string{name}
	n := 1 + g.intn(4)
	for i := 0; i < n; i++ {
		args = append(args, g.key(), g.value())
	}
	if g.chance(5) {
		args = args[:len(args)-1] // odd argument count
	}
	return args
}

// genSetrange keeps offsets small: an offset just below the 512 MB limit
// would make both servers allocate it.
func genSetrange(g *gen) []string {
	off := g.pick("0", "1", "3", "10", "50", "-1", "536870912", "x")
	if g.chance(60) {
		off = "0"
		if g.chance(70) {
			off = g.pick("2", "5", "20")
		}
	}
	return []string{"SETRANGE", g.key(), off, g.value()}
}

func genLcs(g *gen) []string {
	args := []string{"LCS", g.key(), g.key()}
	for i, n := 0, g.intn(4); i < n; i++ {
		switch g.intn(5) {
		case 0:
			args = append(args, "LEN")
		case 1:
			args = append(args, "IDX")
		case 2:
			args = append(args, "MINMATCHLEN", g.pick("0", "1", "2", "-1", "x"))
		case 3:
			args = append(args, "WITHMATCHLEN")
		default:
			args = append(args, g.pick("FOO", "MINMATCHLEN"))
		}
	}
	return args
}
