// Command evict compares the quality of the node's approximated LRU
// eviction with redis-server's: each server, with the same maxmemory and
// allkeys-lru, is filled far past its limit, then serves a cache-aside
// read load whose keys follow a Zipf distribution (GET; on a miss, SET the
// key). It reports the hit rate after a warm-up, the keys each server
// holds and its evictions, side by side. Both servers see the same key
// sequence.
//
//	go build -o /tmp/node ./cmd/node
//	go run ./bench/evict -node /tmp/node [-redis-server redis-server] [-maxmemory 32mb] [-keys 400000] [-reads 1000000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/bench/internal/probe"
	"github.com/redis/go-redis/v9"
)

type config struct {
	maxmemory string
	keys      int
	value     int
	reads     int
	warmup    int
	zipfS     float64
	batch     int
	samples   int
}

func main() {
	nodeBin := flag.String("node", "", "path of the node binary (go build -o /tmp/node ./cmd/node)")
	redisBin := flag.String("redis-server", "redis-server", "path of redis-server")
	var cfg config
	flag.StringVar(&cfg.maxmemory, "maxmemory", "32mb", "maxmemory of both servers")
	flag.IntVar(&cfg.keys, "keys", 400000, "distinct keys (the fill writes each once)")
	flag.IntVar(&cfg.value, "value", 100, "value size in bytes")
	flag.IntVar(&cfg.reads, "reads", 1000000, "reads measured after the warm-up")
	flag.IntVar(&cfg.warmup, "warmup", 300000, "reads before measuring")
	flag.Float64Var(&cfg.zipfS, "zipf", 1.01, "Zipf exponent s (> 1)")
	flag.IntVar(&cfg.batch, "pipeline", 100, "reads per pipelined batch")
	flag.IntVar(&cfg.samples, "samples", 5, "maxmemory-samples of both servers")
	targets := flag.String("targets", "redis,node", "servers to measure: redis, node")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	flag.Parse()
	if *nodeBin == "" && strings.Contains(*targets, "node") {
		fmt.Fprintln(os.Stderr, "evict: -node is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	bins := map[string]string{"redis": *redisBin, "node": *nodeBin}
	fmt.Printf("allkeys-lru, maxmemory %s, samples %d, %d keys of %d bytes, Zipf s=%.2f, %d reads after %d warm-up\n",
		cfg.maxmemory, cfg.samples, cfg.keys, cfg.value, cfg.zipfS, cfg.reads, cfg.warmup)
	fmt.Printf("%-6s %9s %10s %12s %12s\n", "server", "hit_rate", "keys_held", "evicted", "used_memory")
	for _, tg := range strings.Split(*targets, ",") {
		r, err := run(ctx, bins[tg], cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "evict: %s: %v\n", tg, err)
			os.Exit(1)
		}
		fmt.Printf("%-6s %8.2f%% %10d %12d %12d\n", tg, 100*r.hitRate, r.keys, r.evicted, r.used)
	}
}

type result struct {
	hitRate float64
	keys    int64
	evicted int64
	used    int64
}

func run(ctx context.Context, bin string, cfg config) (result, error) {
	port, err := probe.FreePort()
	if err != nil {
		return result{}, err
	}
	cmd := exec.CommandContext(ctx, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--maxmemory", cfg.maxmemory,
		"--maxmemory-policy", "allkeys-lru", "--maxmemory-samples", strconv.Itoa(cfg.samples))
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start %s: %w", bin, err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	if err := probe.WaitReady(ctx, rc); err != nil {
		return result{}, err
	}
	val := strings.Repeat("v", cfg.value)
	key := func(id uint64) string { return "key:" + strconv.FormatUint(id, 10) }

	// Fill: every key once, in an order unrelated to popularity.
	for i := 0; i < cfg.keys; i += 1000 {
		p := rc.Pipeline()
		for j := i; j < min(i+1000, cfg.keys); j++ {
			p.Set(ctx, key(uint64(j)), val, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return result{}, fmt.Errorf("fill: %w", err)
		}
	}

	// Popularity rank r maps to key perm(r), the same for both servers.
	r := rand.New(rand.NewPCG(42, 7))
	perm := r.Perm(cfg.keys)
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 1)), cfg.zipfS, 1, uint64(cfg.keys-1))
	var hits, total int64
	ids := make([]uint64, cfg.batch)
	for done := 0; done < cfg.warmup+cfg.reads; done += cfg.batch {
		p := rc.Pipeline()
		gets := make([]*redis.StringCmd, cfg.batch)
		for j := range ids {
			ids[j] = uint64(perm[zipf.Uint64()])
			gets[j] = p.Get(ctx, key(ids[j]))
		}
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return result{}, fmt.Errorf("reads: %w", err)
		}
		p = rc.Pipeline()
		misses := 0
		for j, g := range gets {
			hit := g.Err() == nil
			if done >= cfg.warmup {
				total++
				if hit {
					hits++
				}
			}
			if !hit {
				p.Set(ctx, key(ids[j]), val, 0)
				misses++
			}
		}
		if misses > 0 {
			if _, err := p.Exec(ctx); err != nil {
				return result{}, fmt.Errorf("cache fill: %w", err)
			}
		}
	}
	res := result{hitRate: float64(hits) / float64(max(total, 1))}
	res.keys, _ = rc.DBSize(ctx).Result()
	info, _ := rc.Info(ctx, "stats", "memory").Result()
	for _, l := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "evicted_keys":
			res.evicted, _ = strconv.ParseInt(v, 10, 64)
		case "used_memory":
			res.used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return res, nil
}
