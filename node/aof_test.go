package node

import (
	"bytes"
	"context"
	"fmt"
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
