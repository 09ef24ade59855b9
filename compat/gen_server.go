package compat

import "strings"

// Generators for connection and server introspection: the command table
// (COMMAND INFO/DOCS/GETKEYS over every command the node serves), CONFIG
// GET and INFO field sets. COMMAND COUNT waits until the node serves all
// of Redis's commands.
func init() {
	registerFamily(family{name: "server", cmds: []genCmd{
		{key: "ping", weight: 1, gen: func(g *gen) []string {
			if g.chance(50) {
				return []string{"PING"}
			}
			return []string{"PING", g.value()}
		}},
		{key: "echo", weight: 1, gen: func(g *gen) []string { return []string{"ECHO", g.value()} }},
		{key: "client|setname", weight: 1, gen: func(g *gen) []string {
			return []string{"CLIENT", "SETNAME", g.pick(g.word(), "", "a b", "x\ny", "ok-name")}
		}},
		{key: "client|getname", weight: 1, gen: func(g *gen) []string { return []string{"CLIENT", "GETNAME"} }},
		{key: "config|get", weight: 3, gen: genConfigGet},
		{key: "info", weight: 2, gen: genInfo},
		{key: "command|info", weight: 3, gen: func(g *gen) []string { return append([]string{"COMMAND", "INFO"}, g.commandNames()...) }},
		{key: "command|docs", weight: 2, gen: func(g *gen) []string { return append([]string{"COMMAND", "DOCS"}, g.commandNames()...) }},
		{key: "command|getkeys", weight: 5, gen: func(g *gen) []string { return append([]string{"COMMAND", "GETKEYS"}, g.otherCommand()...) }},
		{key: "command|getkeysandflags", weight: 3, gen: func(g *gen) []string {
			return append([]string{"COMMAND", "GETKEYSANDFLAGS"}, g.otherCommand()...)
		}},
	}})
}

// commandNames returns one to three command names as a client would send
// them to COMMAND INFO/DOCS: "get", "config|get", "CONFIG", or no such.
func (g *gen) commandNames() []string {
	n := 1 + g.intn(3)
	out := make([]string, n)
	for i := range out {
		switch {
		case len(g.commands) == 0 || g.chance(5):
			out[i] = g.pick("nosuch", "", "config|nosuch", "get|x")
		case g.chance(20):
			out[i] = strings.ToUpper(g.commands[g.intn(len(g.commands))])
		default:
			out[i] = g.commands[g.intn(len(g.commands))]
		}
	}
	return out
}

// otherCommand draws a command line from the other families' served
// generators, for COMMAND GETKEYS to extract the keys of.
func (g *gen) otherCommand() []string {
	var pool []genCmd
	for _, c := range g.others {
		if !strings.HasPrefix(c.key, "command|") {
			pool = append(pool, c)
		}
	}
	if len(pool) == 0 || g.chance(5) {
		return []string{g.pick("NOSUCH", "GET", "PING", "SET", "MSET")}
	}
	return pool[g.intn(len(pool))].gen(g)
}

func genConfigGet(g *gen) []string {
	args := []string{"CONFIG", "GET"}
	for i, n := 0, 1+g.intn(3); i < n; i++ {
		args = append(args, g.pick("*", "max*", "*memory*", "hz", "port", "save", "appendonly", "appendfsync",
			"notify-keyspace-events", "list-*", "nosuch", "*-max-*-entries", "[a-c]*", "?z", "dir", "MAXMEMORY",
			"*lazyfree*", "client-output-buffer-limit", "bind", "databases", "slowlog-*", "lua-time-limit", "busy-reply-threshold"))
	}
	return args
}

func genInfo(g *gen) []string {
	args := []string{"INFO"}
	for i, n := 0, g.intn(3); i < n; i++ {
		args = append(args, g.pick("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
			"modules", "keyspace", "errorstats", "commandstats", "latencystats", "all", "default", "everything", "nosuch", "SERVER"))
	}
	return args
}
