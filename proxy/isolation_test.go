package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// twoTenants serves "a" (three shards) and "b" (one shard) from one proxy.
func twoTenants(t *testing.T) (*testProxy, []*redisServer) {
	srvs := servers(t, 4)
	cp := newFakeCP(t)
	cp.setRoutes(
		routeFor("a", "pa", wire.Limits{}, srvs[0], srvs[1], srvs[2]),
		routeFor("b", "pb", wire.Limits{}, srvs[3]),
	)
	return startProxy(t, cp, nil), srvs
}

func TestIsolationKeyspace(t *testing.T) {
	tp, _ := twoTenants(t)
	a, b := tp.raw(t), tp.raw(t)
	a.expect("+OK\r\n", "AUTH", "a", "pa")
	b.expect("+OK\r\n", "AUTH", "b", "pb")
	b.expect("+OK\r\n", "SET", "secret", "b-data")
	a.expect("+OK\r\n", "SET", "mine", "a-data")

	a.expect("*1\r\n$4\r\nmine\r\n", "KEYS", "*")
	a.expect(":1\r\n", "DBSIZE")
	a.expect("$4\r\nmine\r\n", "RANDOMKEY")
	a.expect(":0\r\n", "EXISTS", "secret")
	a.expect("$-1\r\n", "GET", "secret")
	seen := scanAll(t, a)
	if len(seen) != 1 || !seen["mine"] {
		t.Errorf("SCAN in a saw %v", seen)
	}
	a.expect("+OK\r\n", "FLUSHALL")
	b.expect("$6\r\nb-data\r\n", "GET", "secret")
	b.expect(":1\r\n", "DBSIZE")
	info := a.do("INFO", "keyspace")
	if strings.Contains(info, "keys=") {
		t.Errorf("INFO keyspace of a after FLUSHALL shows keys: %q", info)
	}
	info = b.do("INFO", "keyspace")
	if !strings.Contains(info, "db0:keys=1,") {
		t.Errorf("INFO keyspace of b = %q", info)
	}
}

func scanAll(t *testing.T, r *raw) map[string]bool {
	seen := map[string]bool{}
	cursor := "0"
	for i := 0; i < 100; i++ {
		r.send("SCAN", cursor, "COUNT", "100")
		r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		v, err := r.rd.read()
		if err != nil || len(v.Elems) != 2 {
			t.Fatalf("SCAN: %v %v", v.String(), err)
		}
		for _, k := range v.Elems[1].Elems {
			seen[string(k.Str)] = true
		}
		cursor = string(v.Elems[0].Str)
		if cursor == "0" {
			return seen
		}
	}
	t.Fatal("SCAN did not finish")
	return nil
}

func TestIsolationClients(t *testing.T) {
	tp, _ := twoTenants(t)
	a, b := tp.raw(t), tp.raw(t)
	a.expect("+OK\r\n", "AUTH", "a", "pa")
	b.expect("+OK\r\n", "AUTH", "b", "pb")
	b.expect("+OK\r\n", "CLIENT", "SETNAME", "tenant-b")
	bid := strings.Trim(b.do("CLIENT", "ID"), ":\r\n")
	list := a.do("CLIENT", "LIST")
	if strings.Contains(list, "tenant-b") || strings.Count(list, "id=") != 1 || !strings.Contains(list, "user=a") {
		t.Errorf("CLIENT LIST of a = %q", list)
	}
	a.expect(":0\r\n", "CLIENT", "KILL", "ID", bid)
	baddr := b.conn.LocalAddr().String()
	a.expect("-ERR No such client\r\n", "CLIENT", "KILL", baddr)
	b.expect("+PONG\r\n", "PING")
	info := a.do("INFO", "clients")
	if !strings.Contains(info, "connected_clients:1\r\n") {
		t.Errorf("INFO clients of a = %q", info)
	}
	// b may kill its own other connection.
	b2 := tp.raw(t)
	b2.expect("+OK\r\n", "AUTH", "b", "pb")
	b.expect(":1\r\n", "CLIENT", "KILL", "USER", "b", "SKIPME", "yes")
	if !b2.closed(2 * time.Second) {
		t.Error("CLIENT KILL did not close b's other connection")
	}
}

func TestIsolationAdmin(t *testing.T) {
	tp, srvs := twoTenants(t)
	a := tp.raw(t)
	a.expect("+OK\r\n", "AUTH", "a", "pa")
	for _, cmd := range [][]string{
		{"DEBUG", "RELOAD"}, {"DEBUG", "CHANGE-REPL-ID"}, {"MONITOR"}, {"SHUTDOWN"}, {"REPLICAOF", "127.0.0.1", "1"},
		{"SLAVEOF", "NO", "ONE"}, {"MODULE", "LIST"}, {"ACL", "SETUSER", "x"}, {"ACL", "LIST"},
		{"SAVE"}, {"BGSAVE"}, {"BGREWRITEAOF"}, {"MIGRATE", "h", "1", "k", "0", "1"},
		{"SYNC"}, {"PSYNC", "?", "-1"}, {"CLUSTER", "ADDSLOTS", "1"}, {"CONFIG", "REWRITE"},
		{"CLIENT", "PAUSE", "10"}, {"FAILOVER"}, {"MEMORY", "MALLOC-STATS"}, {"REPLCONF", "ACK", "0"},
	} {
		got := a.do(cmd...)
		if !strings.HasPrefix(got, "-ERR command '") || !strings.HasSuffix(got, "' is not allowed through the Keyfleet proxy\r\n") {
			t.Errorf("%v = %q, want refused", cmd, got)
		}
	}
	// CONFIG: secrets and host settings never show; only tenant-safe
	// parameters can be set, and only on the tenant's shards.
	all := a.do("CONFIG", "GET", "*")
	for _, hidden := range []string{"requirepass", "masterauth", "\r\ndir\r\n", "dbfilename", shardPassword, "\r\nport\r\n", "bind"} {
		if strings.Contains(all, hidden) {
			t.Errorf("CONFIG GET * shows %q", hidden)
		}
	}
	if !strings.Contains(all, "maxmemory-policy") {
		t.Errorf("CONFIG GET * lost harmless parameters")
	}
	a.expect("*0\r\n", "CONFIG", "GET", "requirepass")
	a.expectPrefix("-ERR CONFIG SET 'maxmemory' is not allowed", "CONFIG", "SET", "maxmemory", "1")
	a.expectPrefix("-ERR CONFIG SET 'requirepass' is not allowed", "CONFIG", "SET", "slowlog-max-len", "10", "requirepass", "x")
	a.expect("+OK\r\n", "CONFIG", "SET", "slowlog-max-len", "77")
	for i, s := range srvs {
		v := s.do(t, "CONFIG", "GET", "slowlog-max-len")
		want := "77"
		if i == 3 {
			want = "128"
		}
		if len(v.Elems) != 2 || string(v.Elems[1].Str) != want {
			t.Errorf("shard %d slowlog-max-len = %s, want %s", i, v.String(), want)
		}
	}
	// INFO tells nothing about the host, the process or the replication
	// topology.
	info := a.do("INFO", "everything")
	for _, hidden := range []string{"process_id:", "executable:", "config_file:", "run_id:", "os:", "slave0:", "master_host:"} {
		if strings.Contains(info, hidden) {
			t.Errorf("INFO shows %q", hidden)
		}
	}
	for _, s := range srvs {
		if strings.Contains(info, "tcp_port:"+s.addr[strings.LastIndex(s.addr, ":")+1:]) {
			t.Errorf("INFO shows a shard's port")
		}
	}
	if !strings.Contains(info, "redis_version:") || !strings.Contains(info, "# Keyspace") {
		t.Errorf("INFO lost its useful parts: %q", info[:min(len(info), 300)])
	}
	a.expect("*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n", "ROLE")
	// DEBUG that only looks at the tenant's own data is allowed.
	a.expect("+OK\r\n", "SET", "dbg", "1")
	a.expectPrefix("+Value at:", "DEBUG", "OBJECT", "dbg")
	a.expect("+OK\r\n", "DEBUG", "SLEEP", "0")
	a.expect("$1\r\na\r\n", "ACL", "WHOAMI")
	a.expect(":0\r\n", "WAIT", "0", "10")
}

func TestIsolationScriptsPubSubLogs(t *testing.T) {
	tp, _ := twoTenants(t)
	a, b := tp.raw(t), tp.raw(t)
	a.expect("+OK\r\n", "AUTH", "a", "pa")
	b.expect("+OK\r\n", "AUTH", "b", "pb")

	// Scripts: loaded on every shard of a, absent from b; a's SCRIPT
	// FLUSH leaves b's.
	sha := a.do("SCRIPT", "LOAD", "return 1")
	sha = strings.TrimSpace(sha[strings.Index(sha, "\n")+1:])
	a.expect("*1\r\n:1\r\n", "SCRIPT", "EXISTS", sha)
	a.expect(":1\r\n", "EVALSHA", sha, "1", keyOn("e", 2, 3))
	b.expect("*1\r\n:0\r\n", "SCRIPT", "EXISTS", sha)
	b.expectPrefix("$40", "SCRIPT", "LOAD", "return 2")
	a.expect("+OK\r\n", "SCRIPT", "FLUSH")
	b.expect("*1\r\n:1\r\n", "SCRIPT", "EXISTS", strings.TrimSpace(strings.Split(b.do("SCRIPT", "LOAD", "return 2"), "\n")[1]))
	b.expectPrefix("-NOTBUSY", "SCRIPT", "KILL")
	// FUNCTION: loaded on every shard of a only.
	a.expectPrefix("$3\r\nlib", "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 7 end)")
	a.expect(":7\r\n", "FCALL", "f", "1", keyOn("f", 1, 3))
	a.expect(":7\r\n", "FCALL", "f", "0")
	b.expectPrefix("-ERR Function not found", "FCALL", "f", "0")
	b.expect("*0\r\n", "FUNCTION", "LIST")

	// Pub/sub: a channel subscribed in b is invisible to a, and a's
	// PUBLISH does not reach b.
	sub := tp.raw(t)
	sub.expect("+OK\r\n", "AUTH", "b", "pb")
	sub.expect("*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n", "SUBSCRIBE", "news")
	a.expect("*0\r\n", "PUBSUB", "CHANNELS")
	a.expect(":0\r\n", "PUBLISH", "news", "x")
	b.expect(":1\r\n", "PUBLISH", "news", "y")
	if got := sub.recv(); got != "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$1\r\ny\r\n" {
		t.Errorf("b's subscriber got %q", got)
	}

	// SLOWLOG is per tenant.
	b.expect("+OK\r\n", "CONFIG", "SET", "slowlog-log-slower-than", "0")
	b.expect("+OK\r\n", "SET", "b-slow-key", "1")
	a.expect("+OK\r\n", "SLOWLOG", "RESET")
	if got := a.do("SLOWLOG", "GET", "100"); strings.Contains(got, "b-slow-key") {
		t.Errorf("a's SLOWLOG shows b's command: %q", got)
	}
	if got := b.do("SLOWLOG", "GET", "100"); !strings.Contains(got, "b-slow-key") {
		t.Errorf("b's SLOWLOG lacks its command: %q", got)
	}
}
