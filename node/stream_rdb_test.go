package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/keyfleet/keyfleet/node/keyspace"
	"github.com/keyfleet/keyfleet/node/rdb"
	"github.com/redis/go-redis/v9"
)

var streamKeys = []string{"st:small", "st:nodes", "st:holes", "st:empty", "st:setid", "st:mixed"}

// populateStreams writes streams that exercise the listpack layout:
// several nodes, same and different field sets, integer fields and
// values, deleted entries, an emptied stream, XSETID's metadata.
func populateStreams(t testing.TB, rc *redis.Client) {
	t.Helper()
	ctx := context.Background()
	must := func(args ...any) {
		t.Helper()
		if err := rc.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	must("xadd", "st:small", "1-1", "f", "v")
	for i := 1; i <= 250; i++ {
		must("xadd", "st:nodes", strconv.Itoa(i)+"-"+strconv.Itoa(i%3), "name", "n"+strconv.Itoa(i), "n", strconv.Itoa(i*1000-7))
	}
	for i := 1; i <= 120; i++ {
		must("xadd", "st:holes", strconv.Itoa(1000+i), "a", strings.Repeat("x", i), "b", "-12")
	}
	for i := 3; i <= 120; i += 7 {
		must("xdel", "st:holes", strconv.Itoa(1000+i))
	}
	must("xadd", "st:empty", "5-5", "a", "1")
	must("xdel", "st:empty", "5-5")
	must("xadd", "st:setid", "7-7", "a", "1")
	must("xadd", "st:setid", "7-8", "a", "1")
	must("xdel", "st:setid", "7-7")
	must("xsetid", "st:setid", "99-0", "entriesadded", "10", "maxdeletedid", "50-0")
	for i := 1; i <= 40; i++ {
		args := []any{"xadd", "st:mixed", strconv.Itoa(i)}
		for j := 0; j <= i%4; j++ {
			args = append(args, strconv.Itoa(j*j), strconv.Itoa(i-j))
		}
		must(args...)
	}
	must("xtrim", "st:mixed", "maxlen", "33")
}

// streamState is what must survive a save and load: entries and the
// XINFO STREAM metadata.
func streamState(t testing.TB, rc *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, k := range streamKeys {
		r, err := rc.Do(ctx, "xrange", k, "-", "+").Result()
		if err != nil {
			t.Fatalf("xrange %s: %v", k, err)
		}
		info, err := rc.Do(ctx, "xinfo", "stream", k).Result()
		if err != nil {
			t.Fatalf("xinfo %s: %v", k, err)
		}
		// As a map whatever the protocol (fmt prints maps sorted).
		m := map[string]any{}
		switch x := info.(type) {
		case []any:
			for i := 0; i+1 < len(x); i += 2 {
				m[fmt.Sprint(x[i])] = x[i+1]
			}
		case map[any]any:
			for f, v := range x {
				m[fmt.Sprint(f)] = v
			}
		}
		fmt.Fprintf(&b, "%s %v %v\n", k, r, m)
	}
	return b.String()
}

func TestStreamRDBInteropWithRedis(t *testing.T) {
	ctx := context.Background()
	rdir := t.TempDir()
	ref := redisWithDir(t, rdir)
	s, rc := testServer(t, debugOn)
	populateStreams(t, ref)
	populateStreams(t, rc)
	want := streamState(t, ref)
	if got := streamState(t, rc); got != want {
		t.Fatalf("node and redis differ before any save:\nnode  %s\nredis %s", got, want)
	}
	wantDigest := digest(t, ref)
	if got := digest(t, rc); got != wantDigest {
		t.Fatalf("DEBUG DIGEST node %s, redis %s", got, wantDigest)
	}
	// Redis's file into the node.
	if err := ref.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	theirs, _ := os.ReadFile(filepath.Join(rdir, "dump.rdb"))
	os.WriteFile(filepath.Join(s.cfg.Dir, "dump.rdb"), theirs, 0o644)
	if err := rc.Do(ctx, "debug", "reload", "nosave").Err(); err != nil {
		t.Fatal(err)
	}
	if got := streamState(t, rc); got != want {
		t.Fatalf("node loaded redis's file:\n%s\nwant\n%s", got, want)
	}
	// Appending after the load continues Redis's nodes.
	for _, c := range []*redis.Client{ref, rc} {
		c.Do(ctx, "xadd", "st:nodes", "300-0", "name", "x", "n", "1")
		c.Do(ctx, "xadd", "st:holes", "2000", "other", "field")
	}
	want = streamState(t, ref)
	if got := streamState(t, rc); got != want {
		t.Fatalf("after appending to loaded streams:\n%s\nwant\n%s", got, want)
	}
	// The node's file into Redis, through redis-check-rdb first; the
	// listpacks are Redis's layout, so the files match byte for byte.
	if err := rc.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(s.cfg.Dir, "dump.rdb")
	if check, err := exec.LookPath("redis-check-rdb"); err == nil {
		out, err := exec.Command(check, ours).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("RDB looks OK")) {
			t.Fatalf("redis-check-rdb: %v\n%s", err, out)
		}
	}
	b, _ := os.ReadFile(ours)
	os.WriteFile(filepath.Join(rdir, "dump.rdb"), b, 0o644)
	if err := ref.Do(ctx, "debug", "reload", "nosave").Err(); err != nil {
		t.Fatal(err)
	}
	if got := streamState(t, ref); got != want {
		t.Fatalf("redis loaded the node's file:\n%s\nwant\n%s", got, want)
	}
}

func TestStreamDumpInteropWithRedis(t *testing.T) {
	ctx := context.Background()
	ref := redisWithDir(t, t.TempDir())
	_, rc := testServer(t, debugOn)
	populateStreams(t, ref)
	populateStreams(t, rc)
	for _, k := range streamKeys {
		theirs, err := ref.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		ours, err := rc.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if theirs != ours {
			t.Errorf("%s: DUMP payloads differ:\nnode  %x\nredis %x", k, ours, theirs)
		}
		for _, c := range []struct {
			name    string
			into    *redis.Client
			payload string
		}{{"redis→node", rc, theirs}, {"node→redis", ref, ours}} {
			if err := c.into.RestoreReplace(ctx, k+":r", 0, c.payload).Err(); err != nil {
				t.Fatalf("%s %s: %v", c.name, k, err)
			}
			a := c.into.Do(ctx, "xrange", k, "-", "+").Val()
			b := c.into.Do(ctx, "xrange", k+":r", "-", "+").Val()
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%s %s: restored %v, want %v", c.name, k, b, a)
			}
		}
	}
}

// TestStreamRestoreCorrupt feeds truncated and bit-flipped DUMP payloads
// of a stream to RESTORE with deep sanitization: each is refused or
// loads, and the server keeps answering.
func TestStreamRestoreCorrupt(t *testing.T) {
	ctx := context.Background()
	_, rc := testServer(t, func(c *Config) { c.EnableDebugCommand = "yes"; c.SanitizeDumpPayload = "yes" })
	populateStreams(t, rc)
	payload, err := rc.Dump(ctx, "st:holes").Result()
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := 0; i < len(payload)-10; i += 3 {
		for _, p := range []string{payload[:i], flip(payload, i)} {
			err := rc.RestoreReplace(ctx, "bad", 0, p).Err()
			if err != nil {
				refused++
				continue
			}
			// Whatever loaded must be walkable.
			if err := rc.Do(ctx, "xrevrange", "bad", "+", "-").Err(); err != nil {
				t.Fatalf("restored payload unreadable: %v", err)
			}
		}
	}
	if refused == 0 {
		t.Fatal("no corrupt payload was refused")
	}
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func flip(s string, i int) string {
	b := []byte(s)
	b[i] ^= 0x5a
	return string(b)
}

// FuzzStreamRestore decodes mutated DUMP payloads of streams, with and
// without deep sanitization: never a panic, and what loads is walkable.
func FuzzStreamRestore(f *testing.F) {
	_, rc := testServer(f, nil)
	populateStreams(f, rc)
	for _, k := range []string{"st:small", "st:holes", "st:setid", "st:mixed"} {
		f.Add([]byte(rc.Dump(context.Background(), k).Val()), false)
	}
	s := New(DefaultConfig(), quietLog)
	f.Fuzz(func(t *testing.T, p []byte, deep bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.debugState().skipChecksumValidation = true
		o, msg := s.decodePayload(p, deep)
		if msg != "" || o.Type != keyspace.TypeStream {
			return
		}
		st := streamOf(&o)
		for _, rev := range []bool{false, true} {
			it := st.iter(streamID{}, maxStreamID, rev)
			for {
				if _, _, ok := it.next(); !ok {
					break
				}
			}
		}
	})
}

// TestStreamLoadType15 restores a stream in Redis 6's encoding (RDB type
// 15: no first ID, max deleted ID or entries added), which Redis 7.0
// derives on load.
func TestStreamLoadType15(t *testing.T) {
	ctx := context.Background()
	s, rc := testServer(t, nil)
	for i := 1; i <= 150; i++ {
		rc.Do(ctx, "xadd", "s", strconv.Itoa(i), "f", strconv.Itoa(i))
	}
	rc.Do(ctx, "xdel", "s", "1", "2", "77")
	var buf bytes.Buffer
	w := rdb.NewWriter(&buf, false)
	s.mu.Lock()
	o, _ := s.dbs[0].ks.Lookup([]byte("s"))
	st := streamOf(o)
	w.Byte(rdb.TypeStreamListpacks)
	w.Len(uint64(len(st.entries.Nodes())))
	for _, nd := range st.entries.Nodes() {
		w.String(nd.Master.Encode(nil))
		w.String(nd.LP)
	}
	w.Len(st.length)
	w.Len(st.lastID.ms)
	w.Len(st.lastID.seq)
	w.Len(0) // groups
	s.mu.Unlock()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Restore(ctx, "old", 0, string(rdb.Payload(buf.Bytes()))).Err(); err != nil {
		t.Fatal(err)
	}
	if a, b := rc.Do(ctx, "xrange", "s", "-", "+").Val(), rc.Do(ctx, "xrange", "old", "-", "+").Val(); !reflect.DeepEqual(a, b) {
		t.Fatal("type 15 stream entries differ")
	}
	info := rc.Do(ctx, "xinfo", "stream", "old").Val().([]any)
	got := map[string]any{}
	for i := 0; i+1 < len(info); i += 2 {
		got[info[i].(string)] = info[i+1]
	}
	if got["entries-added"] != int64(147) || got["max-deleted-entry-id"] != "0-0" ||
		got["recorded-first-entry-id"] != "3-0" || got["last-generated-id"] != "150-0" {
		t.Fatalf("type 15 metadata %v", got)
	}
}
