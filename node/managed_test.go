package node

import (
	"context"
	"strings"
	"testing"
)

func TestManagedReconfigure(t *testing.T) {
	ctx := context.Background()
	s, rc := testServer(t, func(c *Config) { c.RequirePass = "old" })
	if err := rc.Do(ctx, "AUTH", "old").Err(); err != nil {
		t.Fatal(err)
	}
	want := ManagedSettings{MaxMemory: 1 << 20, MaxMemoryPolicy: "allkeys-lfu", RequirePass: "new",
		AppendOnly: false, AppendFsync: "always", Save: "900 1"}
	if err := s.Reconfigure(want); err != nil {
		t.Fatal(err)
	}
	// The connection that authenticated before the change stays in.
	got, err := rc.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"maxmemory": "1048576", "maxmemory-policy": "allkeys-lfu",
		"appendfsync": "always", "save": "900 1", "appendonly": "no"} {
		if got[k] != v {
			t.Errorf("CONFIG GET %s = %q, want %q", k, got[k], v)
		}
	}
	fresh := newClient(t, s, 2)
	if err := fresh.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("new connection without AUTH: %v, want NOAUTH", err)
	}
	if err := fresh.Do(ctx, "AUTH", "old").Err(); err == nil {
		t.Error("the old password still works")
	}
	if err := fresh.Do(ctx, "AUTH", "new").Err(); err != nil {
		t.Errorf("AUTH with the new password: %v", err)
	}

	tests := []struct {
		name string
		mod  func(m *ManagedSettings)
	}{
		{"bad policy", func(m *ManagedSettings) { m.MaxMemoryPolicy = "lru" }},
		{"bad fsync", func(m *ManagedSettings) { m.AppendFsync = "sometimes" }},
		{"bad save", func(m *ManagedSettings) { m.Save = "1" }},
		{"negative maxmemory", func(m *ManagedSettings) { m.MaxMemory = -5 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := want
			bad.MaxMemory = 2 << 20 // valid, must not apply with the bad one
			tc.mod(&bad)
			if err := s.Reconfigure(bad); err == nil {
				t.Fatal("Reconfigure accepted bad settings")
			}
			if err := bad.Validate(); err == nil {
				t.Error("Validate accepted bad settings")
			}
			if mm, _ := s.cfg.Get("maxmemory"); mm != "1048576" {
				t.Errorf("maxmemory after a refused Reconfigure = %s: not atomic", mm)
			}
		})
	}
}

func TestManagedSettingsApply(t *testing.T) {
	cfg := DefaultConfig()
	m := ManagedSettings{MaxMemory: 64 << 20, MaxMemoryPolicy: "volatile-ttl", RequirePass: "p",
		AppendOnly: true, AppendFsync: "everysec"}
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.MaxMemory != 64<<20 || cfg.MaxMemoryPolicy != "volatile-ttl" || cfg.RequirePass != "p" ||
		!cfg.AppendOnly || cfg.AppendFsync != "everysec" || len(cfg.Save) != 0 {
		t.Errorf("config after Apply: %+v", cfg)
	}
	m.Save = "3600 1 300 100"
	if err := m.Apply(cfg); err != nil || len(cfg.Save) != 2 || cfg.Save[1] != (SaveParam{300, 100}) {
		t.Errorf("save after Apply = %v, %v", cfg.Save, err)
	}
}

func TestManagedStatus(t *testing.T) {
	ctx := context.Background()
	s, rc := testServer(t, func(c *Config) { c.MaxMemory = 5 << 20 })
	for _, k := range []string{"a", "b", "c"} {
		if err := rc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rc.Do(ctx, "SELECT", "3").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Set(ctx, "d", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	other := newClient(t, s, 2)
	if err := other.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if st.Role != "primary" || st.Keys != 4 || st.MaxMemory != 5<<20 || st.ConnectedClients != 2 ||
		st.TotalCommands < 6 || st.UsedMemory <= 0 {
		t.Errorf("Status = %+v", st)
	}
}

func TestManagedReplicaOf(t *testing.T) {
	s, _ := testServer(t, nil)
	if err := s.ReplicaOf("", "pw"); err != nil {
		t.Errorf("ReplicaOf(no one) = %v", err)
	}
	if err := s.ReplicaOf("127.0.0.1:1", "pw"); err != nil {
		t.Fatalf("ReplicaOf(127.0.0.1:1) = %v", err)
	}
	if st := s.Status(); st.Role != "replica" {
		t.Errorf("Status().Role after ReplicaOf = %q, want replica", st.Role)
	}
	if err := s.ReplicaOf("no-port", "pw"); err == nil {
		t.Error("ReplicaOf without a port succeeded")
	}
	if err := s.ReplicaOf("", ""); err != nil {
		t.Errorf("ReplicaOf(promote) = %v", err)
	}
	if st := s.Status(); st.Role != "primary" {
		t.Errorf("Status().Role after promotion = %q, want primary", st.Role)
	}
}
