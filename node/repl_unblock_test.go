package node

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRoleChangeUnblocksAndCloses: REPLICAOF ends a blocked command (on
// keys, or WAIT) with -UNBLOCKED and then closes its connection, as Redis
// 7.0.15's disconnectAllBlockedClients does (CLIENT_CLOSE_AFTER_REPLY).
// The call is an error reply (errorstat_UNBLOCKED) but, unlike CLIENT
// UNBLOCK ERROR, not a failed call: 7.0.15 skips updateStatsOnUnblock on
// this path (7.2's unblockClientOnError counts it); checked against
// redis-server 7.0.15.
func TestRoleChangeUnblocksAndCloses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  []string
	}{
		{"blpop", []string{"BLPOP", "list1", "0"}},
		{"wait", []string{"WAIT", "1", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rc := testServer(t, nil)
			primary, _ := testServer(t, nil)
			ctx := context.Background()
			b := dialNode(t, s)
			b.send(t, tc.cmd...)
			waitFlagBlocked(t, s)
			_, port, _ := strings.Cut(primary.Addr().String(), ":")
			if err := rc.Do(ctx, "REPLICAOF", "127.0.0.1", port).Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rc.Do(context.Background(), "REPLICAOF", "NO", "ONE") })
			if got := b.next(t); !strings.HasPrefix(got, `-"UNBLOCKED force unblock`) {
				t.Fatalf("%s replied %s, want -UNBLOCKED", tc.name, got)
			}
			if !b.closed(5 * time.Second) {
				t.Error("the unblocked client's connection stayed open")
			}
			info, _ := rc.Info(ctx, "commandstats", "errorstats").Result()
			if v := infoField(t, info, "cmdstat_"+tc.name); !strings.HasPrefix(v, "calls=1,") || !strings.HasSuffix(v, ",failed_calls=0") {
				t.Errorf("cmdstat_%s:%s", tc.name, v)
			}
			if v := infoField(t, info, "errorstat_UNBLOCKED"); v != "count=1" {
				t.Errorf("errorstat_UNBLOCKED:%s", v)
			}
		})
	}
}

// waitFlagBlocked waits until some client of s is in a blocking command
// (on keys or in WAIT), failing after a deadline.
func waitFlagBlocked(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		blocked := false
		for _, c := range s.clients {
			blocked = blocked || c.flags&flagBlocked != 0
		}
		s.mu.Unlock()
		if blocked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no client blocked")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
