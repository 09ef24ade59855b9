// Command bgsave compares BGSAVE on a node against a real redis-server:
// each server in turn (never both at once) gets a fresh instance loaded
// with 1M keys of mixed types, then runs BGSAVE while client goroutines
// keep reading and writing. It reports how long the save took, the
// latencies the clients saw during it (and during an idle window before
// it, as the baseline), and the peak memory over the loaded dataset.
//
// Memory is the proportional set size (PSS, /proc/PID/smaps_rollup) of
// the server plus its children: redis-server forks, and the RSS of parent
// and child would count the pages they share twice; PSS counts them
// once, so what it adds during the save is the copy-on-write copies (and
// for the node, its snapshot state), not the shared dataset.
//
//	go build -o /tmp/node ./cmd/node
//	go run ./bench/bgsave -node /tmp/node [-redis-server redis-server] [-n 1000000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/bench/internal/probe"
	"github.com/redis/go-redis/v9"
)

func main() {
	nodeBin := flag.String("node", "", "path of the node binary (go build -o /tmp/node ./cmd/node)")
	redisBin := flag.String("redis-server", "redis-server", "path of redis-server")
	n := flag.Int("n", 1000000, "keys in the dataset")
	clients := flag.Int("clients", 4, "concurrent clients during the save")
	targets := flag.String("targets", "redis,node", "servers to measure: redis, node")
	baseline := flag.Duration("baseline", 3*time.Second, "length of the idle window measured before BGSAVE")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up after this long")
	flag.BoolVar(&diag, "diag", false, "print each server's SLOWLOG and LATENCY LATEST after its save")
	flag.Parse()
	if *nodeBin == "" && strings.Contains(*targets, "node") {
		fmt.Fprintln(os.Stderr, "bgsave: -node is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	bins := map[string]string{"redis": *redisBin, "node": *nodeBin}
	results := map[string]result{}
	for _, tg := range strings.Split(*targets, ",") {
		res, err := measure(ctx, bins[tg], *n, *clients, *baseline)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bgsave: %s: %v\n", tg, err)
			os.Exit(1)
		}
		results[tg] = res
		fmt.Printf("RESULT target=%s keys=%d load_s=%.1f save_s=%.2f file_mb=%.1f base_p99_ms=%.2f base_max_ms=%.2f "+
			"save_p99_ms=%.2f save_max_ms=%.2f ops_during=%d pss_before_mb=%.1f pss_base_peak_mb=%.1f pss_peak_mb=%.1f\n",
			tg, *n, res.load.Seconds(), res.save.Seconds(), mb(res.fileSize), ms(res.base.p99), ms(res.base.max),
			ms(res.during.p99), ms(res.during.max), res.during.ops, mb(res.pssBefore), mb(res.pssBasePeak), mb(res.pssPeak))
	}
	r, okR := results["redis"]
	nd, okN := results["node"]
	if !okR || !okN {
		return
	}
	fmt.Println()
	fmt.Println("| BGSAVE of 1M mixed keys | redis-server | node | node/redis |")
	fmt.Println("|---|---:|---:|---:|")
	fmt.Printf("| time to finish (s) | %.2f | %.2f | %.2fx |\n", r.save.Seconds(), nd.save.Seconds(), nd.save.Seconds()/r.save.Seconds())
	fmt.Printf("| dump file (MB) | %.1f | %.1f | %.2fx |\n", mb(r.fileSize), mb(nd.fileSize), float64(nd.fileSize)/float64(r.fileSize))
	fmt.Printf("| client p99 / max before the save (ms) | %.2f / %.2f | %.2f / %.2f | |\n", ms(r.base.p99), ms(r.base.max), ms(nd.base.p99), ms(nd.base.max))
	fmt.Printf("| client p99 during the save (ms) | %.2f | %.2f | %.2fx |\n", ms(r.during.p99), ms(nd.during.p99), ms(nd.during.p99)/ms(r.during.p99))
	fmt.Printf("| largest latency during the save (ms) | %.2f | %.2f | %.2fx |\n", ms(r.during.max), ms(nd.during.max), ms(nd.during.max)/ms(r.during.max))
	fmt.Printf("| client ops/s during the save | %.0f | %.0f | %.2fx |\n", r.during.rate(), nd.during.rate(), nd.during.rate()/r.during.rate())
	fmt.Printf("| PSS with the dataset loaded (MB) | %.1f | %.1f | %.2fx |\n", mb(r.pssBefore), mb(nd.pssBefore), float64(nd.pssBefore)/float64(r.pssBefore))
	fmt.Printf("| peak PSS, same load without a save (MB) | %.1f | %.1f | %.2fx |\n", mb(r.pssBasePeak), mb(nd.pssBasePeak), float64(nd.pssBasePeak)/float64(r.pssBasePeak))
	fmt.Printf("| peak PSS during the save (MB) | %.1f | %.1f | %.2fx |\n", mb(r.pssPeak), mb(nd.pssPeak), float64(nd.pssPeak)/float64(r.pssPeak))
	fmt.Printf("| save's peak over the loaded dataset | +%.1f%% | +%.1f%% | |\n", 100*(float64(r.pssPeak)/float64(r.pssBefore)-1), 100*(float64(nd.pssPeak)/float64(nd.pssBefore)-1))
	fmt.Printf("| save's peak over the no-save peak | +%.1f%% | +%.1f%% | |\n", 100*(float64(r.pssPeak)/float64(r.pssBasePeak)-1), 100*(float64(nd.pssPeak)/float64(nd.pssBasePeak)-1))
}

func mb(b int64) float64          { return float64(b) / (1 << 20) }
func ms(d time.Duration) float64  { return float64(d) / float64(time.Millisecond) }
func (l latencies) rate() float64 { return float64(l.ops) / l.span.Seconds() }

// diag prints the servers' own view of slow commands after the save.
var diag bool

type latencies struct {
	p99, max time.Duration
	ops      int
	span     time.Duration
}

type result struct {
	load, save         time.Duration
	fileSize           int64
	base, during       latencies
	pssBefore, pssPeak int64
	pssBasePeak        int64
}

// measure starts a fresh server, loads the dataset, and measures a
// baseline window and then a BGSAVE under the same client load.
func measure(ctx context.Context, bin string, n, clients int, baseline time.Duration) (result, error) {
	srv, err := probe.Start(ctx, bin, nil, nil)
	if err == nil && diag {
		srv.Client.ConfigSet(ctx, "latency-monitor-threshold", "20")
		srv.Client.ConfigSet(ctx, "slowlog-log-slower-than", "20000")
	}
	if err != nil {
		return result{}, err
	}
	defer srv.Close()
	rc := srv.Client
	var res result
	start := time.Now()
	if err := load(ctx, rc, n); err != nil {
		return res, err
	}
	res.load = time.Since(start)
	if got := rc.DBSize(ctx).Val(); got != int64(n) {
		return res, fmt.Errorf("DBSIZE %d after loading %d keys", got, n)
	}
	dirs, err := rc.ConfigGet(ctx, "dir").Result()
	if err != nil || dirs["dir"] == "" {
		return res, fmt.Errorf("CONFIG GET dir: %v %w", dirs, err)
	}
	// Let the loader's garbage go before the "before" reading.
	time.Sleep(2 * time.Second)
	if res.pssBefore, err = treePSS(srv.Pid); err != nil {
		return res, err
	}
	addr := rc.Options().Addr

	// Baseline: the same clients for a while with no save running. Their
	// writes alone move memory (garbage, allocator), so the peak of this
	// window is what the save's peak compares with.
	res.base, res.pssBasePeak, err = underLoad(ctx, addr, n, clients, srv.Pid, func() error {
		select {
		case <-time.After(baseline):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		return res, err
	}

	// The save, under the same load.
	res.during, res.pssPeak, err = underLoad(ctx, addr, n, clients, srv.Pid, func() error {
		t0 := time.Now()
		if err := rc.BgSave(ctx).Err(); err != nil {
			return fmt.Errorf("BGSAVE: %w", err)
		}
		for {
			info, err := rc.Info(ctx, "persistence").Result()
			if err != nil {
				return fmt.Errorf("INFO persistence: %w", err)
			}
			if strings.Contains(info, "rdb_bgsave_in_progress:0") {
				res.save = time.Since(t0)
				if !strings.Contains(info, "rdb_last_bgsave_status:ok") {
					return errors.New("BGSAVE failed")
				}
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	if err != nil {
		return res, err
	}
	if diag {
		fmt.Printf("SLOWLOG %v\nLATENCY LATEST %v\n", rc.Do(ctx, "slowlog", "get", 5).Val(), rc.Do(ctx, "latency", "latest").Val())
	}
	fi, err := os.Stat(filepath.Join(dirs["dir"], "dump.rdb"))
	if err != nil {
		return res, fmt.Errorf("dump file: %w", err)
	}
	res.fileSize = fi.Size()
	return res, nil
}

// load writes n keys: 40% strings, then hashes, lists, sets and sorted
// sets of 5 elements each (12% of the keys each), all in the compact
// encodings, in pipelined batches of 1000 commands.
func load(ctx context.Context, rc *redis.Client, n int) error {
	const batch = 1000
	val := strings.Repeat("v", 20)
	for i := 0; i < n; i += batch {
		p := rc.Pipeline()
		for j := i; j < min(i+batch, n); j++ {
			k := "k:" + strconv.Itoa(j)
			switch j % 25 {
			case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9:
				p.Set(ctx, k, val+strconv.Itoa(j), 0)
			case 10, 11, 12:
				p.HSet(ctx, k, "f0", j, "f1", "a", "f2", "bb", "f3", "ccc", "f4", val)
			case 13, 14, 15:
				p.RPush(ctx, k, j, "a", "bb", "ccc", val)
			case 16, 17, 18:
				p.SAdd(ctx, k, j, j+1, j+2, j+3, j+4)
			default:
				p.ZAdd(ctx, k, redis.Z{Score: 1, Member: j}, redis.Z{Score: 2, Member: "a"}, redis.Z{Score: 3.5, Member: "bb"},
					redis.Z{Score: 4, Member: "ccc"}, redis.Z{Score: 5, Member: val})
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			return fmt.Errorf("load batch at %d: %w", i, err)
		}
	}
	return nil
}

// underLoad runs clients that each alternate a SET and a GET of random
// existing string keys, one command at a time, until window returns; it
// reports the latencies they saw and the peak PSS of the server (pid and
// its children), sampled every 20 ms.
func underLoad(ctx context.Context, addr string, n, clients, pid int, window func() error) (latencies, int64, error) {
	var peak atomic.Int64
	sampling, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for sampling.Err() == nil {
			if v, err := treePSS(pid); err == nil && v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	stop := make(chan struct{})
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, ReadTimeout: time.Minute})
			defer rc.Close()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			var mine []time.Duration
			defer func() { mu.Lock(); all = append(all, mine...); mu.Unlock() }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := rng.IntN(n)
				k -= k % 25 // a string key
				var err error
				t0 := time.Now()
				if i%2 == 0 {
					err = rc.Set(ctx, "k:"+strconv.Itoa(k), "w"+strconv.Itoa(i), 0).Err()
				} else {
					err = rc.Get(ctx, "k:"+strconv.Itoa(k)).Err()
				}
				mine = append(mine, time.Since(t0))
				if err != nil && err != redis.Nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	t0 := time.Now()
	err := window()
	span := time.Since(t0)
	close(stop)
	wg.Wait()
	if err == nil {
		err = firstErr
	}
	stopSampling()
	sampler.Wait()
	if len(all) == 0 {
		return latencies{}, 0, errors.Join(err, errors.New("no requests completed"))
	}
	slices.Sort(all)
	return latencies{p99: all[len(all)*99/100], max: all[len(all)-1], ops: len(all), span: span}, peak.Load(), err
}

// treePSS is the PSS of pid and its children (a forked BGSAVE child).
func treePSS(pid int) (int64, error) {
	total, err := pss(pid)
	if err != nil {
		return 0, err
	}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(kids)) {
		if c, err := strconv.Atoi(f); err == nil {
			if v, err := pss(c); err == nil {
				total += v
			}
		}
	}
	return total, nil
}

func pss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, fmt.Errorf("read PSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse Pss %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no Pss for pid %d", pid)
}
