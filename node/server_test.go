package node

import (
	"context"
	"strings"
	"testing"
)

func TestPingGetSet(t *testing.T) {
	_, rc := testServer(t, nil)
	ctx := context.Background()
	if v, err := rc.Ping(ctx).Result(); err != nil || v != "PONG" {
		t.Fatalf("PING = %q, %v", v, err)
	}
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rc.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v", v, err)
	}
	err := rc.Do(ctx, "nosuch", "a").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command 'nosuch'") {
		t.Fatalf("unknown command error = %v", err)
	}
	// The connection survives an error.
	if err := rc.Do(ctx, "get").Err(); err == nil || !strings.Contains(err.Error(), "wrong number of arguments for 'get'") {
		t.Fatalf("arity error = %v", err)
	}
}

// TestCommandTable: every handler has a row in the metadata table.
func TestCommandTable(t *testing.T) {
	commandTable()
	for name := range handlers {
		top, _, _ := strings.Cut(name, "|")
		if lookupCommand([]byte(top)) == nil {
			t.Errorf("handler %q has no row in internal/commands", name)
		}
	}
}
