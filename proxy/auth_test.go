package proxy

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func oneShard(t *testing.T, limits wire.Limits, mod func(*Options)) (*testProxy, *redisServer) {
	srvs := servers(t, 1)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("db1", "pw1", limits, srvs[0]))
	return startProxy(t, cp, mod), srvs[0]
}

func TestAuth(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	// Before AUTH: only HELLO, AUTH, PING, QUIT, RESET.
	r.expect("+PONG\r\n", "PING")
	r.expect("-NOAUTH Authentication required.\r\n", "GET", "k")
	r.expect("-NOAUTH Authentication required.\r\n", "NOSUCHCOMMAND")
	r.expect("-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n", "HELLO", "3")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH", "db1", "nope")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH", "nodb", "pw1")
	r.expectPrefix("-ERR AUTH needs a database id", "AUTH", "pw1")
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	r.expect("+OK\r\n", "SET", "k", "v")
	r.expect("$1\r\nv\r\n", "GET", "k")
	// RESET deauthenticates.
	r.expect("+RESET\r\n", "RESET")
	r.expect("-NOAUTH Authentication required.\r\n", "GET", "k")
	// AUTH id:password, for clients that only send a password.
	r.expect("+OK\r\n", "AUTH", "db1:pw1")
	r.expect("$1\r\nv\r\n", "GET", "k")
	r.expect("+OK\r\n", "QUIT")
	if !r.closed(2 * time.Second) {
		t.Error("QUIT did not close the connection")
	}

	// HELLO 3 AUTH: RESP3 from the first reply.
	r = tp.raw(t)
	got := r.do("HELLO", "3", "AUTH", "db1", "pw1", "SETNAME", "me")
	if !strings.HasPrefix(got, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n") {
		t.Errorf("HELLO 3 = %q", got)
	}
	r.expect("$2\r\nme\r\n", "CLIENT", "GETNAME")
	r.expect("_\r\n", "GET", "missing")
	r.expect("-NOPROTO unsupported protocol version\r\n", "HELLO", "4")
	r.expectPrefix("*14\r\n$6\r\nserver", "HELLO", "2")
	r.expect("$-1\r\n", "GET", "missing")
}

func TestAuthURLClients(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{}, nil)
	url := fmt.Sprintf("redis://db1:pw1@%s/0", tp.addr)
	for _, proto := range []int{2, 3} {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		opt.Protocol = proto
		rc := redis.NewClient(opt)
		defer rc.Close()
		if err := rc.Set(ctxb, "u", proto, 0).Err(); err != nil {
			t.Fatalf("go-redis RESP%d via URL: %v", proto, err)
		}
		if v, err := rc.Get(ctxb, "u").Int(); err != nil || v != proto {
			t.Errorf("GET = %d, %v", v, err)
		}
	}
	// redis-cli -u, as a user would paste the console's URL.
	if _, err := exec.LookPath("redis-cli"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-cli is required under CI: %v", err)
		}
		t.Skip("redis-cli not installed")
	}
	out, err := exec.Command("redis-cli", "--no-auth-warning", "-u", url, "SET", "cli", "hello").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("redis-cli SET: %s %v", out, err)
	}
	out, err = exec.Command("redis-cli", "--no-auth-warning", "-u", url, "GET", "cli").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("redis-cli GET: %s %v", out, err)
	}
	out, err = exec.Command("redis-cli", "--no-auth-warning", "-3", "-u", url, "HSET", "h", "f", "v").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "(integer) 1" && strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("redis-cli -3 HSET: %s %v", out, err)
	}
	bad := fmt.Sprintf("redis://db1:wrong@%s", tp.addr)
	out, _ = exec.Command("redis-cli", "--no-auth-warning", "-u", bad, "PING").CombinedOutput()
	if !strings.Contains(string(out), "WRONGPASS") && !strings.Contains(string(out), "NOAUTH") {
		t.Errorf("redis-cli with a wrong password: %s", out)
	}
}

// TestAuthBackoff: after a few failures from one address, each further
// attempt is answered later and later; a success resets it.
func TestAuthBackoff(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	for i := 0; i < 3; i++ {
		start := time.Now()
		r.do("AUTH", "db1", "wrong")
		if d := time.Since(start); d > 80*time.Millisecond {
			t.Errorf("free attempt %d took %v", i, d)
		}
	}
	var last time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		r.expectPrefix("-WRONGPASS", "AUTH", "db1", "wrong")
		last = time.Since(start)
	}
	// Delays: 100ms, 200ms, 400ms.
	if last < 390*time.Millisecond {
		t.Errorf("third slowed attempt took %v, want >= 400ms", last)
	}
	// Another connection from the same address is slowed too (800ms).
	r2 := tp.raw(t)
	start := time.Now()
	r2.expect("+OK\r\n", "AUTH", "db1", "pw1")
	if d := time.Since(start); d < 790*time.Millisecond {
		t.Errorf("attempt on a second connection took %v, want the backoff", d)
	}
	start = time.Now()
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("after a success, AUTH took %v", d)
	}
}

func TestAuthLimiterBounded(t *testing.T) {
	l := newAuthLimiter()
	l.maxEntries = 100
	now := time.Now()
	for i := 0; i < 1000; i++ {
		l.failed(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
	}
	if len(l.m) > 100 {
		t.Errorf("limiter holds %d entries, bound 100", len(l.m))
	}
	for i := 0; i < 10; i++ {
		l.failed("1.2.3.4", now)
	}
	if d := l.reserve("1.2.3.4", now); d != l.maxDelay {
		t.Errorf("attempt after 10 failures waits %v, want %v", d, l.maxDelay)
	}
	if d := l.reserve("1.2.3.4", now); d != 2*l.maxDelay {
		t.Errorf("a parallel attempt waits %v, want %v (behind the first)", d, 2*l.maxDelay)
	}
	if d := l.reserve("5.6.7.8", now); d != 0 {
		t.Errorf("another address waits %v", d)
	}
}

// TestUnauthRequestLimit: before AUTH a request is capped (as Redis caps
// unauthenticated clients), and the connection is closed with an error.
func TestUnauthRequestLimit(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	r.conn.Write([]byte("*2\r\n$3\r\nGET\r\n$1000000\r\n"))
	r.conn.Write(make([]byte, 200<<10))
	got := r.recv()
	if !strings.HasPrefix(got, "-ERR Protocol error") {
		t.Errorf("got %q", got)
	}
	if !r.closed(2 * time.Second) {
		t.Error("connection not closed")
	}
}
