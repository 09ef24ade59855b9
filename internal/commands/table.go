package commands

// rows returns the command table. Arity, flags, ACL categories and key
// specs follow Redis 7.0.15's COMMAND INFO output; a differential test in
// node/ compares them with a real redis-server.
func rows() []*Command {
	return []*Command{
		row("ping", -1, "fast", "fast connection", "connection", "1.0.0", "Ping the server"),
		row("echo", 2, "fast", "fast connection", "connection", "1.0.0", "Echo the given string"),
		row("get", 2, "readonly fast", "read string fast", "string", "1.0.0", "Get the value of a key",
			rng("RO access", 1, 0, 1)),
		row("set", -3, "write denyoom", "write string slow", "string", "1.0.0", "Set the string value of a key",
			rng("RW access update variable_flags", 1, 0, 1)),
		row("del", -2, "write", "keyspace write slow", "generic", "1.0.0", "Delete a key",
			rng("RM delete", 1, -1, 1)),
		row("mget", -2, "readonly fast", "read string fast", "string", "1.0.0", "Get the values of all the given keys",
			rng("RO access", 1, -1, 1)),
		row("mset", -3, "write denyoom", "write string slow", "string", "1.0.1", "Set multiple keys to multiple values",
			rng("OW update", 1, -1, 2)),
		row("eval", -3, "noscript skip_monitor may_replicate no_mandatory_keys stale", "slow scripting", "scripting", "2.6.0", "Execute a Lua script server side",
			keynum("RW access update", 2, 0, 1, 1)),
		row("xread", -4, "readonly blocking", "read stream slow blocking", "stream", "5.0.0", "Return never seen elements in multiple streams",
			kw("RO access", "STREAMS", 1, -1, 1, 2)),
	}
}
