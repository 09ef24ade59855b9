package proxy

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestTransactions(t *testing.T) {
	tp, _ := threeShards(t)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")

	// A transaction on one slot, opened before its shard is known.
	r.expect("+OK\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "PING")
	r.expect("+QUEUED\r\n", "SET", "{u}a", "1")
	r.expect("+QUEUED\r\n", "INCR", "{u}a")
	r.expect("+QUEUED\r\n", "GET", "{u}a")
	r.expect("*4\r\n+PONG\r\n+OK\r\n:2\r\n$1\r\n2\r\n", "EXEC")

	// Keys of another shard inside the transaction: CROSSSLOT, then the
	// whole transaction is discarded, as in Redis Cluster.
	a, b := keyOn("t", 0, 3), keyOn("t", 2, 3)
	r.expect("+OK\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "SET", a, "1")
	r.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n", "SET", b, "1")
	r.expect("-EXECABORT Transaction discarded because of previous errors.\r\n", "EXEC")
	r.expect("$-1\r\n", "GET", a)

	// Queue-time errors abort, as in Redis.
	r.expect("+OK\r\n", "MULTI")
	r.expect("-ERR wrong number of arguments for 'get' command\r\n", "GET")
	r.expect("-EXECABORT Transaction discarded because of previous errors.\r\n", "EXEC")
	r.expect("-ERR EXEC without MULTI\r\n", "EXEC")
	r.expect("-ERR DISCARD without MULTI\r\n", "DISCARD")
	r.expect("+OK\r\n", "MULTI")
	r.expect("-ERR MULTI calls can not be nested\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "SET", a, "x")
	r.expect("+OK\r\n", "DISCARD")
	r.expect("$-1\r\n", "GET", a)

	// Only keyless commands: the transaction runs on the first shard.
	r.expect("+OK\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "ECHO", "hi")
	r.expect("*1\r\n$2\r\nhi\r\n", "EXEC")

	// Isolated commands are refused inside MULTI and abort it.
	r.expect("+OK\r\n", "MULTI")
	r.expectPrefix("-ERR command 'client|list' is not allowed inside MULTI", "CLIENT", "LIST")
	r.expectPrefix("-EXECABORT", "EXEC")

	// A pipeline mixing pooled and transactional commands stays in order.
	r.send("SET", a, "before")
	r.send("MULTI")
	r.send("GET", a)
	r.send("SET", a, "inside")
	r.send("EXEC")
	r.send("GET", a)
	for _, want := range []string{"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n$6\r\nbefore\r\n+OK\r\n", "$6\r\ninside\r\n"} {
		if got := r.recv(); got != want {
			t.Errorf("pipeline: got %q, want %q", got, want)
		}
	}
}

func TestWatch(t *testing.T) {
	tp, _ := threeShards(t)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	other := tp.raw(t)
	other.expect("+OK\r\n", "AUTH", "db3", "pw3")

	r.expect("+OK\r\n", "WATCH", "{w}k")
	other.expect("+OK\r\n", "SET", "{w}k", "changed")
	r.expect("+OK\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "SET", "{w}k", "mine")
	r.expect("*-1\r\n", "EXEC")
	r.expect("$7\r\nchanged\r\n", "GET", "{w}k")

	// Unchanged: EXEC runs.
	r.expect("+OK\r\n", "WATCH", "{w}k")
	r.expect("+OK\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "SET", "{w}k", "mine")
	r.expect("*1\r\n+OK\r\n", "EXEC")

	// WATCH on two shards cannot be honoured by one EXEC.
	r.expect("+OK\r\n", "WATCH", keyOn("w", 0, 3))
	r.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n", "WATCH", keyOn("w", 1, 3))
	r.expect("+OK\r\n", "UNWATCH")
	r.expect("+OK\r\n", "WATCH", keyOn("w", 1, 3))
	r.expect("+OK\r\n", "MULTI")
	r.expect("-ERR WATCH inside MULTI is not allowed\r\n", "WATCH", "x")
	r.expect("+OK\r\n", "DISCARD")
}

// TestGoRedisTxPipeline: go-redis's optimistic locking loop works through
// the proxy under contention.
func TestGoRedisTxPipeline(t *testing.T) {
	tp, _ := threeShards(t)
	rc := tp.client(t, "db3", "pw3", 3)
	const workers, incrs = 4, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < incrs; i++ {
				for {
					err := rc.Watch(ctxb, func(tx *redis.Tx) error {
						n, err := tx.Get(ctxb, "{c}counter").Int()
						if err != nil && err != redis.Nil {
							return err
						}
						_, err = tx.TxPipelined(ctxb, func(p redis.Pipeliner) error {
							p.Set(ctxb, "{c}counter", n+1, 0)
							return nil
						})
						return err
					}, "{c}counter")
					if err == nil {
						break
					}
					if !errors.Is(err, redis.TxFailedErr) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := rc.Get(ctxb, "{c}counter").Int(); err != nil || n != workers*incrs {
		t.Errorf("counter = %d, %v; want %d", n, err, workers*incrs)
	}
}

func TestSelectOneShard(t *testing.T) {
	tp, srv := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	r.expect("+OK\r\n", "SET", "k", "db0")
	r.expect("+OK\r\n", "SELECT", "3")
	r.expect("$-1\r\n", "GET", "k")
	r.expect("+OK\r\n", "SET", "k", "db3")
	r.expect("+OK\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "GET", "k")
	r.expect("*1\r\n$3\r\ndb3\r\n", "EXEC")
	r.expect("-ERR DB index is out of range\r\n", "SELECT", "16")
	r.expect("-ERR DB index is out of range\r\n", "SELECT", "-1")
	r.expect("-ERR value is not an integer or out of range\r\n", "SELECT", "03")
	// SELECT inside MULTI applies once EXEC has run, and only then.
	r.expect("+OK\r\n", "MULTI")
	r.expect("+QUEUED\r\n", "SELECT", "0")
	r.expect("+OK\r\n", "DISCARD")
	r.expect("$3\r\ndb3\r\n", "GET", "k")
	r.send("MULTI")
	r.send("SELECT", "0")
	r.send("GET", "k")
	r.send("EXEC")
	r.send("GET", "k")
	for _, want := range []string{"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n+OK\r\n$3\r\ndb0\r\n", "$3\r\ndb0\r\n"} {
		if got := r.recv(); got != want {
			t.Errorf("SELECT in MULTI: got %q, want %q", got, want)
		}
	}
	r.expect("+OK\r\n", "SELECT", "3")
	r.expect("+OK\r\n", "SELECT", "0")
	r.expect("$3\r\ndb0\r\n", "GET", "k")
	if v := srv.do(t, "SELECT", "3"); v.IsError() {
		t.Fatal(v.String())
	}
	// SWAPDB and MOVE work on a one-shard database.
	r.expect("+OK\r\n", "SWAPDB", "0", "3")
	r.expect("$3\r\ndb3\r\n", "GET", "k")
	r.expect(":1\r\n", "MOVE", "k", "5")

	tp3, _ := threeShards(t)
	r3 := tp3.raw(t)
	r3.expect("+OK\r\n", "AUTH", "db3", "pw3")
	r3.expect("+OK\r\n", "SELECT", "0")
	r3.expect("-ERR SELECT is not allowed in cluster mode\r\n", "SELECT", "1")
	r3.expect("-ERR MOVE is not allowed in cluster mode\r\n", "MOVE", "k", "1")
	r3.expectPrefix("-ERR SWAPDB is only allowed on a one-shard database", "SWAPDB", "0", "1")
	_ = time.Second
}
