package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/node"
	"github.com/redis/go-redis/v9"
)

func TestHostStartsReconfiguresAndStopsShards(t *testing.T) {
	cp := newFakeCP(t)
	dir := t.TempDir()
	ports := freePorts(t, 2)
	a, b := desiredShard("sh_a", ports[0]), desiredShard("sh_b", ports[1])
	cp.setDesired(a, b)
	runHost(t, cp, dir)

	got := cp.waitShards("both shards serving", serving("sh_a", "sh_b"))
	if got["sh_a"].MaxMemory != 64<<20 || got["sh_a"].Port != ports[0] || got["sh_a"].Epoch != 1 {
		t.Errorf("status of sh_a = %+v", got["sh_a"])
	}
	// GOMEMLIMIT follows the hosted shards: 2 x 64 MiB plus headroom. The
	// heartbeat that reported them serving left after the reconcile that
	// started them, which sets the limit as its last step.
	if got, want := debug.SetMemoryLimit(-1), node.SetProcessMemoryLimit(128<<20); got != want {
		t.Errorf("GOMEMLIMIT = %d, want %d (the shards' maxmemory plus headroom)", got, want)
	}
	for _, d := range []wire.DesiredShard{a, b} {
		if _, err := pingWith(d.Port, ""); !isNoAuth(err) {
			t.Errorf("PING without AUTH on %s: err %v, want NOAUTH", d.ShardID, err)
		}
		if _, err := pingWith(d.Port, "wrong"); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
			t.Errorf("AUTH with a wrong password on %s: err %v, want WRONGPASS", d.ShardID, err)
		}
		if pong, err := pingWith(d.Port, d.Password); err != nil || pong != "PONG" {
			t.Errorf("PING after AUTH on %s = %q, %v", d.ShardID, pong, err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "shards", d.ShardID)); err != nil || !fi.IsDir() {
			t.Errorf("data dir of %s: %v", d.ShardID, err)
		}
	}

	// Reconfigure sh_a in place; remove sh_b.
	a.MaxMemory, a.EvictionPolicy, a.Password, a.Epoch = 32<<20, "volatile-ttl", "rotated", 2
	cp.setDesired(a)
	got = cp.waitShards("sh_a reconfigured and sh_b gone", func(m map[string]wire.ShardStatus) bool {
		_, bThere := m["sh_b"]
		return !bThere && m["sh_a"].MaxMemory == 32<<20 && m["sh_a"].Epoch == 2
	})
	if got["sh_a"].Error != "" {
		t.Errorf("sh_a after reconfigure: %+v", got["sh_a"])
	}
	if _, err := pingWith(a.Port, "pw-sh_a"); err == nil {
		t.Error("the old password still authenticates after rotation")
	}
	if pong, err := pingWith(a.Port, "rotated"); err != nil || pong != "PONG" {
		t.Errorf("PING with the rotated password = %q, %v", pong, err)
	}
	if _, err := pingWith(b.Port, b.Password); !isRefused(err) {
		t.Errorf("removed shard sh_b still answers on its port: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "shards", "sh_b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data dir of removed shard: %v, want gone", err)
	}

	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Desired.Shards) != 1 || st.Desired.Shards[0] != a || st.NodeID != "node-n1" {
		t.Errorf("state.json = %+v, want only the reconfigured sh_a", st)
	}
	if fi, err := os.Stat(filepath.Join(dir, stateFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode: %v %v, want 0600 (it holds passwords)", fi.Mode(), err)
	}
}

func TestHostResumesFromStateWhileControlPlaneIsDown(t *testing.T) {
	cp := newFakeCP(t)
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	d := desiredShard("sh_r", port)
	cp.setDesired(d)
	_, stop := runHost(t, cp, dir)
	cp.waitShards("shard serving", serving("sh_r"))
	stop()
	if _, err := pingWith(port, d.Password); !isRefused(err) {
		t.Fatalf("shard still answers after the host stopped: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "shards", "sh_r")); err != nil {
		t.Fatalf("a stopping host must keep shard data: %v", err)
	}

	cp.setDown(true)
	h, _ := runHost(t, cp, dir)
	eventually(t, "the shard back on its port from state.json", func() error {
		_, err := pingWith(port, d.Password)
		return err
	})
	if h.NodeID() != "node-n1" {
		t.Errorf("node id from state = %q", h.NodeID())
	}
	// The control plane returns: the host registers and reports.
	cp.setDown(false)
	cp.waitShards("the resumed shard reported", serving("sh_r"))
}

func TestHostKeepsServingThroughControlPlaneOutage(t *testing.T) {
	cp := newFakeCP(t)
	ports := freePorts(t, 2)
	a := desiredShard("sh_o", ports[0])
	cp.setDesired(a)
	runHost(t, cp, t.TempDir())
	cp.waitShards("shard serving", serving("sh_o"))

	cp.setDown(true)
	cp.waitFor("several refused attempts", func(cp *fakeCP) bool { return cp.refused >= 4 })
	if pong, err := pingWith(a.Port, a.Password); err != nil || pong != "PONG" {
		t.Fatalf("PING during the outage = %q, %v", pong, err)
	}

	// The control plane comes back with more work.
	b := desiredShard("sh_p", ports[1])
	cp.setDesired(a, b)
	cp.setDown(false)
	cp.waitShards("both shards after the outage", serving("sh_o", "sh_p"))
	if pong, err := pingWith(b.Port, b.Password); err != nil || pong != "PONG" {
		t.Errorf("PING on the shard added after the outage = %q, %v", pong, err)
	}
}

func TestHostReconcileIsIdempotent(t *testing.T) {
	cp := newFakeCP(t)
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	d := desiredShard("sh_i", port)
	cp.setDesired(d)
	h, _ := runHost(t, cp, dir)
	cp.waitShards("shard serving", serving("sh_i"))

	h.mu.Lock()
	srv := h.shards["sh_i"].srv
	h.mu.Unlock()
	if _, err := pingWith(port, d.Password); err != nil {
		t.Fatal(err)
	}
	opsBefore := srv.Status().TotalCommands
	st1, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	beats := 0
	cp.waitFor("more heartbeats", func(cp *fakeCP) bool {
		if beats == 0 {
			beats = cp.beats
		}
		return cp.beats >= beats+3
	})
	if h.reconcile() {
		t.Error("reconcile with an unchanged desired state reported a change")
	}
	h.mu.Lock()
	same := h.shards["sh_i"].srv == srv
	h.mu.Unlock()
	if !same {
		t.Error("reconcile restarted an engine whose desired state did not change")
	}
	if ops := srv.Status().TotalCommands; ops < opsBefore {
		t.Errorf("op counter went back from %d to %d: the engine was replaced", opsBefore, ops)
	}
	st2, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("state.json rewritten although the desired state did not change")
	}
}

func TestHostReportsPortInUseAndRecovers(t *testing.T) {
	cp := newFakeCP(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	d := desiredShard("sh_busy", port)
	cp.setDesired(d)
	runHost(t, cp, t.TempDir())
	got := cp.waitShards("a start error", func(m map[string]wire.ShardStatus) bool { return m["sh_busy"].Error != "" })
	if s := got["sh_busy"]; !strings.Contains(s.Error, "address already in use") || s.Role != "" {
		t.Errorf("status with the port taken = %+v", s)
	}
	ln.Close()
	cp.waitShards("shard serving once the port is free", serving("sh_busy"))
	if pong, err := pingWith(port, d.Password); err != nil || pong != "PONG" {
		t.Errorf("PING = %q, %v", pong, err)
	}
}

func TestHostRefusesBadDesiredShards(t *testing.T) {
	ports := freePorts(t, 2)
	good := desiredShard("sh_ok", ports[0])
	mod := func(f func(*wire.DesiredShard)) wire.DesiredShard {
		d := desiredShard("sh_bad", ports[1])
		f(&d)
		return d
	}
	tests := []struct {
		name    string
		shard   wire.DesiredShard
		wantErr string
	}{
		{"path in id", mod(func(d *wire.DesiredShard) { d.ShardID = "../../etc" }), "shard id"},
		{"empty id", mod(func(d *wire.DesiredShard) { d.ShardID = "" }), "shard id"},
		{"port below range", mod(func(d *wire.DesiredShard) { d.Port = 80 }), "outside this node's range"},
		{"port of another shard", mod(func(d *wire.DesiredShard) { d.Port = good.Port }), "also desired for shard sh_ok"},
		{"no password", mod(func(d *wire.DesiredShard) { d.Password = "" }), "no internal password"},
		{"unknown policy", mod(func(d *wire.DesiredShard) { d.EvictionPolicy = "lru" }), "maxmemory-policy"},
		{"unknown persistence", mod(func(d *wire.DesiredShard) { d.Persistence = "sometimes" }), "persistence"},
		{"negative maxmemory", mod(func(d *wire.DesiredShard) { d.MaxMemory = -1 }), "negative"},
		{"unknown role", mod(func(d *wire.DesiredShard) { d.Role = "leader" }), "role"},
		{"replica without primary", mod(func(d *wire.DesiredShard) { d.Role = "replica" }), "replica_of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp := newFakeCP(t)
			dir := t.TempDir()
			cp.setDesired(good, tc.shard)
			runHost(t, cp, dir)
			got := cp.waitShards("an error for the bad shard", func(m map[string]wire.ShardStatus) bool {
				return m[tc.shard.ShardID].Error != "" && serving("sh_ok")(m)
			})
			if s := got[tc.shard.ShardID]; !strings.Contains(s.Error, tc.wantErr) || s.Role != "" {
				t.Errorf("status = %+v, want an error containing %q and no role", s, tc.wantErr)
			}
			ents, err := os.ReadDir(filepath.Join(dir, "shards"))
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != 1 || ents[0].Name() != "sh_ok" {
				t.Errorf("shard dirs = %v, want only sh_ok", ents)
			}
		})
	}
}

func TestHostKeepsRunningShardOnBadUpdate(t *testing.T) {
	cp := newFakeCP(t)
	port := freePorts(t, 1)[0]
	d := desiredShard("sh_u", port)
	cp.setDesired(d)
	runHost(t, cp, t.TempDir())
	cp.waitShards("shard serving", serving("sh_u"))
	bad := d
	bad.EvictionPolicy = "most-lru"
	cp.setDesired(bad)
	got := cp.waitShards("the update refused", func(m map[string]wire.ShardStatus) bool { return m["sh_u"].Error != "" })
	if s := got["sh_u"]; s.Role != "primary" || !strings.Contains(s.Error, "maxmemory-policy") {
		t.Errorf("status = %+v, want still primary with the refusal", s)
	}
	if pong, err := pingWith(port, d.Password); err != nil || pong != "PONG" {
		t.Errorf("PING after a refused update = %q, %v", pong, err)
	}
}

func TestHostRunsReplicaAndPromotesIt(t *testing.T) {
	cp := newFakeCP(t)
	ports := freePorts(t, 2)
	p := desiredShard("sh_p", ports[0])
	r := desiredShard("sh_r", ports[1])
	// A database's shards share its password: the replica uses it as
	// masterauth, as the primary's requirepass.
	r.Password = p.Password
	r.Role, r.ReplicaOf = "replica", fmt.Sprintf("127.0.0.1:%d", ports[0])
	cp.setDesired(p, r)
	runHost(t, cp, t.TempDir())
	cp.waitShards("a primary and a replica", func(m map[string]wire.ShardStatus) bool {
		return m["sh_p"].Role == "primary" && m["sh_r"].Role == "replica" && m["sh_r"].Error == ""
	})
	ctx := context.Background()
	prim := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), Password: p.Password, Protocol: 2})
	defer prim.Close()
	repl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", ports[1]), Password: p.Password, Protocol: 2})
	defer repl.Close()
	if err := prim.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on the primary: %v", err)
	}
	// The write reaches the replica and its offset is reported.
	got := cp.waitShards("the replica caught up", func(m map[string]wire.ShardStatus) bool {
		return m["sh_r"].ReplOffset > 0 && m["sh_r"].ReplOffset == m["sh_p"].ReplOffset
	})
	if v, err := repl.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET on the replica = %q, %v; want v (status %+v)", v, err, got["sh_r"])
	}
	if err := repl.Set(ctx, "k2", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Errorf("SET on the replica = %v, want READONLY", err)
	}
	// Promoted by the control plane: it keeps the data and takes writes.
	r.Role, r.ReplicaOf = "primary", ""
	cp.setDesired(p, r)
	cp.waitShards("the replica promoted", serving("sh_p", "sh_r"))
	if err := repl.Set(ctx, "k2", "x", 0).Err(); err != nil {
		t.Errorf("SET on the promoted replica: %v", err)
	}
	if v, err := repl.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET k on the promoted replica = %q, %v", v, err)
	}
}

func TestHostRestartsExitedEngine(t *testing.T) {
	cp := newFakeCP(t)
	port := freePorts(t, 1)[0]
	d := desiredShard("sh_x", port)
	cp.setDesired(d)
	h, _ := runHost(t, cp, t.TempDir())
	cp.waitShards("shard serving", serving("sh_x"))
	h.mu.Lock()
	old := h.shards["sh_x"]
	srv := old.srv
	old.stop() // as if the engine had shut down on its own
	h.mu.Unlock()
	<-srv.Done()
	eventually(t, "a new engine for the shard", func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if sh := h.shards["sh_x"]; sh.srv == srv || !sh.running() {
			return fmt.Errorf("not restarted yet (last error: %v)", sh.err)
		}
		return nil
	})
	if pong, err := pingWith(port, d.Password); err != nil || pong != "PONG" {
		t.Errorf("PING after restart = %q, %v", pong, err)
	}
}

func TestHostReregistersWhenForgotten(t *testing.T) {
	cp := newFakeCP(t)
	runHost(t, cp, t.TempDir())
	cp.waitFor("a heartbeat", func(cp *fakeCP) bool { return cp.beats > 0 })
	cp.mu.Lock()
	cp.forget = true
	cp.mu.Unlock()
	cp.waitFor("a second registration", func(cp *fakeCP) bool { return cp.registers >= 2 && !cp.forget && cp.beats > 1 })
}

func TestHostDeletesStrayShardDirs(t *testing.T) {
	cp := newFakeCP(t)
	dir := t.TempDir()
	stray := filepath.Join(dir, "shards", "sh_gone")
	if err := os.MkdirAll(stray, 0o700); err != nil {
		t.Fatal(err)
	}
	// A lost state must not delete anything before the control plane
	// answers.
	cp.setDown(true)
	runHost(t, cp, dir)
	cp.waitFor("an attempt", func(cp *fakeCP) bool { return cp.refused >= 1 })
	if _, err := os.Stat(stray); err != nil {
		t.Fatalf("stray dir deleted before the control plane answered: %v", err)
	}
	cp.setDown(false)
	cp.waitFor("a heartbeat", func(cp *fakeCP) bool { return cp.beats >= 2 })
	if _, err := os.Stat(stray); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stray shard dir after the control plane answered: %v, want deleted", err)
	}
}

func TestLoadStateMovesCorruptFileAside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(dir)
	if err == nil || len(st.Desired.Shards) != 0 {
		t.Fatalf("loadState of a corrupt file = %+v, %v", st, err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, stateFile+".bad-*"))
	if len(matches) != 1 {
		t.Errorf("corrupt file moved to %v", matches)
	}
	want := state{ControlPlane: "http://x", Desired: wire.NodeDesired{Shards: []wire.DesiredShard{desiredShard("a", 7000)}}}
	if err := saveState(dir, want); err != nil {
		t.Fatal(err)
	}
	st, err = loadState(dir)
	if err != nil || len(st.Desired.Shards) != 1 || st.Desired.Shards[0] != want.Desired.Shards[0] {
		t.Errorf("round trip = %+v, %v", st, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, stateFile))
	var raw map[string]any
	if json.Unmarshal(b, &raw) != nil || raw["version"] != float64(stateVersion) {
		t.Errorf("state.json has no version: %s", b)
	}
}

// eventually polls cond until it returns nil or a deadline passes; for
// conditions outside the fake control plane's view (a port answering).
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		<-tick.C
	}
}
