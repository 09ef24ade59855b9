package node

import "strings"

// FUNCTION FLUSH until the scripting family (FUNCTION LOAD and friends)
// lands: with no way to load a library there is never one to flush, so
// replying OK after Redis's argument check is FUNCTION FLUSH's complete
// behaviour. Redis's test suite runs it before every test block. The
// scripting family replaces this file with its own FUNCTION.
func init() {
	register(map[string]handler{"function|flush": functionFlushCommand})
}

func functionFlushCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 3 {
		subcommandSyntaxError(c, args)
		return
	}
	if len(args) == 3 {
		switch strings.ToLower(string(args[2])) {
		case "sync", "async":
		default:
			c.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
			return
		}
	}
	s.dirty++
	argv := make([][]byte, len(args))
	for i, a := range args {
		argv[i] = append([]byte(nil), a...)
	}
	s.propagate(c.db.id, argv)
	c.OK()
}
