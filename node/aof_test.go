package node

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func waitRewrite(t *testing.T, rc *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Contains(rc.Info(context.Background(), "persistence").Val(), "aof_rewrite_in_progress:1") {
		if time.Now().After(deadline) {
			t.Fatal("AOF rewrite did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAOFEnableLoadRestart(t *testing.T) {
	s, rc := testServer(t, debugOn)
	ctx := context.Background()
	populate(t, rc)
	if err := rc.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	// Writes right after the switch land in the new increment.
	rc.Set(ctx, "after", "1", time.Hour)
	rc.Incr(ctx, "counter")
	rc.Do(ctx, "select", 2)
	rc.LPush(ctx, "db2list", "x")
	rc.Do(ctx, "select", 0)
	waitRewrite(t, rc)
	want := digest(t, rc)
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, rc); got != want {
		t.Fatalf("after DEBUG LOADAOF %s, want %s", got, want)
	}
	dir := s.cfg.Dir
	man, err := os.ReadFile(filepath.Join(dir, "appendonlydir", "appendonly.aof.manifest"))
	if err != nil || !bytes.Contains(man, []byte("type b")) || !bytes.Contains(man, []byte("type i")) {
		t.Fatalf("manifest %q %v", man, err)
	}
	// A new server with appendonly yes loads the same dataset.
	cfg := DefaultConfig()
	cfg.Dir, cfg.AppendOnly = dir, true
	s2 := New(cfg, quietLog)
	if err := s2.LoadData(); err != nil {
		t.Fatal(err)
	}
	s2.mu.Lock()
	d := s2.datasetDigest()
	s2.aofStop()
	s2.mu.Unlock()
	if d.hex() != want {
		t.Fatalf("restart from AOF %s, want %s", d.hex(), want)
	}
	if check, err := exec.LookPath("redis-check-aof"); err == nil {
		out, err := exec.Command(check, filepath.Join(dir, "appendonlydir", "appendonly.aof.manifest")).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("valid")) {
			t.Fatalf("redis-check-aof: %v\n%s", err, out)
		}
	}
}

// TestAOFRewriteUnderWrites checks that base + new increment after a
// rewrite equal the dataset while writers ran during it.
func TestAOFRewriteUnderWrites(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { debugOn(c); c.AppendFsync = "always" })
	ctx := context.Background()
	p := rc.Pipeline()
	for i := range 20000 {
		p.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
	}
	p.Exec(ctx)
	if err := rc.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	waitRewrite(t, rc)
	var wg sync.WaitGroup
	var once sync.Once
	stop, started := make(chan struct{}), make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, s, 2)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("k%d", (i*31+w*7)%20000)
				if i%3 == 0 {
					c.Del(ctx, k)
				} else {
					c.Append(ctx, k, "x")
				}
				once.Do(func() { close(started) })
			}
		}()
	}
	<-started // the rewrite must overlap the writers
	if err := rc.Do(ctx, "bgrewriteaof").Err(); err != nil {
		t.Fatal(err)
	}
	waitRewrite(t, rc)
	close(stop)
	wg.Wait()
	want := digest(t, rc)
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, rc); got != want {
		t.Fatalf("after rewrite and reload %s, want %s", got, want)
	}
	// appendfsync always: an acknowledged write is in the file already.
	rc.Set(ctx, "acked", "yes", 0)
	files, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "appendonlydir", "*.incr.aof"))
	var all []byte
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("$5\r\nacked\r\n$3\r\nyes\r\n")) {
		t.Fatal("acknowledged write not in the AOF")
	}
}

func TestAOFTruncatedAndCorrupt(t *testing.T) {
	s, rc := testServer(t, debugOn)
	ctx := context.Background()
	rc.ConfigSet(ctx, "appendonly", "yes")
	waitRewrite(t, rc)
	rc.Set(ctx, "a", "1", 0)
	want := digest(t, rc)
	files, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "appendonlydir", "*.incr.aof"))
	if len(files) != 1 {
		t.Fatalf("incr files %v", files)
	}
	appendTo := func(b string) {
		f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(b)
		f.Close()
	}
	torn := "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$5\r\nab"
	appendTo(torn)
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatalf("aof-load-truncated yes: %v", err)
	}
	if got := digest(t, rc); got != want {
		t.Fatalf("after truncated load %s, want %s", got, want)
	}
	rc.ConfigSet(ctx, "aof-load-truncated", "no")
	appendTo(torn)
	err := rc.Do(ctx, "debug", "loadaof").Err()
	if err == nil || !strings.Contains(err.Error(), ".incr.aof at offset") {
		t.Fatalf("truncated with aof-load-truncated no: %v", err)
	}
	appendTo("garbage\r\n")
	err = rc.Do(ctx, "debug", "loadaof").Err()
	if err == nil || !strings.Contains(err.Error(), "bad file format") {
		t.Fatalf("garbage: %v", err)
	}
}

func TestAOFAutoRewrite(t *testing.T) {
	_, rc := testServer(t, debugOn)
	ctx := context.Background()
	rc.ConfigSet(ctx, "auto-aof-rewrite-min-size", "1")
	rc.ConfigSet(ctx, "auto-aof-rewrite-percentage", "100")
	rc.ConfigSet(ctx, "appendonly", "yes")
	waitRewrite(t, rc)
	before := rc.Info(ctx, "persistence").Val()
	for i := range 200 {
		rc.Set(ctx, fmt.Sprintf("k%d", i), strings.Repeat("v", 100), 0)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(rc.Info(ctx, "persistence").Val(), "aof_rewrites:2") {
		if time.Now().After(deadline) {
			t.Fatalf("no automatic rewrite; before: %s\nnow: %s", before, rc.Info(ctx, "persistence").Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitRewrite(t, rc)
	want := digest(t, rc)
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, rc); got != want {
		t.Fatalf("after auto rewrite %s, want %s", got, want)
	}
}

// TestAOFWriteErrorMisconf checks that a failed AOF write refuses writes
// with Redis's -MISCONF until cron's retry gets the buffered commands
// into the file, and that nothing is lost on the way.
func TestAOFWriteErrorMisconf(t *testing.T) {
	s, rc := testServer(t, debugOn)
	ctx := context.Background()
	if err := rc.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	waitRewrite(t, rc)
	rc.Set(ctx, "before", "1", 0)
	// Swap the increment's handle for a read-only one: writes fail with
	// EBADF as they would on a full or broken disk.
	s.mu.Lock()
	st := s.aof()
	good := st.f
	ro, err := os.Open(good.Name())
	if err != nil {
		s.mu.Unlock()
		t.Fatal(err)
	}
	st.f = ro
	s.mu.Unlock()
	// This write runs (and is answered) but cannot reach the file.
	if err := rc.Set(ctx, "during", "2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err = rc.Set(ctx, "refused", "3", 0).Err()
	if err == nil || err.Error() != "MISCONF Errors writing to the AOF file: Bad file descriptor" {
		t.Fatalf("SET while the AOF fails: %v", err)
	}
	if v := rc.Get(ctx, "before").Val(); v != "1" {
		t.Fatalf("GET while the AOF fails: %q", v)
	}
	if info := rc.Info(ctx, "persistence").Val(); !strings.Contains(info, "aof_last_write_status:err") {
		t.Fatalf("INFO:\n%s", info)
	}
	s.mu.Lock()
	st.f = good
	s.mu.Unlock()
	ro.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rc.Set(ctx, "after", "4", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("writes still refused after the AOF recovered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"before": "1", "during": "2", "refused": "", "after": "4"} {
		if got := rc.Get(ctx, k).Val(); got != want {
			t.Errorf("after DEBUG LOADAOF %s=%q, want %q", k, got, want)
		}
	}
}

// TestAOFWithoutPreamble checks aof-use-rdb-preamble no: the rewrite's
// base is RESP (SET/RPUSH/SADD/ZADD/HMSET/PEXPIREAT, FUNCTION LOAD),
// named .base.aof; it loads back into the node and into redis-server
// with the same digest, and redis-check-aof accepts it.
func TestAOFWithoutPreamble(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { debugOn(c); c.AOFUseRDBPreamble = false })
	ctx := context.Background()
	populate(t, rc)
	lib := "#!lua name=nopre\nredis.register_function('f7', function(keys, args) return 7 end)"
	if err := rc.FunctionLoad(ctx, lib).Err(); err != nil {
		t.Fatal(err)
	}
	rc.ZAdd(ctx, "zset:inf", redis.Z{Score: math.Inf(1), Member: "top"}, redis.Z{Score: math.Inf(-1), Member: "bottom"}, redis.Z{Score: 0.1, Member: "tenth"})
	if err := rc.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	waitRewrite(t, rc)
	rc.Set(ctx, "after", "1", 0) // into the increment
	want := digest(t, rc)
	dir := filepath.Join(s.cfg.Dir, "appendonlydir")
	base, err := os.ReadFile(filepath.Join(dir, "appendonly.aof.1.base.aof"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"*", "$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n", "$5\r\nRPUSH\r\n$8\r\nlist:big\r\n", "$4\r\nZADD\r\n", "$5\r\nHMSET\r\n", "$4\r\nSADD\r\n", "$9\r\nPEXPIREAT\r\n$7\r\nhash:lp\r\n", "$6\r\nSELECT\r\n$1\r\n3\r\n"} {
		if !bytes.Contains(base, []byte(w)) {
			t.Errorf("base lacks %q", w)
		}
	}
	if bytes.HasPrefix(base, []byte("REDIS")) {
		t.Fatal("base has the RDB preamble")
	}
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, rc); got != want {
		t.Fatalf("after DEBUG LOADAOF %s, want %s", got, want)
	}
	if v, err := rc.FCall(ctx, "f7", nil).Int(); err != nil || v != 7 {
		t.Fatalf("function after reload: %v %v", v, err)
	}
	if check, err := exec.LookPath("redis-check-aof"); err == nil {
		out, err := exec.Command(check, filepath.Join(dir, "appendonly.aof.manifest")).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("valid")) {
			t.Fatalf("redis-check-aof: %v\n%s", err, out)
		}
	}
	// Redis loads the same directory.
	rdir := t.TempDir()
	if err := os.CopyFS(filepath.Join(rdir, "appendonlydir"), os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	ref := redisWithDir(t, rdir, "--appendonly", "yes")
	if got := digest(t, ref); got != want {
		t.Fatalf("redis-server loaded the node's AOF: digest %s, want %s", got, want)
	}
	// Turning the preamble back on makes the next base an RDB again.
	rc.ConfigSet(ctx, "aof-use-rdb-preamble", "yes")
	if err := rc.Do(ctx, "bgrewriteaof").Err(); err != nil {
		t.Fatal(err)
	}
	waitRewrite(t, rc)
	if b, err := os.ReadFile(filepath.Join(dir, "appendonly.aof.2.base.rdb")); err != nil || !bytes.HasPrefix(b, []byte("REDIS")) {
		t.Fatalf("second base: %v", err)
	}
	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, rc); got != want {
		t.Fatalf("after the second rewrite %s, want %s", got, want)
	}
}

// TestAOFWithoutPreambleStreams: without the RDB preamble a stream is
// rewritten as Redis 7.0's rewriteStreamObject does (XADD per live entry,
// XSETID, then groups, consumers and PELs), and both the node and
// redis-server 7.0 load it back to the same stream.
func TestAOFWithoutPreambleStreams(t *testing.T) {
	s, rc := testServer(t, func(c *Config) { debugOn(c); c.AOFUseRDBPreamble = false })
	ctx := context.Background()
	do := func(args ...any) {
		t.Helper()
		if err := rc.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	// Enough entries for several listpack nodes, some deleted (the first,
	// a middle one and the last, so the last ID is no live entry's).
	for i := 1; i <= 300; i++ {
		do("XADD", "st", fmt.Sprintf("%d-%d", 1000+i/7, i), "f", i, "g", strings.Repeat("v", i%13))
	}
	do("XDEL", "st", "1000-1", "1021-150", "1042-300")
	do("XGROUP", "CREATE", "st", "g1", "0")
	do("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 5, "STREAMS", "st", ">")
	do("XREADGROUP", "GROUP", "g1", "bob", "COUNT", 3, "STREAMS", "st", ">")
	do("XACK", "st", "g1", "1000-2")
	do("XCLAIM", "st", "g1", "bob", 0, "1000-3") // delivery count 2
	do("XGROUP", "CREATECONSUMER", "st", "g1", "carol")
	do("XGROUP", "CREATE", "st", "g2", "$", "ENTRIESREAD", 297)
	do("XGROUP", "CREATE", "st", "g3", "1010-70")
	// An empty stream whose last ID survives, with a group; another
	// never written (MKSTREAM); one with a TTL.
	do("XADD", "emptied", "5-5", "a", "b")
	do("XDEL", "emptied", "5-5")
	do("XGROUP", "CREATE", "emptied", "eg", "$")
	do("XGROUP", "CREATE", "mk", "mg", "$", "MKSTREAM")
	do("XADD", "ttl", "*", "k", "v")
	do("PEXPIRE", "ttl", 3600000)
	keys := []string{"st", "emptied", "mk", "ttl"}

	// seen-time is when a consumer was last active, which a command
	// rewrite cannot carry (Redis's neither): the loader's XCLAIM and
	// CREATECONSUMER make it the load time.
	var mask func(v any) any
	mask = func(v any) any {
		l, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(l))
		for i := range l {
			out[i] = mask(l[i])
			if i > 0 && l[i-1] == "seen-time" {
				out[i] = "masked"
			}
		}
		return out
	}
	full := func(c *redis.Client) map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, k := range keys {
			v, err := c.Do(ctx, "XINFO", "STREAM", k, "FULL").Result()
			if err != nil {
				t.Fatalf("XINFO STREAM %s FULL: %v", k, err)
			}
			dv, err := c.Do(ctx, "DEBUG", "DIGEST-VALUE", k).Result()
			if err != nil {
				t.Fatalf("DEBUG DIGEST-VALUE %s: %v", k, err)
			}
			m[k] = fmt.Sprint(mask(v), " digest ", dv)
		}
		return m
	}
	want := full(rc)
	wantDigest := digest(t, rc)

	if err := rc.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	waitRewrite(t, rc)
	dir := filepath.Join(s.cfg.Dir, "appendonlydir")
	base, err := os.ReadFile(filepath.Join(dir, "appendonly.aof.1.base.aof"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"$4\r\nXADD\r\n$2\r\nst\r\n$6\r\n1000-2\r\n$1\r\nf\r\n$1\r\n2\r\n",
		"$4\r\nXADD\r\n$7\r\nemptied\r\n$6\r\nMAXLEN\r\n$1\r\n0\r\n$3\r\n0-1\r\n$1\r\nx\r\n$1\r\ny\r\n",
		"$6\r\nXSETID\r\n$2\r\nst\r\n$8\r\n1042-300\r\n$12\r\nENTRIESADDED\r\n$3\r\n300\r\n$12\r\nMAXDELETEDID\r\n$8\r\n1042-300\r\n",
		"$6\r\nXGROUP\r\n$6\r\nCREATE\r\n$2\r\nst\r\n$2\r\ng2\r\n$8\r\n1042-300\r\n$11\r\nENTRIESREAD\r\n$3\r\n297\r\n",
		"$6\r\nXGROUP\r\n$14\r\nCREATECONSUMER\r\n$2\r\nst\r\n$2\r\ng1\r\n$5\r\ncarol\r\n",
		"$10\r\nRETRYCOUNT\r\n$1\r\n2\r\n",
		"$9\r\nPEXPIREAT\r\n$3\r\nttl\r\n",
	} {
		if !bytes.Contains(base, []byte(w)) {
			t.Errorf("base lacks %q", w)
		}
	}
	if bytes.Contains(base, []byte("RESTORE")) || bytes.Contains(base, []byte("$6\r\n1000-1\r\n")) {
		t.Error("base has a RESTORE or the deleted entry 1000-1")
	}

	if err := rc.Do(ctx, "debug", "loadaof").Err(); err != nil {
		t.Fatal(err)
	}
	if got := full(rc); !maps.Equal(got, want) {
		t.Fatalf("after DEBUG LOADAOF:\n%v\nwant\n%v", got, want)
	}
	if got := digest(t, rc); got != wantDigest {
		t.Fatalf("digest after DEBUG LOADAOF %s, want %s", got, wantDigest)
	}
	if check, err := exec.LookPath("redis-check-aof"); err == nil {
		out, err := exec.Command(check, filepath.Join(dir, "appendonly.aof.manifest")).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("valid")) {
			t.Fatalf("redis-check-aof: %v\n%s", err, out)
		}
	}
	rdir := t.TempDir()
	if err := os.CopyFS(filepath.Join(rdir, "appendonlydir"), os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	o := redisWithDir(t, rdir, "--appendonly", "yes").Options()
	ref := redis.NewClient(&redis.Options{Network: o.Network, Addr: o.Addr, Protocol: 2}) // replies shaped as the node's
	t.Cleanup(func() { ref.Close() })
	if got := full(ref); !maps.Equal(got, want) {
		t.Fatalf("redis-server loaded the node's AOF:\n%v\nwant\n%v", got, want)
	}
	if got := digest(t, ref); got != wantDigest {
		t.Fatalf("redis-server digest %s, want %s", got, wantDigest)
	}
}
