package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// beatOffsets heartbeats as the node, reporting every desired shard running
// in its desired role with the given replication offset per role.
func (e *env) beatOffsets(nodeID string, primary, replica int64) wire.NodeDesired {
	e.t.Helper()
	var desired wire.NodeDesired
	for i := 0; i < 2; i++ {
		var st []wire.ShardStatus
		for _, sh := range desired.Shards {
			off := replica
			if sh.Role == "primary" {
				off = primary
			}
			st = append(st, wire.ShardStatus{ShardID: sh.ShardID, Port: sh.Port, Role: sh.Role, Epoch: sh.Epoch, ReplOffset: off})
		}
		r := e.do("POST", wire.PathNodeHeartbeat, wire.NodeHeartbeat{NodeID: nodeID, Shards: st}, nodeToken)
		e.expect(r, http.StatusOK)
		desired = wire.NodeDesired{}
		if err := json.Unmarshal(r.raw, &desired); err != nil {
			e.t.Fatal(err)
		}
	}
	return desired
}

func TestManualFailover(t *testing.T) {
	e := newEnv(t)
	n1, n2 := e.node("n1", 4096), e.node("n2", 4096)
	token, _ := e.signup("fo@example.com")
	other, _ := e.signup("other@example.com")
	r := e.do("POST", "/v1/databases", map[string]any{"name": "ha", "plan": "starter", "memory_mb": 64, "replicas": 1}, token)
	e.expect(r, http.StatusAccepted)
	id := r.str("id")
	e.beatOffsets(n1, 10<<20, 1)
	e.beatOffsets(n2, 10<<20, 1)
	e.expect(e.do("GET", "/v1/databases/"+id, nil, token), http.StatusOK)
	path := "/v1/databases/" + id + "/failover"

	e.expect(e.do("POST", path, map[string]any{"shard": ""}, token), http.StatusBadRequest, "invalid_field", "shard")
	e.expect(e.do("POST", path, map[string]any{"now": true}, token), http.StatusBadRequest, "unknown_field", "now")
	e.expect(e.do("POST", path, nil, other), http.StatusNotFound, "not_found")
	e.expect(e.do("POST", path, map[string]any{"shard": "sh_nope"}, token), http.StatusConflict, "conflict", "shard")

	// The replica is ~10 MB behind: refused unless forced, and nothing
	// changes.
	_, before := e.routes(-1, "")
	e.expect(e.do("POST", path, nil, token), http.StatusConflict, "replica_lagging", "force")
	if _, after := e.routes(-1, ""); after.Version != before.Version {
		t.Fatal("a refused failover published routes")
	}
	r = e.do("POST", path, map[string]any{"shard": "all", "force": true}, token)
	e.expect(r, http.StatusOK)
	fos, _ := r.field("failovers").([]any)
	if len(fos) != 1 {
		t.Fatalf("failovers: %s", r.raw)
	}
	fo := fos[0].(map[string]any)
	if fo["reason"] != "manual_forced" || fo["new_epoch"].(float64) != 2 || fo["lag_bytes"].(float64) != 10<<20-1 || fo["promoted_at"] != nil {
		t.Fatalf("failover: %s", r.raw)
	}
	_, after := e.routes(-1, "")
	if after.Version <= before.Version || after.Databases[0].Shards[0].Primary != fo["to"] || after.Databases[0].Shards[0].Epoch != 2 {
		t.Fatalf("routes after the failover: %+v", after)
	}

	// Caught up: a manual failover back goes through without force, and
	// is confirmed once the new primary's node reports it.
	e.beatOffsets(n1, 5000, 5000)
	e.beatOffsets(n2, 5000, 5000)
	r = e.do("POST", path, nil, token)
	e.expect(r, http.StatusOK)
	back := r.field("failovers").([]any)[0].(map[string]any)
	if back["reason"] != "manual" || back["to"] != fo["from"] || back["new_epoch"].(float64) != 3 {
		t.Fatalf("failover back: %s", r.raw)
	}
	e.beatOffsets(n1, 5000, 5000)
	e.beatOffsets(n2, 5000, 5000)
	r = e.do("GET", "/v1/databases/"+id+"/failovers", nil, token)
	e.expect(r, http.StatusOK)
	list := r.field("failovers").([]any)
	if len(list) != 2 || list[0].(map[string]any)["promoted_at"] == nil || list[0].(map[string]any)["id"].(float64) <= list[1].(map[string]any)["id"].(float64) {
		t.Fatalf("list: %s", r.raw)
	}
	e.expect(e.do("GET", "/v1/databases/"+id+"/failovers", nil, other), http.StatusNotFound, "not_found")
	e.expect(e.do("GET", "/v1/databases/"+id+"/failovers?limit=0", nil, token), http.StatusBadRequest, "invalid_field", "limit")

	// Administrators see each copy's lag and may fail any database over.
	admin := e.admin()
	r = e.do("GET", "/v1/databases/"+id, nil, admin)
	e.expect(r, http.StatusOK)
	topo := r.field("topology").([]any)[0].(map[string]any)
	if topo["epoch"].(float64) != 3 || len(topo["placements"].([]any)) != 2 {
		t.Fatalf("topology: %s", r.raw)
	}
	e.expect(e.do("POST", path, map[string]any{"force": true}, admin), http.StatusOK)

	r = e.do("GET", "/metrics", nil, "")
	e.expect(r, http.StatusOK)
	for _, want := range []string{`keyfleet_failovers_total{`, `reason="manual"} 1`, `reason="manual_forced"} 2`, `reason="node_down"} 0`} {
		if !strings.Contains(string(r.raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestFailoverWithoutReplicaIsRefused(t *testing.T) {
	e := newEnv(t)
	n := e.node("solo", 4096)
	token, _ := e.signup("solo@example.com")
	r := e.do("POST", "/v1/databases", map[string]any{"name": "one", "memory_mb": 64}, token)
	e.expect(r, http.StatusAccepted)
	e.beat(n, "")
	e.expect(e.do("POST", "/v1/databases/"+r.str("id")+"/failover", map[string]any{"force": true}, token), http.StatusConflict, "no_replica", "shard")
}
