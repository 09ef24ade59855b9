// Command loadkeys loads N keys with fixed-size values into a Redis-
// compatible server and reports the memory it took (process RSS and INFO
// used_memory) and the longest pause a concurrent client saw meanwhile.
// bench/run.sh runs it against a node and a real redis-server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyfleet/keyfleet/bench/internal/probe"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "server address")
	pid := flag.Int("pid", 0, "server process id, for its RSS (0: not measured)")
	n := flag.Int("n", 1000000, "keys to load")
	size := flag.Int("d", 10, "value size in bytes")
	batch := flag.Int("pipeline", 1000, "SETs per pipelined batch")
	pingEvery := flag.Duration("ping-every", time.Millisecond, "interval of the latency probe's PINGs")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, *addr, *pid, *n, *size, *batch, *pingEvery); err != nil {
		fmt.Fprintln(os.Stderr, "loadkeys:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, pid, n, size, batch int, pingEvery time.Duration) error {
	opts := &redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	rc := redis.NewClient(opts)
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping %s: %w", addr, err)
	}
	rssBefore, rssErr := probe.RSS(pid)
	usedBefore, usedErr := probe.UsedMemory(ctx, rc)

	// The latency probe: its own connection, one PING per interval, the
	// longest round trip kept. It samples what an application sees while
	// the server is busy loading (GC pauses, rehashing, lock hold times).
	pinger := redis.NewClient(opts)
	defer pinger.Close()
	var (
		wg      sync.WaitGroup
		lats    []time.Duration
		probeEr error
	)
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			start := time.Now()
			if err := pinger.Ping(ctx).Err(); err != nil {
				probeEr = err
				return
			}
			lats = append(lats, time.Since(start))
		}
	}()

	value := strings.Repeat("x", size)
	start := time.Now()
	for i := 0; i < n; i += batch {
		p := rc.Pipeline()
		for j := i; j < min(i+batch, n); j++ {
			p.Set(ctx, "key:"+strconv.Itoa(j), value, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			close(done)
			wg.Wait()
			return fmt.Errorf("load keys %d..%d: %w", i, min(i+batch, n)-1, err)
		}
	}
	loadTime := time.Since(start)
	close(done)
	wg.Wait()
	if probeEr != nil {
		return fmt.Errorf("latency probe: %w", probeEr)
	}

	// Check the load before reporting on it.
	if size, err := rc.DBSize(ctx).Result(); err == nil && size != int64(n) {
		return fmt.Errorf("DBSIZE is %d after loading %d keys", size, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if v, err := rc.Get(ctx, "key:"+strconv.Itoa(i)).Result(); err != nil || v != value {
			return fmt.Errorf("GET key:%d after the load = %q, %v", i, v, err)
		}
	}

	rssAfter, rssErr2 := probe.RSS(pid)
	usedAfter, usedErr2 := probe.UsedMemory(ctx, rc)
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(float64(len(lats))*p))]
	}
	perKey := func(before, after int64, err1, err2 error) string {
		if err1 != nil || err2 != nil {
			return "n/a"
		}
		return strconv.FormatFloat(float64(after-before)/float64(n), 'f', 1, 64)
	}
	fmt.Printf("RESULT keys=%d load_s=%.2f rss_before=%d rss_after=%d rss_per_key=%s used_before=%d used_after=%d used_per_key=%s pings=%d ping_p50_ms=%.3f ping_p99_ms=%.3f ping_max_ms=%.3f\n",
		n, loadTime.Seconds(), rssBefore, rssAfter, perKey(rssBefore, rssAfter, rssErr, rssErr2),
		usedBefore, usedAfter, perKey(usedBefore, usedAfter, usedErr, usedErr2),
		len(lats), ms(pct(0.5)), ms(pct(0.99)), ms(pct(1)))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
