// Command setzsetmem measures the memory of small sets and sorted sets in
// a node against a real redis-server: 1M sets of 5 integers (intset
// encoding) and 1M sorted sets of 10 members (listpack encoding), each
// loaded into a fresh instance of each server, one server at a time. It
// reports bytes per key by INFO used_memory and by the process RSS.
//
//	go build -o /tmp/node ./cmd/node
//	go run ./bench/setzsetmem -node /tmp/node [-redis-server redis-server] [-n 1000000]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/bench/internal/probe"
	"github.com/redis/go-redis/v9"
)

func main() {
	nodeBin := flag.String("node", "", "path of the node binary (go build -o /tmp/node ./cmd/node)")
	redisBin := flag.String("redis-server", "redis-server", "path of redis-server")
	n := flag.Int("n", 1000000, "keys per dataset")
	batch := flag.Int("pipeline", 1000, "commands per pipelined batch")
	datasets := flag.String("datasets", "sets,zsets", "datasets to load: sets, zsets")
	targets := flag.String("targets", "redis,node", "servers to measure: redis, node")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up after this long")
	flag.StringVar(&nodeEnv, "node-env", "", "extra environment for the node, e.g. GOGC=50 (comma-separated)")
	flag.BoolVar(&serverLogs, "v", false, "pass the servers' output through (e.g. with GODEBUG=gctrace=1)")
	flag.Parse()
	if *nodeBin == "" && strings.Contains(*targets, "node") {
		fmt.Fprintln(os.Stderr, "setzsetmem: -node is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	bins := map[string]string{"redis": *redisBin, "node": *nodeBin}
	type row struct{ dataset, target string }
	results := map[row]result{}
	for _, ds := range strings.Split(*datasets, ",") {
		for _, tg := range strings.Split(*targets, ",") {
			res, err := measure(ctx, tg, bins[tg], ds, *n, *batch)
			if err != nil {
				fmt.Fprintf(os.Stderr, "setzsetmem: %s on %s: %v\n", ds, tg, err)
				os.Exit(1)
			}
			results[row{ds, tg}] = res
			fmt.Printf("RESULT dataset=%s target=%s keys=%d load_s=%.2f used_per_key=%.1f rss_per_key=%.1f encoding=%s\n",
				ds, tg, *n, res.load.Seconds(), res.usedPerKey, res.rssPerKey, res.encoding)
		}
	}
	fmt.Println()
	fmt.Println("| dataset | redis used/key | node used/key | ratio | redis RSS/key | node RSS/key | ratio |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, ds := range strings.Split(*datasets, ",") {
		r, okR := results[row{ds, "redis"}]
		nd, okN := results[row{ds, "node"}]
		if !okR || !okN {
			continue
		}
		fmt.Printf("| %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n", describe(ds), r.usedPerKey, nd.usedPerKey,
			nd.usedPerKey/r.usedPerKey, r.rssPerKey, nd.rssPerKey, nd.rssPerKey/r.rssPerKey)
	}
}

func describe(ds string) string {
	switch ds {
	case "sets":
		return "1M sets of 5 integers (intset)"
	case "zsets":
		return "1M sorted sets of 10 members (listpack)"
	}
	return ds
}

var (
	// serverLogs passes the servers' output through (-v).
	serverLogs bool
	// nodeEnv is extra environment for the node process (-node-env).
	nodeEnv string
)

type result struct {
	load                  time.Duration
	usedPerKey, rssPerKey float64
	encoding              string
}

// measure starts a fresh server, loads the dataset and reads its memory.
func measure(ctx context.Context, target, bin, dataset string, n, batch int) (result, error) {
	var env []string
	if target == "node" && nodeEnv != "" {
		env = strings.Split(nodeEnv, ",")
	}
	var logs io.Writer
	if serverLogs {
		logs = os.Stderr
	}
	srv, err := probe.Start(ctx, bin, env, logs)
	if err != nil {
		return result{}, err
	}
	defer srv.Close()
	rc, pid := srv.Client, srv.Pid
	rssBefore, usedBefore, err := srv.Memory(ctx)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	for i := 0; i < n; i += batch {
		p := rc.Pipeline()
		for j := i; j < min(i+batch, n); j++ {
			switch dataset {
			case "sets":
				p.SAdd(ctx, "set:"+strconv.Itoa(j), setMembers(j)...)
			case "zsets":
				p.ZAdd(ctx, "zset:"+strconv.Itoa(j), zsetMembers(j)...)
			default:
				return result{}, fmt.Errorf("unknown dataset %q", dataset)
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			return result{}, fmt.Errorf("load keys %d..%d: %w", i, min(i+batch, n)-1, err)
		}
	}
	load := time.Since(start)
	if size, err := rc.DBSize(ctx).Result(); err != nil || size != int64(n) {
		return result{}, fmt.Errorf("DBSIZE is %d (%v) after loading %d keys", size, err, n)
	}
	key := "set:" + strconv.Itoa(n/2)
	want := int64(5)
	if dataset == "zsets" {
		key, want = "zset:"+strconv.Itoa(n/2), 10
	}
	var card int64
	if dataset == "sets" {
		card, err = rc.SCard(ctx, key).Result()
	} else {
		card, err = rc.ZCard(ctx, key).Result()
	}
	if err != nil || card != want {
		return result{}, fmt.Errorf("cardinality of %s is %d (%v), want %d", key, card, err, want)
	}
	enc, err := rc.ObjectEncoding(ctx, key).Result()
	if err != nil {
		return result{}, fmt.Errorf("OBJECT ENCODING %s: %w", key, err)
	}
	rssAfter, err := probe.RSS(pid)
	if err != nil {
		return result{}, err
	}
	usedAfter, err := probe.UsedMemory(ctx, rc)
	if err != nil {
		return result{}, err
	}
	return result{
		load:       load,
		usedPerKey: float64(usedAfter-usedBefore) / float64(n),
		rssPerKey:  float64(rssAfter-rssBefore) / float64(n),
		encoding:   enc,
	}, nil
}

// setMembers are five distinct integers that need a 32-bit intset.
func setMembers(i int) []any {
	out := make([]any, 5)
	for k := range out {
		out[k] = (i*7919 + k*104729) % 1000003
	}
	return out
}

// zsetMembers are ten members with integral and fractional scores.
func zsetMembers(i int) []redis.Z {
	out := make([]redis.Z, 10)
	for k := range out {
		out[k] = redis.Z{Score: float64((i+k)%1000) + float64(k%2)*0.5, Member: "member:" + strconv.Itoa(k)}
	}
	return out
}
