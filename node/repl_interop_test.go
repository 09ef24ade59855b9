package node

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A real redis-server 7.0.15 replicates from a node: full sync of every
// data type and a function library (disk payload and diskless), the
// stream that follows, a partial resync after the node drops the link
// (CLIENT KILL TYPE replica), and WAIT counting the real replica's ACKs.
// redis-server is required under CI (startRedisServer fails there when it
// is missing) and skipped with a message elsewhere.
func TestRealRedisReplicatesFromNode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		diskless bool
	}{
		{"disk payload", false},
		{"diskless payload", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, nc := testServer(t, func(c *Config) {
				c.EnableDebugCommand = "yes"
				c.ReplDisklessSync = tc.diskless
				c.ReplDisklessSyncDelay = 0
			})
			populateAllTypes(t, nc, "")
			addr := startRedisServer(t, "--enable-debug-command", "yes")
			rr := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
			defer rr.Close()
			// Data of its own, which the full sync must replace.
			rr.Set(ctx, "stale-replica-key", "x", 0)
			host, port, _ := net.SplitHostPort(s.Addr().String())
			if err := rr.Do(ctx, "replicaof", host, port).Err(); err != nil {
				t.Fatalf("REPLICAOF: %v", err)
			}
			waitInSync(t, nc, rr)
			compareDatasets(t, nc, rr)
			if n, _ := rr.Exists(ctx, "stale-replica-key").Result(); n != 0 {
				t.Error("the replica kept a key of its own after a full sync")
			}

			// The stream: writes of every kind, in several databases.
			populateAllTypes(t, nc, "more:")
			streamWrites(t, nc)
			waitInSync(t, nc, rr)
			compareDatasets(t, nc, rr)
			info := nc.Info(ctx, "replication").Val()
			if !strings.Contains(info, "connected_slaves:1") || !strings.Contains(info, ",state=online,") {
				t.Errorf("INFO replication on the node:\n%s", info)
			}

			// WAIT counts the real replica's acknowledgements.
			nc.Set(ctx, "waited", "1", 0)
			if got, err := nc.Do(ctx, "wait", "1", "5000").Int(); err != nil || got != 1 {
				t.Fatalf("WAIT 1 5000 = %d, %v", got, err)
			}
			if v, _ := rr.Get(ctx, "waited").Result(); v != "1" {
				t.Errorf("after WAIT the replica has waited=%q", v)
			}

			// The node drops the link; the replica comes back and
			// continues from the backlog.
			if err := nc.Do(ctx, "client", "kill", "type", "replica").Err(); err != nil {
				t.Fatal(err)
			}
			streamWrites(t, nc)
			waitInSync(t, nc, rr)
			compareDatasets(t, nc, rr)
			// sync_partial_err is 1: REPLICAOF made the former primary
			// offer its own history first (Redis's
			// replicationCacheMasterUsingMyself), which the node refused.
			stats := nc.Info(ctx, "stats").Val()
			if replInfoInt(stats, "sync_partial_ok") != 1 || replInfoInt(stats, "sync_full") != 1 ||
				replInfoInt(stats, "sync_partial_err") != 1 {
				t.Errorf("node stats after the link drop: sync_full=%d sync_partial_ok=%d sync_partial_err=%d, want 1, 1, 1",
					replInfoInt(stats, "sync_full"), replInfoInt(stats, "sync_partial_ok"), replInfoInt(stats, "sync_partial_err"))
			}
			// The replica ACKs every second: its offset in INFO catches up
			// with the node's.
			eventually(t, "the replica's ACK offset", 5*time.Second, func() bool {
				in := nc.Info(ctx, "replication").Val()
				return strings.Contains(in, "offset="+strings.TrimSpace(fieldOf(in, "master_repl_offset"))+",")
			})
		})
	}
}

// fieldOf returns the value of an INFO field.
func fieldOf(info, field string) string {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// TestChainedReplication: node A ← node B ← redis-server C. B forwards
// A's stream verbatim, so C ends with A's data, and A, B and C agree on
// the replication ID and offset; C continues partially when B drops it.
func TestChainedReplication(t *testing.T) {
	ctx := context.Background()
	_, a := testServer(t, func(c *Config) {
		c.EnableDebugCommand = "yes"
		c.ReplDisklessSyncDelay = 0
	})
	sb, b := testServer(t, func(c *Config) {
		c.EnableDebugCommand = "yes"
		c.ReplDisklessSyncDelay = 0
	})
	populateAllTypes(t, a, "")
	aHost, aPort, _ := net.SplitHostPort(a.Options().Addr)
	if err := b.Do(ctx, "replicaof", aHost, aPort).Err(); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, a, b)
	addr := startRedisServer(t, "--enable-debug-command", "yes")
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	bHost, bPort, _ := net.SplitHostPort(sb.Addr().String())
	if err := c.Do(ctx, "replicaof", bHost, bPort).Err(); err != nil {
		t.Fatal(err)
	}
	streamWrites(t, a)
	eventually(t, "the chain in sync", 20*time.Second, func() bool {
		ai := a.Info(ctx, "replication").Val()
		ci := c.Info(ctx, "replication").Val()
		return strings.Contains(ci, "master_link_status:up") &&
			replInfoInt(ai, "master_repl_offset") == replInfoInt(ci, "slave_repl_offset")
	})
	compareDatasets(t, a, c)
	ai, bi, ci := a.Info(ctx, "replication").Val(), b.Info(ctx, "replication").Val(), c.Info(ctx, "replication").Val()
	if id := fieldOf(ai, "master_replid"); fieldOf(bi, "master_replid") != id || fieldOf(ci, "master_replid") != id {
		t.Errorf("replication IDs differ along the chain:\nA %s\nB %s\nC %s", id, fieldOf(bi, "master_replid"), fieldOf(ci, "master_replid"))
	}
	if err := b.Do(ctx, "client", "kill", "type", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	streamWrites(t, a)
	eventually(t, "the chain in sync after the drop", 20*time.Second, func() bool {
		ci := c.Info(ctx, "replication").Val()
		return strings.Contains(ci, "master_link_status:up") &&
			replInfoInt(a.Info(ctx, "replication").Val(), "master_repl_offset") == replInfoInt(ci, "slave_repl_offset")
	})
	compareDatasets(t, a, c)
	if st := b.Info(ctx, "stats").Val(); replInfoInt(st, "sync_partial_ok") != 1 {
		t.Errorf("B's stats after dropping C: %s", st)
	}
}
