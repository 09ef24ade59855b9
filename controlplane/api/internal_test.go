package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestInternalAuth(t *testing.T) {
	e := newEnv(t)
	reg := wire.NodeRegister{Name: "n", Advertise: "127.0.0.1", PortMin: 7000, PortMax: 7010, MemoryMB: 10}
	for _, tc := range []struct {
		method, path, token string
		body                any
	}{
		{"POST", wire.PathNodeRegister, "", reg},
		{"POST", wire.PathNodeRegister, proxyToken, reg},
		{"POST", wire.PathNodeRegister, "wrong", reg},
		{"POST", wire.PathNodeHeartbeat, proxyToken, wire.NodeHeartbeat{NodeID: "x"}},
		{"GET", wire.PathRoutes, nodeToken, nil},
		{"GET", wire.PathRoutes, "", nil},
		{"POST", wire.PathUsage, nodeToken, wire.UsageReport{}},
	} {
		e.expect(e.do(tc.method, tc.path, tc.body, tc.token), http.StatusUnauthorized, "unauthorized")
	}
	// A user's access token is not a node token.
	access, _ := e.signup("n@example.com")
	e.expect(e.do("GET", wire.PathRoutes, nil, access), http.StatusUnauthorized)
}

func TestNodeRegistration(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		body  any
		field string
	}{
		{wire.NodeRegister{Name: "n", PortMin: 7000, PortMax: 7001}, "advertise"},
		{wire.NodeRegister{Advertise: "h", PortMin: 7001, PortMax: 7000}, "port_min"},
		{wire.NodeRegister{Advertise: "h", PortMin: 0, PortMax: 70000}, "port_min"},
		{wire.NodeRegister{Advertise: "h", PortMin: 1, PortMax: 2, MemoryMB: -1}, "memory_mb"},
	} {
		r := e.do("POST", wire.PathNodeRegister, tc.body, nodeToken)
		e.expect(r, http.StatusBadRequest, "", tc.field)
	}
	e.expect(e.do("POST", wire.PathNodeRegister, `{"name":`, nodeToken), http.StatusBadRequest, "invalid_json")
	// Unknown fields from newer peers are fine on the internal API.
	r := e.do("POST", wire.PathNodeRegister, `{"advertise":"10.0.0.1","port_min":7000,"port_max":7100,"memory_mb":512,"zone":"a"}`, nodeToken)
	e.expect(r, http.StatusOK)
	var reg wire.NodeRegistered
	if err := json.Unmarshal(r.raw, &reg); err != nil || reg.NodeID == "" || reg.HeartbeatInterval <= 0 {
		t.Fatalf("registered %s (%v)", r.raw, err)
	}
	// The name defaults to the advertise address and is stable: registering
	// again keeps the id.
	r = e.do("POST", wire.PathNodeRegister, wire.NodeRegister{Advertise: "10.0.0.1", PortMin: 7000, PortMax: 7100, MemoryMB: 1024}, nodeToken)
	e.expect(r, http.StatusOK)
	if r.str("node_id") != reg.NodeID {
		t.Fatalf("re-registration changed the id: %s vs %s", r.str("node_id"), reg.NodeID)
	}
	e.expect(e.do("POST", wire.PathNodeHeartbeat, wire.NodeHeartbeat{NodeID: "node_unknown"}, nodeToken), http.StatusNotFound, "unknown_node", "node_id")
	e.expect(e.do("POST", wire.PathNodeHeartbeat, wire.NodeHeartbeat{}, nodeToken), http.StatusBadRequest, "missing_field", "node_id")
	d := e.beat(reg.NodeID, "")
	if d.Shards == nil || len(d.Shards) != 0 || d.Drain {
		t.Fatalf("desired of an empty node: %+v", d)
	}
}

func TestRoutesLongPoll(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.signup("poll@example.com")
	n := e.node("n1", 1024)
	status, rt := e.routes(-1, "")
	if status != http.StatusOK || rt.Version < 1 || rt.Databases == nil {
		t.Fatalf("routes %d %+v", status, rt)
	}
	e.expect(e.do("GET", wire.PathRoutes+"?version=x", nil, proxyToken), http.StatusBadRequest, "invalid_field", "version")
	e.expect(e.do("GET", wire.PathRoutes+"?version=1&wait=soon", nil, proxyToken), http.StatusBadRequest, "invalid_field", "wait")

	// An older version is answered at once.
	if status, got := e.routes(rt.Version-1, "30s"); status != http.StatusOK || got.Version != rt.Version {
		t.Fatalf("older version: %d %+v", status, got)
	}
	// A proxy ahead of us (its version from another history) gets ours now.
	if status, got := e.routes(rt.Version+100, "30s"); status != http.StatusOK || got.Version != rt.Version {
		t.Fatalf("newer version: %d %+v", status, got)
	}
	// No change within wait: 304 after about wait.
	start := time.Now()
	if status, _ := e.routes(rt.Version, "300ms"); status != http.StatusNotModified {
		t.Fatalf("unchanged: status %d, want 304", status)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("304 after %v, before the wait ended", el)
	}

	// A change wakes a waiting poll long before its wait ends.
	type result struct {
		status int
		routes wire.Routes
		after  time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		st, r := e.routes(rt.Version, "20s")
		done <- result{st, r, time.Since(start)}
	}()
	r := e.do("POST", "/v1/databases", map[string]any{"name": "p"}, tok)
	e.expect(r, http.StatusAccepted)
	e.beat(n, "") // all copies run: the database turns active, routes change
	select {
	case res := <-done:
		if res.status != http.StatusOK || res.routes.Version <= rt.Version || len(res.routes.Databases) != 1 ||
			res.routes.Databases[0].ID != r.str("id") {
			t.Fatalf("woken poll: %d %+v", res.status, res.routes)
		}
		t.Logf("woken after %v", res.after)
		if res.after > 10*time.Second {
			t.Fatalf("poll returned after %v", res.after)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long poll not woken by a route change")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/healthz", nil, "")
	e.expect(r, http.StatusOK)
	if r.str("status") != "ok" {
		t.Fatalf("healthz %s", r.raw)
	}
	e.signup("m@example.com")
	e.do("GET", "/v1/me", nil, "bad")
	e.node("n1", 100)
	r = e.do("GET", "/metrics", nil, "")
	e.expect(r, http.StatusOK)
	text := string(r.raw)
	for _, want := range []string{
		`keyfleet_http_requests_total{`, `route="/v1/auth/signup"`, `status="201"`, `status="401"`,
		`keyfleet_databases{`, `keyfleet_nodes{`, `status="up"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "db_") {
		t.Error("metrics labelled by raw path")
	}
	e.expect(e.do("GET", "/v1/nope", nil, ""), http.StatusNotFound, "not_found")
	e.expect(e.do("PUT", "/v1/databases", nil, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}
