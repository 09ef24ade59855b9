package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/controlplane/pgtest"
)

// Two control planes on one Postgres: exactly one leads failover (its
// /healthz says so); when it stops, the other takes over.
func TestTwoControlPlanesOneLeader(t *testing.T) {
	if noPostgres != nil {
		t.Skipf("no Postgres binaries: %v", noPostgres)
	}
	dbURL := pgtest.NewDB(t)
	encKey, jwtKey := randomBytes(t, 32), randomBytes(t, 32)
	type instance struct {
		url  string
		stop func()
	}
	launch := func(name string) instance {
		ready := make(chan controlplane.Env, 1)
		opts := controlplane.Options{
			Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0", DataDir: t.TempDir(), DatabaseURL: dbURL,
			EncryptionKey: encKey, JWTKey: jwtKey, NodeToken: "n", ProxyToken: "p",
			Log:   testLogger(t).With("component", name),
			Ready: func(env controlplane.Env) { ready <- env },
		}
		done, stop := start(t, name, func(ctx context.Context) error { return controlplane.Run(ctx, opts) })
		select {
		case env := <-ready:
			return instance{url: env.ControlPlaneURL, stop: stop}
		case <-done:
			t.Fatalf("%s stopped before serving", name)
		case <-time.After(60 * time.Second):
			t.Fatalf("%s did not start", name)
		}
		return instance{}
	}
	leads := func(in instance) bool {
		res, err := http.Get(in.url + "/healthz")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var h struct {
			Status string `json:"status"`
			Leader bool   `json:"leader"`
		}
		return json.NewDecoder(res.Body).Decode(&h) == nil && h.Status == "ok" && h.Leader
	}
	a, b := launch("control plane a"), launch("control plane b")
	waitUntil(t, 10*time.Second, "a leader", func() (bool, error) { return leads(a) || leads(b), nil })
	time.Sleep(time.Second)
	if leads(a) == leads(b) {
		t.Fatalf("leaders: a=%v b=%v", leads(a), leads(b))
	}
	leader, follower := a, b
	if leads(b) {
		leader, follower = b, a
	}
	stopped := time.Now()
	leader.stop()
	waitUntil(t, 10*time.Second, "the other control plane to take over", func() (bool, error) { return leads(follower), nil })
	t.Logf("takeover %v after the leader stopped", time.Since(stopped).Round(time.Millisecond))
}
