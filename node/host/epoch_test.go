package host

import (
	"strings"
	"testing"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// A desired state older than the epoch a shard runs at (the shard failed
// over since) is ignored and reported; the running shard keeps its role,
// password and data, and a current one applies again.
func TestHostIgnoresDesiredStateWithOlderEpoch(t *testing.T) {
	cp := newFakeCP(t)
	port := freePorts(t, 1)[0]
	d := desiredShard("sh_e", port)
	d.Epoch = 3
	cp.setDesired(d)
	runHost(t, cp, t.TempDir())
	cp.waitShards("shard serving", serving("sh_e"))

	stale := d
	stale.Epoch = 2
	stale.Password = "pw-stale"
	cp.setDesired(stale)
	got := cp.waitShards("the stale state refused", func(m map[string]wire.ShardStatus) bool { return m["sh_e"].Error != "" })
	if s := got["sh_e"]; s.Epoch != 3 || s.Role != "primary" || !strings.Contains(s.Error, "older than the running epoch 3") {
		t.Errorf("status = %+v", s)
	}
	if pong, err := pingWith(port, d.Password); err != nil || pong != "PONG" {
		t.Errorf("PING with the current password = %q, %v", pong, err)
	}

	next := d
	next.Epoch = 4
	next.EvictionPolicy = "noeviction"
	cp.setDesired(next)
	cp.waitShards("the newer epoch applied", func(m map[string]wire.ShardStatus) bool {
		return m["sh_e"].Error == "" && m["sh_e"].Epoch == 4
	})
}
