package node

import "github.com/keyfleet/keyfleet/internal/commands"

// A node is never a Redis Cluster member (the platform shards above it),
// but Redis 7.0 without cluster-enabled still has CLUSTER, its subcommands,
// ASKING, READONLY and READWRITE in its command table: COMMAND, COMMAND
// LIST and COMMAND INFO show them and every call answers that cluster
// support is disabled (even CLUSTER HELP and KEYSLOT, as in
// clusterCommand). Arity and unknown subcommands are checked by dispatch.
func init() {
	m := map[string]handler{
		"asking":    clusterDisabledCommand,
		"readonly":  clusterDisabledCommand,
		"readwrite": clusterDisabledCommand,
	}
	if row := commands.Default.LookupFull("cluster"); row != nil {
		for _, sr := range row.Subcommands {
			m[sr.Name] = clusterDisabledCommand
		}
	}
	register(m)
}

func clusterDisabledCommand(s *Server, c *Client, args [][]byte) {
	c.Error("ERR This instance has cluster support disabled")
}
