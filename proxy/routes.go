package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/internal/keyslot"
	"github.com/keyfleet/keyfleet/internal/wire"
)

// routeTable is one version of the control plane's routes, swapped in
// whole so a reader never sees half an update.
type routeTable struct {
	version int64
	dbs     map[string]*database
}

// database is the state of one database that outlives route versions:
// its clients, quotas and usage counters. Its current route is swapped
// atomically; a client reads it once per command.
type database struct {
	id    string
	route atomic.Pointer[dbRoute]

	mu      sync.Mutex
	clients map[*client]struct{}
	// changed is closed (and replaced) when the route changes, waking
	// the requests waiting out a failover (failover.go).
	changed chan struct{}
	nconns  atomic.Int64

	ops       bucket // ops per second
	bandwidth bucket // bytes per second, in and out
	usage     usage
}

// dbRoute is one version of a database's route.
type dbRoute struct {
	digest [sha256.Size]byte
	limits wire.Limits
	shards []*shard
	// slots maps a hash slot to an index in shards; -1 is a slot no shard
	// serves. nil when the database has one shard, which serves them all.
	slots []int16
}

// shardOf returns the index of the shard serving slot, or -1.
func (r *dbRoute) shardOf(slot int) int {
	if r.slots == nil {
		return 0
	}
	return int(r.slots[slot])
}

// shardOfKey returns the index of the shard serving key, or -1.
func (r *dbRoute) shardOfKey(key []byte) int {
	if r.slots == nil {
		return 0
	}
	return int(r.slots[keyslot.Of(key)])
}

// buildRoute checks a database's route and builds its slot map. The
// shards are taken from old when unchanged (same id, address, password
// and epoch) so their connections survive the update.
func (p *Proxy) buildRoute(dr *wire.DatabaseRoute, db *database, old *dbRoute) (*dbRoute, error) {
	r := &dbRoute{limits: dr.Limits}
	d, err := hex.DecodeString(dr.PasswordDigest)
	if err != nil || len(d) != sha256.Size {
		return nil, fmt.Errorf("database %s: password digest is not hex SHA-256", dr.ID)
	}
	copy(r.digest[:], d)
	if len(dr.Shards) == 0 {
		return nil, fmt.Errorf("database %s: no shards", dr.ID)
	}
	if len(dr.Shards) > 1 {
		r.slots = make([]int16, keyslot.Slots)
		for i := range r.slots {
			r.slots[i] = -1
		}
	}
	for i, sr := range dr.Shards {
		if sr.Primary == "" {
			return nil, fmt.Errorf("database %s: shard %s has no primary", dr.ID, sr.ShardID)
		}
		var sh *shard
		if old != nil {
			for _, o := range old.shards {
				if o.id == sr.ShardID && o.addr == sr.Primary && o.password == sr.Password && o.epoch == sr.Epoch {
					sh = o
					break
				}
			}
		}
		if sh == nil {
			sh = newShard(p, db, sr)
		}
		r.shards = append(r.shards, sh)
		if r.slots == nil {
			continue
		}
		for _, sl := range sr.Slots {
			if sl.Start < 0 || sl.End >= keyslot.Slots || sl.Start > sl.End {
				return nil, fmt.Errorf("database %s: shard %s: bad slot range %d-%d", dr.ID, sr.ShardID, sl.Start, sl.End)
			}
			for s := sl.Start; s <= sl.End; s++ {
				r.slots[s] = int16(i)
			}
		}
	}
	return r, nil
}

// applyRoutes installs a new route table: databases appear, change and
// disappear. Clients stay connected across the change and pick up the new
// route on their next command, except those of a database that is gone,
// no longer active, or whose password changed: they are closed. Shards no
// longer routed are closed after RequestTimeout, so in-flight requests
// finish.
func (p *Proxy) applyRoutes(rt *wire.Routes) {
	p.mu.Lock()
	next := &routeTable{version: rt.Version, dbs: make(map[string]*database, len(rt.Databases))}
	var retired, failed []*shard
	var kick []*client
	seen := make(map[string]bool, len(rt.Databases))
	for i := range rt.Databases {
		dr := &rt.Databases[i]
		if dr.Status != "active" && dr.Status != "" {
			continue
		}
		db := p.databases[dr.ID]
		if db == nil {
			db = &database{id: dr.ID, clients: make(map[*client]struct{})}
		}
		old := db.route.Load()
		r, err := p.buildRoute(dr, db, old)
		if err != nil {
			if old == nil {
				p.log.Error("route rejected; database not served", "database", dr.ID, "err", err)
				continue
			}
			// A bad update must not cut off a database that works.
			p.log.Error("route rejected; keeping the database's previous route", "database", dr.ID, "err", err)
			r = old
		}
		seen[dr.ID] = true
		if old != nil && r != old {
			if old.digest != r.digest {
				kick = append(kick, db.clientList()...)
			}
			for _, sh := range removedShards(old, r) {
				if failedOver(sh, r) {
					failed = append(failed, sh)
				} else {
					retired = append(retired, sh)
				}
			}
		}
		rate := float64(r.limits.OpsPerSec)
		db.ops.configure(rate, rate*p.opts.BurstSeconds)
		bw := float64(r.limits.BandwidthBytesPerSec)
		db.bandwidth.configure(bw, bw*p.opts.BurstSeconds)
		db.route.Store(r)
		if r != old {
			db.routeChanged()
		}
		p.databases[dr.ID] = db
		next.dbs[dr.ID] = db
	}
	for id, db := range p.databases {
		if seen[id] {
			continue
		}
		kick = append(kick, db.clientList()...)
		if old := db.route.Load(); old != nil {
			retired = append(retired, old.shards...)
		}
		db.route.Store(nil)
		db.routeChanged()
		delete(p.databases, id)
		p.retiredUsage = append(p.retiredUsage, db)
	}
	p.routes.Store(next)
	p.mu.Unlock()

	for _, c := range kick {
		c.kill("database removed or credentials changed")
	}
	if len(failed) > 0 {
		// A primary replaced by a failover is dead, cut off or demoted:
		// what is still in flight there after a short grace will not be
		// answered usefully, and its clients get a clear error now
		// rather than at the request timeout.
		time.AfterFunc(min(failoverGrace, p.opts.RequestTimeout), func() {
			for _, sh := range failed {
				sh.closeFailedOver()
			}
		})
	}
	if len(retired) > 0 {
		time.AfterFunc(p.opts.RequestTimeout, func() {
			for _, sh := range retired {
				sh.close()
			}
		})
	}
	p.readyOnce.Do(func() { close(p.ready) })
	p.log.Info("routes applied", "version", rt.Version, "databases", len(next.dbs), "closed_clients", len(kick))
}

func removedShards(old, cur *dbRoute) []*shard {
	var out []*shard
	for _, o := range old.shards {
		kept := false
		for _, s := range cur.shards {
			if s == o {
				kept = true
				break
			}
		}
		if !kept {
			out = append(out, o)
		}
	}
	return out
}

func (db *database) clientList() []*client {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]*client, 0, len(db.clients))
	for c := range db.clients {
		out = append(out, c)
	}
	return out
}

// pollRoutes long-polls the control plane for new route versions until
// ctx ends. When the control plane is unreachable the last good routes
// keep being served; errors are retried with a capped backoff.
func (p *Proxy) pollRoutes(ctx context.Context) {
	var version int64 = -1
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rt, err := p.fetchRoutes(ctx, version)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("fetching routes; serving the last good ones", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		switch {
		case rt == nil:
		case rt.Version != version:
			p.applyRoutes(rt)
			version = rt.Version
		default:
			// The same version again instead of a wait: a control plane
			// that does not long-poll must not make this loop spin.
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// watchRoutesFile serves the routes of RoutesFile, re-reading it when it
// changes, until ctx ends.
func (p *Proxy) watchRoutesFile(ctx context.Context) {
	var last time.Time
	var lastSize int64 = -1
	for {
		if st, err := os.Stat(p.opts.RoutesFile); err != nil {
			p.log.Warn("routes file", "err", err)
		} else if !st.ModTime().Equal(last) || st.Size() != lastSize {
			b, err := os.ReadFile(p.opts.RoutesFile)
			var rt wire.Routes
			if err == nil {
				err = json.Unmarshal(b, &rt)
			}
			if err != nil {
				p.log.Error("routes file unusable; keeping the last good routes", "file", p.opts.RoutesFile, "err", err)
			} else {
				p.applyRoutes(&rt)
			}
			last, lastSize = st.ModTime(), st.Size()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// fetchRoutes does one long-poll for a version newer than version (a
// negative version asks for the current routes at once). It returns nil
// routes when nothing changed within the wait.
func (p *Proxy) fetchRoutes(ctx context.Context, version int64) (*wire.Routes, error) {
	u, err := url.Parse(p.opts.ControlPlane)
	if err != nil {
		return nil, fmt.Errorf("control plane URL: %w", err)
	}
	u = u.JoinPath(wire.PathRoutes)
	q := u.Query()
	if version >= 0 {
		q.Set("version", strconv.FormatInt(version, 10))
		q.Set("wait", p.opts.PollWait.String())
	}
	u.RawQuery = q.Encode()
	// The long-poll may legitimately take the whole wait; anything much
	// longer is a hung connection.
	ctx, cancel := context.WithTimeout(ctx, p.opts.PollWait+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("routes request: %w", err)
	}
	req.Header.Set(wire.HeaderNodeToken, "Bearer "+p.opts.ProxyToken)
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET routes: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified, http.StatusNoContent:
		io.Copy(io.Discard, resp.Body)
		return nil, nil
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET routes: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var rt wire.Routes
	if err := json.NewDecoder(resp.Body).Decode(&rt); err != nil {
		return nil, fmt.Errorf("decode routes: %w", err)
	}
	return &rt, nil
}

// routeChanged wakes whoever waits for the database's route to change.
func (db *database) routeChanged() {
	db.mu.Lock()
	if db.changed != nil {
		close(db.changed)
		db.changed = nil
	}
	db.mu.Unlock()
}

// routeWatch returns a channel closed at the next route change.
func (db *database) routeWatch() <-chan struct{} {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.changed == nil {
		db.changed = make(chan struct{})
	}
	return db.changed
}
