// Command hashmem measures the memory of small hashes (and lists) in a
// node against a real redis-server: 1M hashes of 10 fields (listpack
// encoding) and 1M lists of 10 elements (quicklist of one listpack node),
// each loaded into a fresh instance of each server, one server at a time.
// It reports bytes per key by INFO used_memory (after a garbage
// collection, see collect) and by the process RSS.
//
//	go build -o /tmp/node ./cmd/node
//	go run ./bench/hashmem -node /tmp/node [-redis-server redis-server] [-n 1000000] [-datasets hashes,lists]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
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
	datasets := flag.String("datasets", "hashes", "datasets to load: hashes, lists")
	targets := flag.String("targets", "redis,node", "servers to measure: redis, node")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up after this long")
	flag.StringVar(&nodeEnv, "node-env", "", "extra environment for the node, e.g. GOGC=50 (comma-separated)")
	flag.Parse()
	if *nodeBin == "" && strings.Contains(*targets, "node") {
		fmt.Fprintln(os.Stderr, "hashmem: -node is required")
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
				fmt.Fprintf(os.Stderr, "hashmem: %s on %s: %v\n", ds, tg, err)
				os.Exit(1)
			}
			results[row{ds, tg}] = res
			fmt.Printf("RESULT dataset=%s target=%s keys=%d load_s=%.2f used_per_key=%.1f raw_used_per_key=%.1f rss_per_key=%.1f encoding=%s\n",
				ds, tg, *n, res.load.Seconds(), res.usedPerKey, res.rawUsedPerKey, res.rssPerKey, res.encoding)
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
	case "hashes":
		return "1M hashes of 10 fields (listpack)"
	case "lists":
		return "1M lists of 10 elements (quicklist)"
	}
	return ds
}

// nodeEnv is extra environment for the node process (-node-env).
var nodeEnv string

type result struct {
	load time.Duration
	// usedPerKey is read after a garbage collection, rawUsedPerKey right
	// after the load.
	usedPerKey, rawUsedPerKey, rssPerKey float64
	encoding                             string
}

// hashFields are ten fields with short values, some of them integers, as
// a typical small object cached as a hash looks.
func hashFields(i int) []any {
	return []any{
		"id", i,
		"name", "user-" + strconv.Itoa(i),
		"email", "u" + strconv.Itoa(i) + "@example.com",
		"age", 20 + i%60,
		"country", []string{"fr", "de", "us", "jp", "br"}[i%5],
		"score", i % 1000,
		"active", i % 2,
		"plan", []string{"free", "pro", "team"}[i%3],
		"created", 1700000000 + i,
		"token", strconv.FormatInt(int64(i)*2654435761%1000000007, 36),
	}
}

// listElements are ten short elements.
func listElements(i int) []any {
	out := make([]any, 10)
	for k := range out {
		if k%2 == 0 {
			out[k] = i + k
		} else {
			out[k] = "item:" + strconv.Itoa(i+k)
		}
	}
	return out
}

// measure starts a fresh server, loads the dataset and reads its memory.
func measure(ctx context.Context, target, bin, dataset string, n, batch int) (result, error) {
	var env []string
	if target == "node" && nodeEnv != "" {
		env = strings.Split(nodeEnv, ",")
	}
	srv, err := probe.Start(ctx, bin, env, nil)
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
			case "hashes":
				p.HSet(ctx, "hash:"+strconv.Itoa(j), hashFields(j)...)
			case "lists":
				p.RPush(ctx, "list:"+strconv.Itoa(j), listElements(j)...)
			default:
				return result{}, fmt.Errorf("unknown dataset %q", dataset)
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			return result{}, fmt.Errorf("load keys %d..%d: %w", i, min(i+batch, n)-1, err)
		}
	}
	load := time.Since(start)
	runtime.GC() // the loader's garbage, not the server's
	if size, err := rc.DBSize(ctx).Result(); err != nil || size != int64(n) {
		return result{}, fmt.Errorf("DBSIZE is %d (%v) after loading %d keys", size, err, n)
	}
	key, want := "hash:"+strconv.Itoa(n/2), int64(10)
	var length int64
	if dataset == "hashes" {
		length, err = rc.HLen(ctx, key).Result()
		if err == nil {
			if v := rc.HGet(ctx, key, "name").Val(); v != "user-"+strconv.Itoa(n/2) {
				err = fmt.Errorf("HGET %s name = %q", key, v)
			}
		}
	} else {
		key = "list:" + strconv.Itoa(n/2)
		length, err = rc.LLen(ctx, key).Result()
	}
	if err != nil || length != want {
		return result{}, fmt.Errorf("length of %s is %d (%v), want %d", key, length, err, want)
	}
	enc, err := rc.ObjectEncoding(ctx, key).Result()
	if err != nil {
		return result{}, fmt.Errorf("OBJECT ENCODING %s: %w", key, err)
	}
	rssAfter, err := probe.RSS(pid)
	if err != nil {
		return result{}, err
	}
	rawUsed, err := probe.UsedMemory(ctx, rc)
	if err != nil {
		return result{}, err
	}
	if err := collect(ctx, rc); err != nil {
		return result{}, err
	}
	usedAfter, err := probe.UsedMemory(ctx, rc)
	if err != nil {
		return result{}, err
	}
	return result{
		load:          load,
		usedPerKey:    float64(usedAfter-usedBefore) / float64(n),
		rawUsedPerKey: float64(rawUsed-usedBefore) / float64(n),
		rssPerKey:     float64(rssAfter-rssBefore) / float64(n),
		encoding:      enc,
	}, nil
}

// collect makes the server collect its garbage before used_memory is
// read: a node's used_memory is its Go heap, which holds the load's dead
// objects until the next GC, while Redis's is exact. UNLINK of a big
// value frees it in the background, which in a node runs a full GC;
// lazyfree_pending_objects drops to 0 once it is done. Redis does the
// same work for nothing, so both are measured alike.
func collect(ctx context.Context, rc *redis.Client) error {
	fields := make([]any, 0, 2000)
	// More fields than hash-max-listpack-entries: a hash table, whose
	// free effort is high enough for a lazy free.
	for i := 0; i < 1000; i++ {
		fields = append(fields, "f"+strconv.Itoa(i), i)
	}
	if err := rc.HSet(ctx, "__hashmem_gc__", fields...).Err(); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	if err := rc.Unlink(ctx, "__hashmem_gc__").Err(); err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := rc.Info(ctx, "memory").Result()
		if err != nil {
			return fmt.Errorf("collect: %w", err)
		}
		if strings.Contains(info, "lazyfree_pending_objects:0\r\n") {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("collect: lazy free did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
