package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStreamGroupSoak is the consumer-group soak test: a producer adds
// entries while several consumers read them through one group, acknowledge
// them, and now and then die — the connection closed while a read is
// blocked or in flight, or after a read before the acknowledgements. A
// reaper takes over what the dead left pending with XAUTOCLAIM. In the end
// every entry must have been delivered, and acknowledged exactly once (an
// XACK that answered 1), and the group must have nothing pending and no
// lag. It runs a few seconds and stops by itself.
func TestStreamGroupSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	s, rc := testServer(t, nil)
	ctx := context.Background()
	const (
		entries   = 10000
		consumers = 4
		minIdle   = 40 // ms before the reaper takes over an entry
	)
	if err := rc.Do(ctx, "XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM").Err(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := make(map[string]int)     // ID → successful XACKs
	delivered := make(map[string]int) // ID → deliveries seen by a live reader
	var crashes, reclaimed int
	recordAck := func(id string, n int64) {
		mu.Lock()
		acked[id] += int(n)
		mu.Unlock()
	}

	done := make(chan struct{})
	var wg sync.WaitGroup

	// The producer: entries in small pipelined batches.
	var ids []string
	prod, reaper := newClient(t, s, 2), newClient(t, s, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < entries; i += 50 {
			pipe := prod.Pipeline()
			cmds := make([]*redis.StringCmd, 0, 50)
			for j := i; j < i+50 && j < entries; j++ {
				cmds = append(cmds, pipe.XAdd(ctx, &redis.XAddArgs{Stream: "jobs", Values: []any{"n", j}}))
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Errorf("producer: %v", err)
				return
			}
			mu.Lock()
			for _, c := range cmds {
				ids = append(ids, c.Val())
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // pacing, so reads interleave with writes
		}
	}()

	// The consumers.
	for k := 0; k < consumers; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(k)))
			name := fmt.Sprintf("c%d", k)
			var conn *soakConn
			for {
				select {
				case <-done:
					if conn != nil {
						conn.close()
					}
					return
				default:
				}
				if conn == nil {
					var err error
					if conn, err = dialSoak(s.Addr().String()); err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
				}
				if err := conn.send("XREADGROUP", "GROUP", "g", name, "COUNT", "10", "BLOCK", "50", "STREAMS", "jobs", ">"); err != nil {
					conn.close()
					conn = nil
					continue
				}
				switch rng.Intn(20) {
				case 0: // killed mid-read: the reply may or may not have been sent
					conn.close()
					conn = nil
					mu.Lock()
					crashes++
					mu.Unlock()
					continue
				}
				v, err := conn.read()
				if err != nil {
					conn.close()
					conn = nil
					continue
				}
				got := soakEntryIDs(v)
				mu.Lock()
				for _, id := range got {
					delivered[id]++
				}
				mu.Unlock()
				if len(got) > 0 && rng.Intn(15) == 0 { // killed before acknowledging
					conn.close()
					conn = nil
					mu.Lock()
					crashes++
					mu.Unlock()
					continue
				}
				for _, id := range got {
					n, err := conn.do("XACK", "jobs", "g", id)
					if err != nil {
						conn.close()
						conn = nil
						break
					}
					recordAck(id, soakInt(n))
				}
			}
		}(k)
	}

	// The reaper: claims what was pending too long, processes it.
	wg.Add(1)
	go func() {
		defer wg.Done()
		cursor := "0-0"
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			res, err := reaper.Do(ctx, "XAUTOCLAIM", "jobs", "g", "reaper", minIdle, cursor, "COUNT", 25, "JUSTID").Slice()
			if err != nil {
				t.Errorf("XAUTOCLAIM: %v", err)
				return
			}
			cursor = res[0].(string)
			for _, x := range res[1].([]any) {
				id := x.(string)
				n, err := reaper.XAck(ctx, "jobs", "g", id).Result()
				if err != nil {
					t.Errorf("reaper XACK: %v", err)
					return
				}
				recordAck(id, n)
				mu.Lock()
				reclaimed++
				mu.Unlock()
			}
			if len(res[2].([]any)) > 0 {
				t.Errorf("XAUTOCLAIM reports deleted entries %v: nothing was deleted", res[2])
			}
		}
	}()

	// Wait until everything was produced, read and acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		produced := len(ids)
		mu.Unlock()
		if produced == entries {
			pend, err := rc.XPending(ctx, "jobs", "g").Result()
			if err != nil {
				t.Fatal(err)
			}
			info, err := rc.Do(ctx, "XINFO", "GROUPS", "jobs").Slice()
			if err != nil {
				t.Fatal(err)
			}
			lag := soakField(info[0], "lag")
			if pend.Count == 0 && lag == int64(0) {
				break
			}
		}
		if time.Now().After(deadline) {
			close(done)
			wg.Wait()
			t.Fatalf("not drained in time: %d produced", produced)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(done)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(ids) != entries {
		t.Fatalf("%d entries produced, want %d", len(ids), entries)
	}
	for _, id := range ids {
		if acked[id] != 1 {
			t.Errorf("entry %s acknowledged %d times", id, acked[id])
		}
	}
	if len(acked) != entries {
		t.Errorf("%d distinct IDs acknowledged, want %d", len(acked), entries)
	}
	info, _ := rc.Do(ctx, "XINFO", "GROUPS", "jobs").Slice()
	if er := soakField(info[0], "entries-read"); er != int64(entries) {
		t.Errorf("entries-read %v, want %d", er, entries)
	}
	if crashes == 0 || reclaimed == 0 {
		t.Errorf("the soak did not exercise failures: %d crashes, %d entries reclaimed", crashes, reclaimed)
	}
	t.Logf("%d entries, %d consumer crashes, %d reclaimed by XAUTOCLAIM, %d deliveries seen by live readers",
		entries, crashes, reclaimed, soakSum(delivered))
}

func soakSum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// soakField returns a field of an XINFO map reply (RESP2 array).
func soakField(v any, name string) any {
	arr, _ := v.([]any)
	for i := 0; i+1 < len(arr); i += 2 {
		if arr[i] == name {
			return arr[i+1]
		}
	}
	return nil
}

// soakConn is a consumer's own connection, closed to simulate a crash.
type soakConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialSoak(addr string) (*soakConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &soakConn{c: c, r: bufio.NewReader(c)}, nil
}

func (sc *soakConn) close() { sc.c.Close() }

func (sc *soakConn) send(args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	sc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := sc.c.Write([]byte(b.String()))
	return err
}

func (sc *soakConn) read() (respValue, error) {
	sc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	v, err := readResp(sc.r)
	if err == nil && v.kind == '-' {
		err = errors.New(v.str)
	}
	return v, err
}

func (sc *soakConn) do(args ...string) (respValue, error) {
	if err := sc.send(args...); err != nil {
		return respValue{}, err
	}
	return sc.read()
}

// soakEntryIDs lists the entry IDs of an XREADGROUP reply (RESP2).
func soakEntryIDs(v respValue) []string {
	var ids []string
	for _, stream := range v.elems {
		if len(stream.elems) != 2 {
			continue
		}
		for _, e := range stream.elems[1].elems {
			if len(e.elems) == 2 {
				ids = append(ids, e.elems[0].str)
			}
		}
	}
	return ids
}

func soakInt(v respValue) int64 {
	var n int64
	fmt.Sscan(v.str, &n)
	return n
}
