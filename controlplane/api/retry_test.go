package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/controlplane/store"
)

func TestFailedDatabaseIsRetried(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.signup("retry@example.com")
	other, _ := e.signup("other@example.com")
	n := e.node("n1", 1024)
	r := e.do("POST", "/v1/databases", map[string]any{"name": "x"}, tok)
	e.expect(r, http.StatusAccepted)
	id := r.str("id")
	get := func() reply {
		t.Helper()
		r := e.do("GET", "/v1/databases/"+id, nil, tok)
		e.expect(r, http.StatusOK)
		return r
	}
	reconcile := func() {
		t.Helper()
		// Past the longest back-off.
		if err := e.store.Reconcile(context.Background(), time.Now().Add(11*time.Minute), store.ReconcileOptions{NodeTimeout: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}

	// Only a failed database is retried, only by its owner.
	e.expect(e.do("POST", "/v1/databases/"+id+"/retry", nil, tok), http.StatusConflict, "conflict", "status")

	// The reconciler retries on its own, a bounded number of times.
	for i := 0; i < store.MaxProvisionRetries; i++ {
		e.beat(n, "bind: address already in use")
		if r := get(); r.str("status") != "failed" || !strings.Contains(r.str("failure_reason"), "address already in use") {
			t.Fatalf("attempt %d: %s", i, r.raw)
		}
		// Not before its back-off has passed.
		if err := e.store.Reconcile(context.Background(), time.Now(), store.ReconcileOptions{NodeTimeout: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if r := get(); r.str("status") != "failed" {
			t.Fatalf("retried before the back-off: %s", r.raw)
		}
		reconcile()
		if r := get(); r.str("status") != "provisioning" || r.str("failure_reason") != "" {
			t.Fatalf("retry %d: %s", i+1, r.raw)
		}
	}
	e.beat(n, "bind: address already in use")
	reconcile()
	r = get()
	if r.str("status") != "failed" || !strings.Contains(r.str("failure_reason"), "gave up after") {
		t.Fatalf("after the last retry: %s", r.raw)
	}
	reconcile()
	if r2 := get(); r2.str("failure_reason") != r.str("failure_reason") {
		t.Fatalf("reason changed again: %s", r2.raw)
	}
	ev := e.do("GET", "/v1/events", nil, tok)
	if c := strings.Count(string(ev.raw), "database.retry"); c != store.MaxProvisionRetries {
		t.Fatalf("%d retry events, want %d: %s", c, store.MaxProvisionRetries, ev.raw)
	}

	e.expect(e.do("POST", "/v1/databases/"+id+"/retry", nil, other), http.StatusNotFound, "not_found")
	e.expect(e.do("POST", "/v1/databases/"+id+"/retry", `{"force":true}`, tok), http.StatusBadRequest, "unknown_field", "force")
	e.expect(e.do("POST", "/v1/databases/nope/retry", nil, tok), http.StatusNotFound)

	// The owner's retry starts at once; this time the node manages.
	r = e.do("POST", "/v1/databases/"+id+"/retry", nil, tok)
	e.expect(r, http.StatusAccepted)
	if r.str("status") != "provisioning" || r.str("failure_reason") != "" {
		t.Fatalf("manual retry: %s", r.raw)
	}
	e.beat(n, "")
	if r := get(); r.str("status") != "active" {
		t.Fatalf("after a good retry: %s", r.raw)
	}
}
