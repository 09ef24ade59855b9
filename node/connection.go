package node

func init() {
	register(map[string]handler{
		"ping": pingCommand,
		"echo": echoCommand,
	})
}

func pingCommand(s *Server, c *Client, args [][]byte) {
	if len(args) > 2 {
		c.Error("ERR wrong number of arguments for 'ping' command")
		return
	}
	if c.flags&flagPubSub != 0 && c.resp == 2 {
		c.ArrayLen(2)
		c.BulkString("pong")
		if len(args) == 2 {
			c.Bulk(args[1])
		} else {
			c.BulkString("")
		}
		return
	}
	if len(args) == 2 {
		c.Bulk(args[1])
		return
	}
	c.Status("PONG")
}

func echoCommand(s *Server, c *Client, args [][]byte) { c.Bulk(args[1]) }
