package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/controlplane/pgtest"
	"github.com/keyfleet/keyfleet/internal/keyslot"
	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/node/host"
	"github.com/keyfleet/keyfleet/proxy"
)

// childNodeHostEnv, when set in the environment of this test binary, makes
// it a node host process (its value holds the host's flags, separated by
// newlines) instead of running tests: the chaos test kills and pauses
// whole node host processes, so they cannot live in the test's process.
const childNodeHostEnv = "KEYFLEET_E2E_CHILD_NODE_HOST"

// runChildNodeHost runs a node host when this binary was started as one;
// it returns only when it was not.
func runChildNodeHost() {
	spec := os.Getenv(childNodeHostEnv)
	if spec == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := host.Main(ctx, strings.Split(spec, "\n"), os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "node host:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// nodeProc is one node host running as a child process.
type nodeProc struct {
	t       *testing.T
	name    string
	args    []string
	logPath string
	ports   [2]int

	mu  sync.Mutex
	cmd *exec.Cmd
}

func (n *nodeProc) start() {
	n.t.Helper()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childNodeHostEnv+"="+strings.Join(n.args, "\n"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// A test binary that dies takes its node hosts with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		n.t.Fatal(err)
	}
	logf.Close()
	n.mu.Lock()
	n.cmd = cmd
	n.mu.Unlock()
}

// kill ends the process at once (SIGKILL), as a machine failure would.
func (n *nodeProc) kill() {
	n.mu.Lock()
	cmd := n.cmd
	n.cmd = nil
	n.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

func (n *nodeProc) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		n.cmd.Process.Signal(sig)
	}
}

func (n *nodeProc) logTail() string {
	b, _ := os.ReadFile(n.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// chaosPlatform is a control plane and a proxy in this process and three
// node hosts as child processes.
type chaosPlatform struct {
	*platform
	nodes  []*nodeProc
	dbURL  string
	pgURL  string
	admin  string // an administrator's access token
	dbID   string
	shards int
}

const (
	chaosHeartbeat       = 200 * time.Millisecond
	chaosFailoverTimeout = time.Second
)

func startChaosPlatform(t *testing.T) *chaosPlatform {
	t.Helper()
	if noPostgres != nil {
		t.Skipf("no Postgres binaries, skipping the chaos test (it fails instead under CI=true): %v", noPostgres)
	}
	if testing.Short() {
		t.Skip("the chaos test takes a minute; skipped with -short")
	}
	log := testLogger(t)
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := proxyLn.Addr().String()
	ready := make(chan controlplane.Env, 1)
	pgURL := pgtest.NewDB(t)
	opts := controlplane.Options{
		Listen:            "127.0.0.1:0",
		ProxyListen:       proxyAddr,
		ProxyEndpoint:     proxyAddr,
		DataDir:           t.TempDir(),
		DatabaseURL:       pgURL,
		EncryptionKey:     randomBytes(t, 32),
		JWTKey:            randomBytes(t, 32),
		NodeToken:         fmt.Sprintf("kfn_chaos_%x", randomBytes(t, 8)),
		ProxyToken:        fmt.Sprintf("kfp_chaos_%x", randomBytes(t, 8)),
		HeartbeatInterval: chaosHeartbeat,
		NodeTimeout:       10 * time.Second,
		FailoverTimeout:   chaosFailoverTimeout,
		FailoverInterval:  100 * time.Millisecond,
		ProvisionTimeout:  time.Minute,
		Log:               log.With("component", "controlplane"),
		Ready:             func(env controlplane.Env) { ready <- env },
	}
	cpDone, _ := start(t, "control plane", func(ctx context.Context) error { return controlplane.Run(ctx, opts) })
	var env controlplane.Env
	select {
	case env = <-ready:
	case <-cpDone:
		proxyLn.Close()
		t.Fatal("control plane stopped before serving")
	case <-time.After(60 * time.Second):
		proxyLn.Close()
		t.Fatal("control plane did not start in 60s")
	}
	cp := &chaosPlatform{platform: &platform{t: t, cpURL: env.ControlPlaneURL, proxyToken: opts.ProxyToken, proxyAddr: proxyAddr}, pgURL: pgURL}

	logDir := os.Getenv("KEYFLEET_E2E_ARTIFACTS")
	if logDir == "" {
		logDir = t.TempDir()
	}
	for i := 0; i < 3; i++ {
		lo, hi := freePortRange(t, 4)
		name := fmt.Sprintf("chaos-node-%d", i+1)
		n := &nodeProc{t: t, name: name, logPath: filepath.Join(logDir, name+".log"), ports: [2]int{lo, hi},
			args: []string{"--controlplane", env.ControlPlaneURL, "--node-token", opts.NodeToken, "--advertise", "127.0.0.1",
				"--ports", fmt.Sprintf("%d-%d", lo, hi), "--data-dir", t.TempDir(), "--memory-mb", "512", "--name", name}}
		n.start()
		t.Cleanup(n.kill)
		cp.nodes = append(cp.nodes, n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range cp.nodes {
				t.Logf("--- %s log (tail) ---\n%s", n.name, n.logTail())
			}
		}
	})
	px, err := proxy.New(proxy.Options{
		Listener:       proxyLn,
		ControlPlane:   env.ControlPlaneURL,
		ProxyToken:     opts.ProxyToken,
		ID:             "chaos-proxy",
		PollWait:       10 * time.Second,
		UsageInterval:  time.Minute,
		RequestTimeout: 3 * time.Second,
		DialTimeout:    500 * time.Millisecond,
		Logger:         log.With("component", "proxy"),
	})
	if err != nil {
		proxyLn.Close()
		t.Fatal(err)
	}
	start(t, "proxy", px.Serve)
	return cp
}

// makeAdmin signs up an account, makes it an administrator in Postgres
// (as an operator would) and logs it in again for a token with the role.
func (cp *chaosPlatform) makeAdmin(email string) string {
	t := cp.t
	t.Helper()
	const pw = "a long enough password"
	cp.signup(email, pw)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cp.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE accounts SET role = 'admin' WHERE lower(email) = lower($1)`, email); err != nil {
		t.Fatal(err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	cp.call("POST", "/v1/auth/login", "", map[string]string{"email": email, "password": pw}, http.StatusOK, &out)
	return out.AccessToken
}

type topoCopy struct {
	NodeID        string `json:"node_id"`
	Address       string `json:"address"`
	Role          string `json:"role"`
	Running       bool   `json:"running"`
	ReplOffset    int64  `json:"repl_offset"`
	LagBytes      int64  `json:"lag_bytes"`
	ReportedRole  string `json:"reported_role"`
	ReportedEpoch int64  `json:"reported_epoch"`
	LinkStatus    string `json:"link_status"`
	Error         string `json:"error"`
}

type topoShard struct {
	ID         string     `json:"id"`
	Index      int        `json:"index"`
	Epoch      int64      `json:"epoch"`
	Placements []topoCopy `json:"placements"`
}

func (cp *chaosPlatform) topology() []topoShard {
	var db struct {
		Topology []topoShard `json:"topology"`
	}
	cp.call("GET", "/v1/databases/"+cp.dbID, cp.admin, nil, http.StatusOK, &db)
	return db.Topology
}

// settled: every copy runs in its role at its shard's epoch, and every
// replica has synced and caught up with its primary.
func (cp *chaosPlatform) settled() (bool, string) {
	for _, sh := range cp.topology() {
		var primaryOffset int64
		for _, c := range sh.Placements {
			if c.Role == "primary" {
				primaryOffset = c.ReplOffset
			}
		}
		for _, c := range sh.Placements {
			switch {
			case !c.Running || c.ReportedRole != c.Role || c.ReportedEpoch != sh.Epoch:
				return false, fmt.Sprintf("shard %d %s on %s: running=%v reported %s@%d want @%d %s", sh.Index, c.Role, c.Address,
					c.Running, c.ReportedRole, c.ReportedEpoch, sh.Epoch, c.Error)
			case c.Role == "replica" && (c.ReplOffset <= 0 || c.ReplOffset+1<<20 < primaryOffset):
				return false, fmt.Sprintf("shard %d replica on %s at offset %d, primary at %d", sh.Index, c.Address, c.ReplOffset, primaryOffset)
			}
		}
	}
	return true, ""
}

func (cp *chaosPlatform) waitSettled(limit time.Duration) {
	t := cp.t
	t.Helper()
	var why string
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var ok bool
		if ok, why = cp.settled(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the database did not settle in %v: %s", limit, why)
}

// primaryNode returns the node process holding shard's primary.
func (cp *chaosPlatform) primaryOf(shard int) (*nodeProc, topoCopy) {
	for _, sh := range cp.topology() {
		if sh.Index != shard {
			continue
		}
		for _, c := range sh.Placements {
			if c.Role != "primary" {
				continue
			}
			_, port, _ := net.SplitHostPort(c.Address)
			p, _ := strconv.Atoi(port)
			for _, n := range cp.nodes {
				if p >= n.ports[0] && p <= n.ports[1] {
					return n, c
				}
			}
		}
	}
	cp.t.Fatalf("no primary for shard %d", shard)
	return nil, topoCopy{}
}

// writeLog records every write the clients made.
type writeLog struct {
	mu sync.Mutex
	// per shard: times of attempts that failed and succeeded
	events [][]writeEvent
	// acked: key -> value of writes confirmed with WAIT 1 >= 1
	acked map[string]string
	// okOnly: writes answered OK (whether or not a replica confirmed)
	okOnly   map[string]string
	okAt     map[string]time.Time
	attempts atomic.Int64
	failures atomic.Int64
}

type writeEvent struct {
	at time.Time
	ok bool
}

func (w *writeLog) record(shard int, at time.Time, ok bool) {
	w.mu.Lock()
	w.events[shard] = append(w.events[shard], writeEvent{at, ok})
	w.mu.Unlock()
}

// outage is how long after `from` writes to shard kept failing: from to
// the first success that followed a failure, 0 when none failed.
func (w *writeLog) outage(shard int, from, until time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	failed := false
	for _, e := range w.events[shard] {
		if e.at.Before(from) || e.at.After(until) {
			continue
		}
		if !e.ok {
			failed = true
			continue
		}
		if failed {
			return e.at.Sub(from), true
		}
	}
	return 0, !failed
}

// keysOn returns a function that yields, for each shard, fresh keys whose
// hash slot that shard serves.
func keysOn(route wire.DatabaseRoute, prefix string) func(shard int) string {
	var mu sync.Mutex
	next := map[int]int{}
	return func(shard int) string {
		mu.Lock()
		defer mu.Unlock()
		for {
			next[shard]++
			k := fmt.Sprintf("%s:%d:%d", prefix, shard, next[shard])
			slot := keyslot.Of([]byte(k))
			for _, r := range route.Shards[shard].Slots {
				if slot >= r.Start && slot <= r.End {
					return k
				}
			}
		}
	}
}

// TestChaosFailover: three node hosts, a database of two shards with one
// replica each, clients writing through the proxy; node hosts holding a
// primary are killed (SIGKILL) several times and restarted between
// rounds, then one is paused (SIGSTOP) as a network cut would isolate it.
// It measures how long writes fail, counts writes confirmed with WAIT 1
// that were lost (must be none), checks that each shard's copies end with
// the same data, and that no two primaries took writes for one shard.
func TestChaosFailover(t *testing.T) {
	cp := startChaosPlatform(t)
	cp.admin = cp.makeAdmin("chaos-admin@example.com")
	waitUntil(t, 60*time.Second, "the three node hosts to register", func() (bool, error) {
		var nodes struct {
			Nodes []struct {
				Status string `json:"status"`
			} `json:"nodes"`
		}
		cp.call("GET", "/v1/admin/nodes", cp.admin, nil, http.StatusOK, &nodes)
		up := 0
		for _, n := range nodes.Nodes {
			if n.Status == "up" {
				up++
			}
		}
		return up == 3, nil
	})
	token := cp.signup("chaos@example.com", "a long enough password")
	var db struct {
		ID, Status, URL, FailureReason string
	}
	cp.call("POST", "/v1/databases", token, map[string]any{"name": "chaos", "plan": "pro", "memory_mb": 64, "shards": 2, "replicas": 1}, http.StatusAccepted, &db)
	cp.dbID, cp.dbURL, cp.shards = db.ID, db.URL, 2
	waitUntil(t, 60*time.Second, "the database to become active", func() (bool, error) {
		cp.call("GET", "/v1/databases/"+db.ID, token, nil, http.StatusOK, &db)
		if db.Status == "failed" {
			return false, fmt.Errorf("database failed: %s", db.FailureReason)
		}
		return db.Status == "active", nil
	})
	route := cp.route(db.ID)
	cp.waitSettled(60 * time.Second)

	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	opt.DialTimeout = time.Second
	opt.ReadTimeout = time.Second
	opt.WriteTimeout = time.Second
	opt.PoolSize = 4

	wl := &writeLog{events: make([][]writeEvent, 2), acked: map[string]string{}, okOnly: map[string]string{}, okAt: map[string]time.Time{}}
	nextKey := keysOn(route, "chaos")
	ctx, stopWriters := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	// Per shard: a tight writer measuring availability, and one that
	// confirms each write with WAIT 1 before counting it as acknowledged.
	for shard := 0; shard < 2; shard++ {
		for _, confirm := range []bool{false, true} {
			writers.Add(1)
			go func() {
				defer writers.Done()
				rc := redis.NewClient(opt)
				defer rc.Close()
				for i := 0; ctx.Err() == nil; i++ {
					k, v := nextKey(shard), strconv.Itoa(i)
					wl.attempts.Add(1)
					var err error
					var replicas int64
					if confirm {
						var cmds []redis.Cmder
						cmds, err = rc.Pipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, k, v, 0)
							p.Do(ctx, "WAIT", "1", "500")
							return nil
						})
						if err == nil {
							replicas, err = cmds[1].(*redis.Cmd).Int64()
						}
					} else {
						err = rc.Set(ctx, k, v, 0).Err()
					}
					now := time.Now()
					if err != nil {
						wl.failures.Add(1)
						if !confirm {
							wl.record(shard, now, false)
						}
						time.Sleep(5 * time.Millisecond)
						continue
					}
					wl.mu.Lock()
					wl.okOnly[k] = v
					wl.okAt[k] = now
					if confirm && replicas >= 1 {
						wl.acked[k] = v
					}
					wl.mu.Unlock()
					if !confirm {
						wl.record(shard, now, true)
						time.Sleep(2 * time.Millisecond)
					}
				}
			}()
		}
	}
	stopAll := func() {
		stopWriters()
		writers.Wait()
	}
	defer stopAll()
	time.Sleep(time.Second)

	type round struct {
		kind      string
		shard     int
		victim    string
		outage    time.Duration
		recovered bool
		failover  time.Duration // kill to routes published, from the failover record
	}
	var rounds []round
	var cuts []time.Time
	const kills = 3
	for r := 0; r < kills+1; r++ {
		shard := r % 2
		victim, old := cp.primaryOf(shard)
		before := cp.route(db.ID)
		cut := time.Now()
		cuts = append(cuts, cut)
		kind := "kill -9"
		if r == kills {
			kind = "SIGSTOP"
			victim.signal(syscall.SIGSTOP)
		} else {
			victim.kill()
		}
		// Writes must come back through a new primary.
		var newPrimary string
		waitUntil(t, 20*time.Second, fmt.Sprintf("round %d: shard %d failed over", r, shard), func() (bool, error) {
			rt := cp.route(db.ID)
			for _, sh := range rt.Shards {
				if sh.ShardID == before.Shards[shard].ShardID && sh.Primary != old.Address {
					newPrimary = sh.Primary
					return true, nil
				}
			}
			return false, nil
		})
		time.Sleep(2 * time.Second) // writes go on against the new primary
		out, recovered := wl.outage(shard, cut, time.Now())
		rd := round{kind: kind, shard: shard, victim: victim.name, outage: out, recovered: recovered}
		var fos struct {
			Failovers []struct {
				ShardIndex        int       `json:"shard_index"`
				From              string    `json:"from"`
				To                string    `json:"to"`
				Reason            string    `json:"reason"`
				RoutesPublishedAt time.Time `json:"routes_published_at"`
			} `json:"failovers"`
		}
		cp.call("GET", "/v1/databases/"+db.ID+"/failovers", token, nil, http.StatusOK, &fos)
		for _, f := range fos.Failovers {
			if f.ShardIndex == shard && f.From == old.Address && f.To == newPrimary {
				rd.failover = f.RoutesPublishedAt.Sub(cut)
				if f.Reason != "node_down" {
					t.Errorf("round %d: failover reason %q", r, f.Reason)
				}
				break
			}
		}
		if kind == "SIGSTOP" {
			// The cut heals: the old primary must not take writes as a
			// second primary. It learns its demotion at its first
			// heartbeat; until then nothing routes to it, and it must
			// end up following the new primary.
			victim.signal(syscall.SIGCONT)
			waitUntil(t, 20*time.Second, "the paused primary to rejoin as a replica", func() (bool, error) {
				rc := redis.NewClient(&redis.Options{Addr: old.Address, Password: before.Shards[shard].Password, Protocol: 2,
					DisableIdentity: true, MaxRetries: -1, ReadTimeout: time.Second})
				defer rc.Close()
				info, err := rc.Info(context.Background(), "replication").Result()
				return err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up"), nil
			})
		} else {
			victim.start()
		}
		cp.waitSettled(60 * time.Second)
		rounds = append(rounds, rd)
	}
	time.Sleep(500 * time.Millisecond)
	stopAll()
	cp.waitSettled(30 * time.Second)

	// Every write a replica confirmed is there, with its value.
	rc := redis.NewClient(opt)
	defer rc.Close()
	wl.mu.Lock()
	acked := make([]string, 0, len(wl.acked))
	for k := range wl.acked {
		acked = append(acked, k)
	}
	wl.mu.Unlock()
	sort.Strings(acked)
	lost, lostOK, splitBrain := 0, 0, 0
	for i := 0; i < len(acked); i += 500 {
		batch := acked[i:min(i+500, len(acked))]
		vals, err := rc.MGet(context.Background(), batch...).Result()
		if err != nil {
			t.Fatalf("MGET: %v", err)
		}
		for j, v := range vals {
			if s, _ := v.(string); s != wl.acked[batch[j]] {
				lost++
				if lost <= 5 {
					t.Errorf("acknowledged write %s=%s lost: %v", batch[j], wl.acked[batch[j]], v)
				}
			}
		}
	}
	// Writes answered OK without a replica's confirmation may be lost
	// when their primary dies before replicating them: count them by
	// round, with how close to the fault they were written.
	missingBy := make([]int, len(cuts)+1)
	earliest := make([]time.Duration, len(cuts)+1)
	okKeys := make([]string, 0, len(wl.okOnly))
	for k := range wl.okOnly {
		okKeys = append(okKeys, k)
	}
	for i := 0; i < len(okKeys); i += 500 {
		batch := okKeys[i:min(i+500, len(okKeys))]
		vals, err := rc.MGet(context.Background(), batch...).Result()
		if err != nil {
			t.Fatalf("MGET: %v", err)
		}
		for j, v := range vals {
			k := batch[j]
			if s, _ := v.(string); s == wl.okOnly[k] {
				continue
			}
			lostOK++
			at := wl.okAt[k]
			r := sort.Search(len(cuts), func(i int) bool { return cuts[i].After(at) }) // written before cuts[r]
			missingBy[r]++
			// Written after the previous fault's routes were published
			// and well before the next fault: it went to the primary
			// the control plane chose, which kept its data; losing it
			// means another primary took it.
			if r > 0 && at.After(cuts[r-1].Add(rounds[r-1].failover+100*time.Millisecond)) &&
				(r == len(cuts) || at.Before(cuts[r].Add(-time.Second))) {
				splitBrain++
			}
			if r < len(cuts) {
				if d := cuts[r].Sub(at); d > earliest[r] {
					earliest[r] = d
				}
			}
		}
	}
	for r := range missingBy {
		if missingBy[r] > 0 {
			t.Logf("CHAOS writes answered OK but lost, written before fault %d: %d (the earliest %v before it)", r+1, missingBy[r], earliest[r].Round(time.Millisecond))
		}
	}

	// Each shard's copies hold the same data.
	final := cp.route(db.ID)
	for _, sh := range final.Shards {
		p := redis.NewClient(&redis.Options{Addr: sh.Primary, Password: sh.Password, Protocol: 2, DisableIdentity: true})
		pk := dump(t, p)
		p.Close()
		for _, addr := range sh.Replicas {
			r := redis.NewClient(&redis.Options{Addr: addr, Password: sh.Password, Protocol: 2, DisableIdentity: true})
			rk := dump(t, r)
			r.Close()
			diff := 0
			for k, v := range pk {
				if rk[k] != v {
					diff++
				}
			}
			if diff > 0 || len(rk) != len(pk) {
				t.Errorf("shard %s: replica %s differs from its primary in %d keys (%d vs %d keys)", sh.ShardID, addr, diff, len(rk), len(pk))
			}
		}
	}

	var worst time.Duration
	for i, r := range rounds {
		t.Logf("CHAOS round %d: %-7s shard %d primary on %s: writes failed for %v (recovered=%v), kill to routes published %v",
			i+1, r.kind, r.shard, r.victim, r.outage.Round(time.Millisecond), r.recovered, r.failover.Round(time.Millisecond))
		worst = max(worst, r.outage)
		if r.outage > 5*time.Second {
			t.Errorf("round %d: writes failed for %v", i+1, r.outage)
		}
	}
	t.Logf("CHAOS summary: %d rounds, failover timeout %v, heartbeat %v, worst write outage %v; writes attempted %d, failed %d; acknowledged with WAIT 1: %d, lost %d; answered OK: %d, missing %d",
		len(rounds), chaosFailoverTimeout, chaosHeartbeat, worst.Round(time.Millisecond), wl.attempts.Load(), wl.failures.Load(),
		len(acked), lost, len(wl.okOnly), lostOK)
	if len(acked) == 0 {
		t.Error("no write was acknowledged by a replica")
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}
	t.Logf("CHAOS writes answered OK after a failover's routes were published and lost since: %d", splitBrain)
	if splitBrain > 0 {
		t.Errorf("%d writes answered OK by the primary the control plane chose were lost: another primary took them", splitBrain)
	}
}

// dump reads every key's string value on one server.
func dump(t *testing.T, rc *redis.Client) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]string{}
	iter := rc.Scan(ctx, 0, "*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		vals, err := rc.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatalf("MGET: %v", err)
		}
		for j, v := range vals {
			s, _ := v.(string)
			out[batch[j]] = s
		}
	}
	return out
}
