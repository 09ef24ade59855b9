package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestMaxConnections(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{MaxConnections: 2}, nil)
	c1, c2, c3 := tp.raw(t), tp.raw(t), tp.raw(t)
	c1.expect("+OK\r\n", "AUTH", "db1", "pw1")
	c2.expect("+OK\r\n", "AUTH", "db1", "pw1")
	c3.expect("-ERR max connections for this database reached\r\n", "AUTH", "db1", "pw1")
	c3.expect("-NOAUTH Authentication required.\r\n", "GET", "k")
	c1.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := c3.do("AUTH", "db1", "pw1")
		if got == "+OK\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("AUTH after a connection closed = %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOpsPerSecond(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{OpsPerSec: 100}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	// A burst above the bucket: the first 100 pass, the rest are refused
	// with an error naming the limit.
	for i := 0; i < 150; i++ {
		r.send("PING")
	}
	ok, refused := 0, 0
	for i := 0; i < 150; i++ {
		switch got := r.recv(); got {
		case "+PONG\r\n":
			ok++
		case "-ERR ops per second limit exceeded for this database\r\n":
			refused++
		default:
			t.Fatalf("reply %q", got)
		}
	}
	if ok < 99 || ok > 110 || refused < 40 {
		t.Errorf("passed %d, refused %d; want about 100 and 50", ok, refused)
	}
	// The bucket refills.
	time.Sleep(200 * time.Millisecond)
	r.expect("+PONG\r\n", "PING")
}

func TestMaxRequestSize(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{MaxRequestBytes: 1000}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	r.expect("-ERR request exceeds the max request size for this database\r\n", "SET", "k", strings.Repeat("x", 2000))
	r.expect("+OK\r\n", "SET", "k", strings.Repeat("x", 500))
	// A request far beyond the limit is cut off before it is buffered.
	r.conn.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n"))
	r.conn.Write(make([]byte, 64<<10))
	if got := r.recv(); !strings.HasPrefix(got, "-ERR Protocol error") {
		t.Errorf("oversized request: %q", got)
	}
}

func TestBandwidth(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{BandwidthBytesPerSec: 20000}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	big := strings.Repeat("x", 15000)
	r.expect("+OK\r\n", "SET", "big", big)
	r.expectPrefix("$15000", "GET", "big")
	r.expect("-ERR bandwidth limit exceeded for this database\r\n", "GET", "big")
	time.Sleep(1600 * time.Millisecond)
	r.expectPrefix("$15000", "GET", "big")
}

func TestUsageReports(t *testing.T) {
	srvs := servers(t, 1)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("db1", "pw1", wire.Limits{OpsPerSec: 1000}, srvs[0]))
	tp := startProxy(t, cp, func(o *Options) { o.UsageInterval = 100 * time.Millisecond })
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	for i := 0; i < 10; i++ {
		r.expect("+OK\r\n", "SET", "k", "v")
	}
	r.expectPrefix("-ERR unknown command", "NOPE")
	deadline := time.Now().Add(5 * time.Second)
	for {
		u := cp.usage("db1")
		if u.Ops >= 11 && u.Errors >= 1 && u.BytesIn > 0 && u.BytesOut > 0 && u.Connections == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage = %+v", u)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// While the control plane is down, usage is held back, then
	// delivered.
	cp.setDown(true)
	before := cp.usage("db1").Ops
	for i := 0; i < 5; i++ {
		r.expect("+OK\r\n", "SET", "k", "v")
	}
	time.Sleep(300 * time.Millisecond)
	cp.setDown(false)
	deadline = time.Now().Add(5 * time.Second)
	for cp.usage("db1").Ops < before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("held-back usage lost: %d, want %d", cp.usage("db1").Ops, before+5)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
