package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestDatabaseLifecycle(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.signup("ops@example.com")
	n1, n2, n3 := e.node("n1", 4096), e.node("n2", 4096), e.node("n3", 4096)
	_, before := e.routes(-1, "")

	r := e.do("POST", "/v1/databases", map[string]any{"name": "sessions", "plan": "pro", "memory_mb": 600, "shards": 3, "replicas": 1,
		"eviction_policy": "allkeys-lru", "persistence": "aof-everysec"}, tok)
	e.expect(r, http.StatusAccepted)
	id := r.str("id")
	if r.str("status") != "provisioning" || !strings.HasPrefix(id, "db_") || r.header.Get("Location") != "/v1/databases/"+id {
		t.Fatalf("create: %s", r.raw)
	}
	pw := r.str("password")
	u, err := url.Parse(r.str("url"))
	if err != nil || u.Scheme != "redis" || u.User.Username() != id || u.Host != endpoint || r.str("endpoint") != endpoint {
		t.Fatalf("url %q endpoint %q", r.str("url"), r.str("endpoint"))
	}
	if p, _ := u.User.Password(); p != pw || len(pw) < 26 {
		t.Fatalf("password %q in url %q", pw, r.str("url"))
	}
	if r.field("limits", "max_connections").(float64) != 2000 || r.field("topology") != nil {
		t.Fatalf("limits/topology: %s", r.raw)
	}

	// Not routed until every copy runs.
	if _, rt := e.routes(-1, ""); len(rt.Databases) != 0 {
		t.Fatal("a provisioning database is routed")
	}
	var copies int
	for _, n := range []string{n1, n2, n3} {
		d := e.beat(n, "")
		copies += len(d.Shards)
		for _, s := range d.Shards {
			if s.DatabaseID != id || s.MaxMemory != 200<<20 || s.EvictionPolicy != "allkeys-lru" || s.Persistence != "aof-everysec" {
				t.Fatalf("desired %+v", s)
			}
		}
	}
	if copies != 6 {
		t.Fatalf("%d copies placed, want 3 shards x 2", copies)
	}
	r = e.do("GET", "/v1/databases/"+id, nil, tok)
	e.expect(r, http.StatusOK)
	if r.str("status") != "active" || r.str("password") != pw {
		t.Fatalf("after heartbeats: %s", r.raw)
	}
	status, rt := e.routes(-1, "")
	if status != 200 || rt.Version <= before.Version || len(rt.Databases) != 1 || rt.Databases[0].PasswordDigest != auth.HexDigest(pw) ||
		len(rt.Databases[0].Shards) != 3 || strings.Contains(string(e.do("GET", wire.PathRoutes, nil, proxyToken).raw), pw) {
		t.Fatalf("routes %+v", rt)
	}

	r = e.do("GET", "/v1/databases", nil, tok)
	e.expect(r, http.StatusOK)
	if l := r.field("databases").([]any); len(l) != 1 || l[0].(map[string]any)["id"] != id {
		t.Fatalf("list %s", r.raw)
	}

	// PATCH changes what nodes run and bumps the routes (memory is a limit).
	r = e.do("PATCH", "/v1/databases/"+id, map[string]any{"memory_mb": 900, "eviction_policy": "volatile-ttl"}, tok)
	e.expect(r, http.StatusOK)
	if r.field("memory_mb").(float64) != 900 || r.str("eviction_policy") != "volatile-ttl" {
		t.Fatalf("patch: %s", r.raw)
	}
	for _, s := range e.beat(n1, "").Shards {
		if s.MaxMemory != 300<<20 || s.EvictionPolicy != "volatile-ttl" {
			t.Fatalf("desired after patch %+v", s)
		}
	}
	_, rt2 := e.routes(-1, "")
	if rt2.Version <= rt.Version || rt2.Databases[0].Limits.MemoryMB != 900 {
		t.Fatalf("routes after patch %+v", rt2)
	}

	// Rotation: new password, new digest, old digest gone.
	r = e.do("POST", "/v1/databases/"+id+"/rotate-password", nil, tok)
	e.expect(r, http.StatusOK)
	if r.str("password") == pw || r.str("password") == "" {
		t.Fatalf("rotate: %s", r.raw)
	}
	_, rt3 := e.routes(-1, "")
	if rt3.Version <= rt2.Version || rt3.Databases[0].PasswordDigest != auth.HexDigest(r.str("password")) {
		t.Fatalf("routes after rotation %+v", rt3)
	}

	// An admin sees the topology.
	admin := e.admin()
	r = e.do("GET", "/v1/databases/"+id, nil, admin)
	e.expect(r, http.StatusOK)
	topo, _ := r.field("topology").([]any)
	if len(topo) != 3 || len(topo[0].(map[string]any)["placements"].([]any)) != 2 {
		t.Fatalf("admin topology: %s", r.raw)
	}
	// ... but changes stay with the owner.
	e.expect(e.do("DELETE", "/v1/databases/"+id, nil, admin), http.StatusNotFound)

	e.expect(e.do("DELETE", "/v1/databases/"+id, nil, tok), http.StatusNoContent)
	if _, rt := e.routes(-1, ""); len(rt.Databases) != 0 {
		t.Fatal("deleted database still routed")
	}
	if d := e.beat(n1, ""); len(d.Shards) != 0 {
		t.Fatalf("nodes still told to run a deleted database: %+v", d.Shards)
	}
	e.expect(e.do("DELETE", "/v1/databases/"+id, nil, tok), http.StatusNotFound)
	e.expect(e.do("PATCH", "/v1/databases/"+id, map[string]any{"memory_mb": 100}, tok), http.StatusNotFound)
}

func TestDatabaseFailureIsReported(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.signup("fail@example.com")
	n := e.node("n1", 1024)
	r := e.do("POST", "/v1/databases", map[string]any{"name": "x"}, tok)
	e.expect(r, http.StatusAccepted)
	if r.str("plan") != "free" || r.field("memory_mb").(float64) != 64 || r.str("eviction_policy") != "noeviction" || r.str("persistence") != "none" {
		t.Fatalf("defaults: %s", r.raw)
	}
	e.beat(n, "bind: address already in use")
	r = e.do("GET", "/v1/databases/"+r.str("id"), nil, tok)
	if r.str("status") != "failed" || !strings.Contains(r.str("failure_reason"), "address already in use") {
		t.Fatalf("failed database: %s", r.raw)
	}
}

func TestDatabaseBadInput(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.signup("val@example.com")
	other, _ := e.signup("mal@example.com")
	e.node("n1", 50000)
	e.node("n2", 50000)

	r := e.do("POST", "/v1/databases", map[string]any{"name": "taken", "plan": "starter"}, tok)
	e.expect(r, http.StatusAccepted)
	id := r.str("id")

	tests := []struct {
		name        string
		body        any
		status      int
		code, field string
	}{
		{"malformed", `{"name":`, 400, "invalid_json", ""},
		{"unknown field", map[string]any{"name": "a", "colour": "red"}, 400, "unknown_field", "colour"},
		{"missing name", map[string]any{"plan": "pro"}, 400, "missing_field", "name"},
		{"name too long", map[string]any{"name": strings.Repeat("a", 64)}, 400, "invalid_field", "name"},
		{"name with spaces", map[string]any{"name": "my db"}, 400, "invalid_field", "name"},
		{"wrong type", map[string]any{"name": "a", "shards": "two"}, 400, "invalid_field", "shards"},
		{"unknown plan", map[string]any{"name": "a", "plan": "gold"}, 400, "invalid_field", "plan"},
		{"bad eviction", map[string]any{"name": "a", "eviction_policy": "lru"}, 400, "invalid_field", "eviction_policy"},
		{"bad persistence", map[string]any{"name": "a", "persistence": "sometimes"}, 400, "invalid_field", "persistence"},
		{"zero shards", map[string]any{"name": "a", "shards": 0}, 400, "invalid_field", "shards"},
		{"negative replicas", map[string]any{"name": "a", "replicas": -1}, 400, "invalid_field", "replicas"},
		{"negative memory", map[string]any{"name": "a", "memory_mb": -5}, 400, "invalid_field", "memory_mb"},
		{"memory over plan", map[string]any{"name": "a", "plan": "starter", "memory_mb": 2048}, 422, "plan_limit", "memory_mb"},
		{"shards over plan", map[string]any{"name": "a", "plan": "starter", "shards": 3}, 422, "plan_limit", "shards"},
		{"replicas over plan", map[string]any{"name": "a", "plan": "starter", "replicas": 2}, 422, "plan_limit", "replicas"},
		{"no plan fits", map[string]any{"name": "a", "memory_mb": 1 << 20}, 422, "plan_limit", "memory_mb"},
		{"too little memory per shard", map[string]any{"name": "a", "plan": "pro", "memory_mb": 20, "shards": 4}, 400, "invalid_field", "memory_mb"},
		{"name taken", map[string]any{"name": "taken", "plan": "pro"}, 409, "conflict", "name"},
		{"no capacity for replicas", map[string]any{"name": "a", "plan": "pro", "replicas": 2}, 409, "insufficient_capacity", ""},
		{"no memory left", map[string]any{"name": "a", "plan": "enterprise", "memory_mb": 65536, "shards": 1}, 409, "insufficient_capacity", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.expect(e.do("POST", "/v1/databases", tt.body, tok), tt.status, tt.code, tt.field)
		})
	}
	e.t = t
	// The free plan allows one database.
	e.expect(e.do("POST", "/v1/databases", map[string]any{"name": "f1", "plan": "free"}, tok), http.StatusAccepted)
	e.expect(e.do("POST", "/v1/databases", map[string]any{"name": "f2", "plan": "free"}, tok), http.StatusUnprocessableEntity, "plan_limit", "plan")
	// Nothing half-created by any refusal.
	r = e.do("GET", "/v1/databases", nil, tok)
	if n := len(r.field("databases").([]any)); n != 2 {
		t.Fatalf("%d databases after refusals, want 2: %s", n, r.raw)
	}

	// PATCH validation.
	for _, tt := range []struct {
		name        string
		body        any
		status      int
		code, field string
	}{
		{"empty", map[string]any{}, 400, "missing_field", "memory_mb"},
		{"unknown field", map[string]any{"shards": 2}, 400, "unknown_field", "shards"},
		{"bad policy", map[string]any{"eviction_policy": "fifo"}, 400, "invalid_field", "eviction_policy"},
		{"over plan", map[string]any{"memory_mb": 5000}, 422, "plan_limit", "memory_mb"},
		{"zero", map[string]any{"memory_mb": 0}, 400, "invalid_field", "memory_mb"},
	} {
		t.Run("patch "+tt.name, func(t *testing.T) {
			e.t = t
			e.expect(e.do("PATCH", "/v1/databases/"+id, tt.body, tok), tt.status, tt.code, tt.field)
		})
	}
	e.t = t

	// Another account's database does not exist for it.
	for _, req := range []struct{ method, path string }{
		{"GET", "/v1/databases/" + id}, {"PATCH", "/v1/databases/" + id}, {"DELETE", "/v1/databases/" + id},
		{"POST", "/v1/databases/" + id + "/rotate-password"}, {"GET", "/v1/databases/" + id + "/usage"},
		{"GET", "/v1/databases/db_doesnotexist"},
	} {
		var body any
		if req.method == "PATCH" {
			body = map[string]any{"memory_mb": 100}
		}
		r := e.do(req.method, req.path, body, other)
		e.expect(r, http.StatusNotFound, "not_found")
		if strings.Contains(string(r.raw), "taken") {
			t.Fatalf("%s %s leaks: %s", req.method, req.path, r.raw)
		}
	}
	r = e.do("GET", "/v1/databases/"+id, nil, tok)
	if r.str("status") != "provisioning" || r.field("memory_mb").(float64) != 1024 {
		t.Fatalf("the other account changed it: %s", r.raw)
	}
}

func TestPatchNeedsRoomOnTheShardsNodes(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.signup("grow@example.com")
	e.node("small", 100)
	r := e.do("POST", "/v1/databases", map[string]any{"name": "g", "plan": "starter", "memory_mb": 64}, tok)
	e.expect(r, http.StatusAccepted)
	e.expect(e.do("PATCH", "/v1/databases/"+r.str("id"), map[string]any{"memory_mb": 200}, tok), http.StatusConflict, "insufficient_capacity")
	e.expect(e.do("PATCH", "/v1/databases/"+r.str("id"), map[string]any{"memory_mb": 100}, tok), http.StatusOK)
}

func TestUsage(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.signup("use@example.com")
	e.node("n1", 1024)
	r := e.do("POST", "/v1/databases", map[string]any{"name": "u"}, tok)
	id := r.str("id")
	now := time.Now().UTC().Truncate(time.Minute)
	report := wire.UsageReport{ProxyID: "p1", Start: now.Add(-2 * time.Minute), End: now.Add(-2*time.Minute + 30*time.Second),
		Databases: []wire.DatabaseUsage{{DatabaseID: id, Ops: 42, BytesIn: 100, BytesOut: 200, Connections: 3}}}
	e.expect(e.do("POST", wire.PathUsage, report, proxyToken), http.StatusNoContent)
	e.expect(e.do("POST", wire.PathUsage, report, proxyToken), http.StatusNoContent) // retried: counted once
	e.expect(e.do("POST", wire.PathUsage, report, nodeToken), http.StatusUnauthorized)
	bad := report
	bad.End = bad.Start.Add(-time.Second)
	e.expect(e.do("POST", wire.PathUsage, bad, proxyToken), http.StatusBadRequest, "invalid_field", "end")
	e.expect(e.do("POST", wire.PathUsage, `{"start":`, proxyToken), http.StatusBadRequest, "invalid_json")

	r = e.do("GET", "/v1/databases/"+id+"/usage?minutes=10", nil, tok)
	e.expect(r, http.StatusOK)
	rows := r.field("minutes").([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["ops"].(float64) != 42 || rows[0].(map[string]any)["connections_max"].(float64) != 3 {
		t.Fatalf("usage %s", r.raw)
	}
	from := now.Add(-time.Minute).Format(time.RFC3339)
	r = e.do("GET", "/v1/databases/"+id+"/usage?from="+from, nil, tok)
	e.expect(r, http.StatusOK)
	if len(r.field("minutes").([]any)) != 0 {
		t.Fatalf("window excludes the minute: %s", r.raw)
	}
	for q, field := range map[string]string{
		"minutes=0": "minutes", "minutes=x": "minutes", "from=yesterday": "from", "to=soon": "to",
		"from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z": "from", "from=2000-01-01T00:00:00Z&to=2030-01-01T00:00:00Z": "from",
	} {
		e.expect(e.do("GET", "/v1/databases/"+id+"/usage?"+q, nil, tok), http.StatusBadRequest, "invalid_field", field)
	}
}

func TestAdminRoutes(t *testing.T) {
	e := newEnv(t)
	user, _ := e.signup("user@example.com")
	admin := e.admin()
	n1 := e.node("n1", 2048)
	e.node("n2", 2048)
	r := e.do("POST", "/v1/databases", map[string]any{"name": "a", "plan": "starter", "memory_mb": 512, "shards": 2}, user)
	e.expect(r, http.StatusAccepted)

	for _, p := range []struct{ method, path string }{
		{"GET", "/v1/admin/nodes"}, {"POST", "/v1/admin/nodes/" + n1 + "/drain"}, {"GET", "/v1/admin/accounts"}, {"GET", "/v1/admin/plans"},
	} {
		e.expect(e.do(p.method, p.path, nil, user), http.StatusForbidden, "forbidden")
		e.expect(e.do(p.method, p.path, nil, ""), http.StatusUnauthorized)
	}
	r = e.do("GET", "/v1/admin/nodes", nil, admin)
	e.expect(r, http.StatusOK)
	nodes := r.field("nodes").([]any)
	if len(nodes) != 2 {
		t.Fatalf("nodes %s", r.raw)
	}
	var placed float64
	for _, n := range nodes {
		m := n.(map[string]any)
		placed += m["shards_placed"].(float64)
		if m["status"] != "up" || m["memory_mb"].(float64) != 2048 {
			t.Fatalf("node %v", m)
		}
	}
	if placed != 2 {
		t.Fatalf("%v shards placed, want 2", placed)
	}

	r = e.do("POST", "/v1/admin/nodes/"+n1+"/drain", nil, admin)
	e.expect(r, http.StatusOK)
	if r.str("status") != "draining" {
		t.Fatalf("drain: %s", r.raw)
	}
	if d := e.beat(n1, ""); !d.Drain {
		t.Fatal("the node is not told to drain")
	}
	e.expect(e.do("POST", "/v1/admin/nodes/node_nope/drain", nil, admin), http.StatusNotFound)
	// Draining nodes take no new shards: one node left, so a replica cannot be placed.
	e.expect(e.do("POST", "/v1/databases", map[string]any{"name": "b", "plan": "starter", "replicas": 1, "memory_mb": 64}, user),
		http.StatusConflict, "insufficient_capacity")

	r = e.do("GET", "/v1/admin/accounts", nil, admin)
	e.expect(r, http.StatusOK)
	if n := len(r.field("accounts").([]any)); n != 2 {
		t.Fatalf("accounts %s", r.raw)
	}
	r = e.do("GET", "/v1/admin/plans", nil, admin)
	e.expect(r, http.StatusOK)
	if n := len(r.field("plans").([]any)); n < 3 {
		t.Fatalf("plans %s", r.raw)
	}
	e.expect(e.do("GET", "/v1/plans", nil, user), http.StatusOK)
	r = e.do("GET", "/v1/events", nil, user)
	e.expect(r, http.StatusOK)
	if !strings.Contains(string(r.raw), "database.created") {
		t.Fatalf("events %s", r.raw)
	}
}
