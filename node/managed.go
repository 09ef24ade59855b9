package node

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file is the engine's surface for managed mode (node/host): the host
// runs many Servers in one process and changes or inspects them from its
// own goroutine, so every method here takes the shard lock like a command.

// ManagedSettings are the parts of a shard's configuration that the host
// changes on a running engine without restarting it. They go through the
// configuration registry, so they are checked and take effect exactly as
// CONFIG SET of the same directives would.
type ManagedSettings struct {
	MaxMemory       int64  // bytes; 0 means no limit
	MaxMemoryPolicy string // one of Redis's eight policies
	RequirePass     string
	AppendOnly      bool
	AppendFsync     string // always | everysec | no
	// Save is the snapshot schedule as the save directive takes it,
	// e.g. "3600 1 300 100"; "" turns snapshots off.
	Save string
}

// ErrReplicationUnavailable is returned by ReplicaOf while the engine has
// no replication: the host records it in the shard's status so that the
// control plane does not count the replica as serving.
var ErrReplicationUnavailable = errors.New("replication is not available in this engine yet")

// directives lists the settings as CONFIG SET name/value pairs.
func (m ManagedSettings) directives() [][2]string {
	yesNo := "no"
	if m.AppendOnly {
		yesNo = "yes"
	}
	return [][2]string{
		{"maxmemory", strconv.FormatInt(m.MaxMemory, 10)},
		{"maxmemory-policy", m.MaxMemoryPolicy},
		{"requirepass", m.RequirePass},
		{"appendonly", yesNo},
		{"appendfsync", m.AppendFsync},
		{"save", m.Save},
	}
}

// Apply writes the settings into a Config that has not been started yet,
// checking each as a config file line.
func (m ManagedSettings) Apply(cfg *Config) error {
	if m.MaxMemory < 0 {
		return fmt.Errorf("maxmemory %d is negative", m.MaxMemory)
	}
	for _, d := range m.directives() {
		args := strings.Fields(d[1])
		if d[0] != "save" {
			args = []string{d[1]}
		} else if len(args) == 0 {
			args = []string{""}
		}
		if err := cfg.Set(d[0], args...); err != nil {
			return fmt.Errorf("%s %q: %w", d[0], d[1], err)
		}
	}
	return nil
}

// Validate checks the settings without applying them anywhere.
func (m ManagedSettings) Validate() error { return m.Apply(DefaultConfig()) }

// Reconfigure changes a running shard's settings between two commands, as
// one CONFIG SET of all of them: either all apply (with their side effects,
// such as AOF starting) or, when one fails, none. As with CONFIG SET
// requirepass, connections that already authenticated stay in after a
// password change.
func (s *Server) Reconfigure(m ManagedSettings) error {
	if m.MaxMemory < 0 {
		return fmt.Errorf("reconfigure shard: maxmemory %d is negative", m.MaxMemory)
	}
	args := [][]byte{[]byte("config"), []byte("set")}
	for _, d := range m.directives() {
		args = append(args, []byte(d[0]), []byte(d[1]))
	}
	// An internal client: no connection, no stats, invisible to MONITOR.
	c := &Client{resp: 2, authenticated: true, addr: "managed:0"}
	s.mu.Lock()
	s.updateClock(time.Now())
	configSetCommand(s, c, args)
	s.mu.Unlock()
	if len(c.out) > 0 && c.out[0] == '-' {
		return fmt.Errorf("reconfigure shard: %s", strings.TrimSpace(string(c.out[1:])))
	}
	return nil
}

// ReplicaOf makes the shard a replica of primary ("host:port"), using auth
// as masterauth, or a primary again when primary is empty. Until the
// engine has replication, asking for a replica fails with
// ErrReplicationUnavailable and the shard keeps serving as a primary.
func (s *Server) ReplicaOf(primary, auth string) error {
	if primary == "" {
		return nil
	}
	return fmt.Errorf("replicaof %s: %w", primary, ErrReplicationUnavailable)
}

// ManagedStatus is a snapshot of what the host reports for a shard.
type ManagedStatus struct {
	Role             string // "primary" | "replica"
	ReplOffset       int64
	UsedMemory       int64
	MaxMemory        int64
	Keys             int64 // in all logical databases, expired-but-not-reclaimed included, as DBSIZE
	TotalCommands    int64
	ConnectedClients int
}

// Status takes a snapshot of the shard's state under its lock.
func (s *Server) Status() ManagedStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ManagedStatus{
		Role:             "primary",
		MaxMemory:        s.cfg.MaxMemory,
		TotalCommands:    s.stats.totalCommands,
		ConnectedClients: len(s.clients),
		UsedMemory:       s.usedMemory(),
		// ReplOffset stays 0 until replication exists.
	}
	if s.isReplica() {
		st.Role = "replica"
	}
	for _, db := range s.dbs {
		st.Keys += int64(db.ks.Len())
	}
	return st
}
