package node

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRoleChangeUnblocksAndCloses: REPLICAOF ends a blocked BLPOP with
// -UNBLOCKED and then closes its connection, as Redis 7.0.15's
// disconnectAllBlockedClients does (CLIENT_CLOSE_AFTER_REPLY). The call is
// an error reply (errorstat_UNBLOCKED) but, unlike CLIENT UNBLOCK ERROR,
// not a failed call: 7.0.15 skips updateStatsOnUnblock on this path
// (7.2's unblockClientOnError counts it); checked against redis-server
// 7.0.15.
func TestRoleChangeUnblocksAndCloses(t *testing.T) {
	s, rc := testServer(t, nil)
	primary, _ := testServer(t, nil)
	ctx := context.Background()
	b := dialNode(t, s)
	b.send(t, "BLPOP", "list1", "0")
	waitBlocked(t, s, 1)
	_, port, _ := strings.Cut(primary.Addr().String(), ":")
	if err := rc.Do(ctx, "REPLICAOF", "127.0.0.1", port).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Do(context.Background(), "REPLICAOF", "NO", "ONE") })
	if got := b.next(t); !strings.HasPrefix(got, `-"UNBLOCKED force unblock`) {
		t.Fatalf("BLPOP replied %s, want -UNBLOCKED", got)
	}
	if !b.closed(5 * time.Second) {
		t.Error("the unblocked client's connection stayed open")
	}
	info, _ := rc.Info(ctx, "commandstats", "errorstats").Result()
	if v := infoField(t, info, "cmdstat_blpop"); !strings.HasPrefix(v, "calls=1,") || !strings.HasSuffix(v, ",failed_calls=0") {
		t.Errorf("cmdstat_blpop:%s", v)
	}
	if v := infoField(t, info, "errorstat_UNBLOCKED"); v != "count=1" {
		t.Errorf("errorstat_UNBLOCKED:%s", v)
	}
}
