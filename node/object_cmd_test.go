package node

import (
	"context"
	"testing"
)

func TestObjectCommand(t *testing.T) {
	s, rc := testServer(t, nil)
	ctx := context.Background()
	runSteps(t, rc, []step{
		{cmd("object", "encoding", "nokey"), nil},
		{cmd("object", "refcount", "nokey"), nil},
		{cmd("object", "idletime", "nokey"), nil},
		{cmd("object", "freq", "nokey"), nil},
		{cmd("object", "foo"), errReply("ERR unknown subcommand 'foo'. Try OBJECT HELP.")},
		{cmd("object", "encoding"), errReply("ERR wrong number of arguments for 'object|encoding' command")},
		{cmd("set", "sh", "100"), "OK"},
		{cmd("object", "refcount", "sh"), 2147483647},
		{cmd("set", "sh", "9999"), "OK"},
		{cmd("object", "refcount", "sh"), 2147483647},
		{cmd("incr", "sh"), 10000},
		{cmd("object", "refcount", "sh"), 1},
		{cmd("set", "sh", "-1"), "OK"},
		{cmd("object", "refcount", "sh"), 1},
		{cmd("incr", "sh"), 0},
		{cmd("object", "refcount", "sh"), 2147483647},
		{cmd("copy", "sh", "copied"), 1},
		{cmd("object", "refcount", "copied"), 1},
		{cmd("rename", "sh", "renamed"), "OK"},
		{cmd("object", "refcount", "renamed"), 2147483647},
		{cmd("set", "sh", "abc"), "OK"},
		{cmd("object", "refcount", "sh"), 1},
		{cmd("object", "encoding", "sh"), "embstr"},
		{cmd("object", "idletime", "sh"), 0},
		{cmd("object", "freq", "sh"), errReply("ERR An LFU maxmemory policy is not selected, access frequency not tracked.")},
	})
	help, err := rc.Do(ctx, "object", "help").StringSlice()
	if err != nil || len(help) != 15 || help[0] != "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" || help[14] != "    Prints this help." {
		t.Errorf("OBJECT HELP = %q, %v", help, err)
	}

	// IDLETIME counts from the last access; OBJECT itself does not touch.
	s.mu.Lock()
	o, _ := s.dbs[0].ks.Lookup([]byte("sh"))
	o.LRU -= 100
	s.mu.Unlock()
	for i := 0; i < 2; i++ {
		if idle := rc.ObjectIdleTime(ctx, "sh").Val().Seconds(); idle < 100 || idle > 102 {
			t.Fatalf("IDLETIME = %v, want about 100", idle)
		}
	}
	rc.Touch(ctx, "sh")
	if idle := rc.ObjectIdleTime(ctx, "sh").Val().Seconds(); idle > 1 {
		t.Errorf("IDLETIME after TOUCH = %v", idle)
	}
	// TYPE, EXISTS and TTL do not count as accesses.
	s.mu.Lock()
	o.LRU -= 100
	s.mu.Unlock()
	rc.Type(ctx, "sh")
	rc.Exists(ctx, "sh")
	rc.TTL(ctx, "sh")
	if idle := rc.ObjectIdleTime(ctx, "sh").Val().Seconds(); idle < 100 {
		t.Errorf("IDLETIME after TYPE/EXISTS/TTL = %v, want about 100", idle)
	}

	// Under an LFU policy FREQ works and IDLETIME is refused; a new key
	// starts at counter 5 and accesses raise it.
	s.mu.Lock()
	s.cfg.MaxMemoryPolicy = "allkeys-lfu"
	s.mu.Unlock()
	runSteps(t, rc, []step{
		{cmd("set", "f", "v"), "OK"},
		{cmd("object", "freq", "f"), 5},
		{cmd("object", "idletime", "f"), errReply("ERR An LFU maxmemory policy is selected, idle time not tracked.")},
	})
	for i := 0; i < 200; i++ {
		rc.Get(ctx, "f")
	}
	if freq, _ := rc.Do(ctx, "object", "freq", "f").Int(); freq <= 5 {
		t.Errorf("FREQ after 200 reads = %d, want above 5", freq)
	}
	// Shared integers are off with maxmemory and an LFU/LRU policy.
	s.mu.Lock()
	s.cfg.MaxMemory = 1 << 30
	s.mu.Unlock()
	runSteps(t, rc, []step{
		{cmd("set", "n", "5"), "OK"},
		{cmd("object", "refcount", "n"), 1},
	})
}

func TestObjectRESP3(t *testing.T) {
	s, _ := testServer(t, nil)
	rc3 := resp3Client(t, s)
	ctx := context.Background()
	rc3.Set(ctx, "k", "12", 0)
	if enc := rc3.ObjectEncoding(ctx, "k").Val(); enc != "int" {
		t.Errorf("RESP3 OBJECT ENCODING = %q", enc)
	}
}
