package proxy

import (
	"fmt"
	"strings"

	"github.com/keyfleet/keyfleet/internal/keyslot"
	"github.com/keyfleet/keyfleet/proxy/resp"
)

// Introspection and administration, scoped to the tenant: a database's
// shards hold only its data, so what a shard says about its keyspace,
// scripts, slow log or pub/sub is the tenant's own; what it says about
// the machine, the process, its peers or its secrets is removed, and what
// would change the shard's role or configuration is refused.

// denyCommand refuses a command that would break isolation.
func denyCommand(c *client, r *request) {
	if c.p.opts.Unrestricted && r.info != nil && !streamingCommand(r.info.name) {
		c.broadcast(r, mergeFirst)
		return
	}
	c.replyError(errNotAllowed(r.name()))
}

// streamingCommand: commands that turn a connection into a stream the
// proxy cannot multiplex; refused even when unrestricted.
func streamingCommand(name string) bool {
	switch name {
	case "monitor", "sync", "psync", "replconf":
		return true
	}
	return false
}

// debugAllowed lists the DEBUG subcommands a tenant may run: they look
// at its own data (OBJECT, DIGEST, ...) or tune its own shard's
// behaviour. The rest (RELOAD, SEGFAULT, JMAP, LOG, ...) touch the node
// process, its files or its other tenants.
func debugAllowed(args [][]byte) bool {
	if len(args) < 2 {
		return false
	}
	switch strings.ToLower(string(args[1])) {
	case "object", "digest", "digest-value", "protocol", "listpack", "quicklist",
		"stringmatch-len", "sleep", "set-active-expire", "quicklist-packed-threshold",
		"help", "replybuffer":
		return true
	}
	return false
}

// debugCommand runs the allowed DEBUG subcommands: those naming a key on
// the key's shard, the others on every shard.
func debugCommand(c *client, r *request) {
	if !debugAllowed(r.args) && !(c.p.opts.Unrestricted && len(r.args) > 1) {
		sub := ""
		if len(r.args) > 1 {
			sub = " " + strings.ToLower(string(r.args[1]))
		}
		c.replyError(errNotAllowed("debug" + sub))
		return
	}
	switch strings.ToLower(string(r.args[1])) {
	case "object", "digest-value":
		if len(r.args) > 2 {
			sh := c.route.shardOfKey(r.args[2])
			if sh < 0 {
				c.replyError(errClusterDown)
				return
			}
			c.sendTo(sh, r.raw)
			return
		}
	case "help", "protocol", "listpack", "quicklist", "stringmatch-len":
		c.sendTo(0, r.raw)
		return
	}
	c.broadcast(r, mergeFirst)
}

// shard0Command sends the request to the database's first shard: read-only
// introspection of one shard is as good as any (COMMAND, LASTSAVE, ...).
func shard0Command(c *client, r *request) {
	c.sendTo(0, r.raw)
}

// oneShardOnly allows a command only on a one-shard database (SWAPDB and
// friends make no sense across shards).
func oneShardOnly(c *client, r *request) {
	if len(c.route.shards) > 1 {
		c.replyError(fmt.Sprintf(errNeedsOneShard, strings.ToUpper(r.name())))
		return
	}
	c.forward(r)
}

// copyCommand: COPY to another logical db only on a one-shard database.
func copyCommand(c *client, r *request) {
	if len(c.route.shards) > 1 {
		for _, a := range r.args[3:] {
			if strings.EqualFold(string(a), "DB") {
				c.replyError("ERR Copying to another database is not allowed in cluster mode")
				return
			}
		}
	}
	c.forward(r)
}

// moveCommand: MOVE key db only on a one-shard database, as in Redis
// Cluster.
func moveCommand(c *client, r *request) {
	if len(c.route.shards) > 1 {
		c.replyError("ERR MOVE is not allowed in cluster mode")
		return
	}
	c.forward(r)
}

func roleCommand(c *client, r *request) {
	b := resp.AppendArrayLen(nil, 3)
	b = resp.AppendBulkString(b, "master")
	b = resp.AppendInt(b, 0)
	b = resp.AppendArrayLen(b, 0)
	c.replyRaw(b)
}

func aclCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "acl|whoami":
		c.replyRaw(resp.AppendBulkString(nil, c.db.id))
	case "acl|cat", "acl|help":
		c.sendTo(0, r.raw)
	default:
		denyCommand(c, r)
	}
}

func scriptCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "script|load", "script|flush":
		c.broadcast(r, mergeFirst)
	case "script|exists":
		c.broadcast(r, mergeAnd)
	case "script|kill":
		killScripts(c, r)
	case "script|help":
		c.sendTo(0, r.raw)
	default:
		denyCommand(c, r)
	}
}

func functionCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "function|load", "function|delete", "function|flush", "function|restore":
		c.broadcast(r, mergeFirst)
	case "function|kill":
		killScripts(c, r)
	default:
		c.sendTo(0, r.raw)
	}
}

// killScripts sends SCRIPT/FUNCTION KILL on the client's dedicated
// connections: a pooled connection may be queued behind the very script
// being killed.
func killScripts(c *client, r *request) {
	conns, errs, raws := c.dedicatedAll(r.raw)
	c.fanoutConns(conns, errs, raws, mergeAnyOK)
}

func slowlogCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "slowlog|get":
		c.broadcast(r, mergeConcat)
	case "slowlog|len":
		c.broadcast(r, mergeSum)
	case "slowlog|reset":
		c.broadcast(r, mergeFirst)
	default:
		c.sendTo(0, r.raw)
	}
}

func latencyCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "latency|latest":
		c.broadcast(r, mergeConcat)
	case "latency|reset":
		c.broadcast(r, mergeSum)
	default:
		c.sendTo(0, r.raw)
	}
}

func memoryCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "memory|purge":
		c.broadcast(r, mergeFirst)
	case "memory|malloc-stats":
		// The allocator is the node process's, shared with other tenants.
		if c.p.opts.Unrestricted {
			c.sendTo(0, r.raw)
			return
		}
		denyCommand(c, r)
	case "memory|usage":
		c.forward(r)
	default:
		c.sendTo(0, r.raw)
	}
}

// configSettable are the parameters a tenant may CONFIG SET: they tune
// its own shards' behaviour and nothing of the host, the replication or
// the plan (memory, eviction policy, persistence belong to the control
// plane).
var configSettable = map[string]bool{
	"notify-keyspace-events":            true,
	"slowlog-log-slower-than":           true,
	"slowlog-max-len":                   true,
	"latency-monitor-threshold":         true,
	"latency-tracking":                  true,
	"latency-tracking-info-percentiles": true,
	"hash-max-listpack-entries":         true,
	"hash-max-listpack-value":           true,
	"hash-max-ziplist-entries":          true,
	"hash-max-ziplist-value":            true,
	"list-max-listpack-size":            true,
	"list-max-ziplist-size":             true,
	"list-compress-depth":               true,
	"set-max-intset-entries":            true,
	"zset-max-listpack-entries":         true,
	"zset-max-listpack-value":           true,
	"zset-max-ziplist-entries":          true,
	"zset-max-ziplist-value":            true,
	"stream-node-max-bytes":             true,
	"stream-node-max-entries":           true,
	"hll-sparse-max-bytes":              true,
	"lua-time-limit":                    true,
	"busy-reply-threshold":              true,
	"lfu-log-factor":                    true,
	"lfu-decay-time":                    true,
	"lazyfree-lazy-user-del":            true,
	"lazyfree-lazy-user-flush":          true,
	"active-expire-effort":              true,
	"tracking-table-max-keys":           true,
	"maxmemory-samples":                 true,
	"activerehashing":                   true,
}

// configHidden are parameters CONFIG GET never shows: secrets, paths,
// addresses and the host's process settings.
func configHidden(name string) bool {
	switch name {
	case "requirepass", "masterauth", "masteruser", "dir", "dbfilename", "logfile",
		"pidfile", "bind", "bind-source-addr", "port", "tls-port", "unixsocket",
		"unixsocketperm", "aclfile", "replicaof", "slaveof", "appenddirname",
		"appendfilename", "cluster-config-file", "cluster-announce-ip",
		"cluster-announce-port", "cluster-announce-bus-port", "cluster-announce-tls-port",
		"cluster-announce-hostname", "replica-announce-ip", "replica-announce-port",
		"slave-announce-ip", "slave-announce-port", "syslog-ident", "syslog-facility",
		"syslog-enabled", "supervised", "daemonize", "server_cpulist", "bio_cpulist",
		"aof_rewrite_cpulist", "bgsave_cpulist", "oom-score-adj-values",
		"proc-title-template", "enable-debug-command", "enable-module-command",
		"enable-protected-configs", "io-threads", "io-threads-do-reads":
		return true
	}
	return strings.HasPrefix(name, "tls-")
}

func configCommand(c *client, r *request) {
	switch r.cmd.Name {
	case "config|get":
		if c.p.opts.Unrestricted {
			c.sendTo(0, r.raw)
			return
		}
		c.fanout([]int{0}, [][]byte{r.raw}, filterConfigGet)
	case "config|set":
		if len(r.args)%2 != 0 {
			c.replyError("ERR wrong number of arguments for 'config|set' command")
			return
		}
		for i := 2; i < len(r.args) && !c.p.opts.Unrestricted; i += 2 {
			name := strings.ToLower(string(r.args[i]))
			if !configSettable[name] {
				c.replyError(fmt.Sprintf("ERR CONFIG SET '%s' is not allowed through the Keyfleet proxy", name))
				return
			}
		}
		c.broadcast(r, mergeFirst)
	case "config|resetstat":
		c.broadcast(r, mergeFirst)
	case "config|help":
		c.sendTo(0, r.raw)
	default:
		denyCommand(c, r)
	}
}

// filterConfigGet drops hidden parameters from CONFIG GET's pairs.
func filterConfigGet(c *client, out []byte, parts [][]byte) []byte {
	v, _, err := resp.Parse(parts[0])
	if err != nil || !v.IsAggregate() {
		return append(out, parts[0]...)
	}
	var kept []resp.Value
	for i := 0; i+1 < len(v.Elems); i += 2 {
		if !configHidden(strings.ToLower(string(v.Elems[i].Str))) {
			kept = append(kept, v.Elems[i], v.Elems[i+1])
		}
	}
	if v.Type == '%' {
		out = resp.AppendMapLen(out, 3, len(kept)/2)
	} else {
		out = resp.AppendArrayLen(out, len(kept))
	}
	for _, e := range kept {
		out = append(out, e.Raw...)
	}
	return out
}

// clusterCommand answers as a Redis Cluster whose only node is the proxy,
// serving every slot: cluster-aware clients then send everything here.
func clusterCommand(c *client, r *request) {
	host, port := c.hostPort()
	id := c.p.nodeID
	switch r.cmd.Name {
	case "cluster|slots":
		b := resp.AppendArrayLen(nil, 1)
		b = resp.AppendArrayLen(b, 3)
		b = resp.AppendInt(b, 0)
		b = resp.AppendInt(b, keyslot.Slots-1)
		b = resp.AppendArrayLen(b, 3)
		b = resp.AppendBulkString(b, host)
		b = resp.AppendInt(b, int64(port))
		b = resp.AppendBulkString(b, id)
		c.replyRaw(b)
	case "cluster|shards":
		p := c.proto
		b := resp.AppendArrayLen(nil, 1)
		b = resp.AppendMapLen(b, p, 2)
		b = resp.AppendBulkString(b, "slots")
		b = resp.AppendArrayLen(b, 2)
		b = resp.AppendInt(b, 0)
		b = resp.AppendInt(b, keyslot.Slots-1)
		b = resp.AppendBulkString(b, "nodes")
		b = resp.AppendArrayLen(b, 1)
		b = resp.AppendMapLen(b, p, 7)
		b = resp.AppendBulkString(b, "id")
		b = resp.AppendBulkString(b, id)
		b = resp.AppendBulkString(b, "port")
		b = resp.AppendInt(b, int64(port))
		b = resp.AppendBulkString(b, "ip")
		b = resp.AppendBulkString(b, host)
		b = resp.AppendBulkString(b, "endpoint")
		b = resp.AppendBulkString(b, host)
		b = resp.AppendBulkString(b, "role")
		b = resp.AppendBulkString(b, "master")
		b = resp.AppendBulkString(b, "replication-offset")
		b = resp.AppendInt(b, 0)
		b = resp.AppendBulkString(b, "health")
		b = resp.AppendBulkString(b, "online")
		c.replyRaw(b)
	case "cluster|nodes":
		line := fmt.Sprintf("%s %s:%d@%d myself,master - 0 0 1 connected 0-%d\n", id, host, port, port+10000, keyslot.Slots-1)
		c.replyRaw(resp.AppendVerbatim(nil, c.proto, line))
	case "cluster|info":
		info := "cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n" +
			"cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\n" +
			"cluster_current_epoch:1\r\ncluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n" +
			"total_cluster_links_buffer_limit_exceeded:0\r\n"
		c.replyRaw(resp.AppendVerbatim(nil, c.proto, info))
	case "cluster|keyslot":
		c.replyRaw(resp.AppendInt(nil, int64(keyslot.Of(r.args[2]))))
	case "cluster|myid":
		c.replyRaw(resp.AppendBulkString(nil, id))
	default:
		denyCommand(c, r)
	}
}
