package node

import (
	"errors"
	"fmt"
	"slices"
)

// This file is the engine's surface for managed mode (node/host): the host
// runs many Servers in one process and changes or inspects them from its
// own goroutine, so every method here takes the shard lock like a command.

// EvictionPolicies are the maxmemory-policy values Redis 7.0 accepts.
var EvictionPolicies = []string{
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
	"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
}

// ManagedSettings are the parts of a shard's configuration that the host
// changes on a running engine without restarting it.
type ManagedSettings struct {
	MaxMemory       int64  // bytes; 0 means no limit
	MaxMemoryPolicy string // one of EvictionPolicies
	RequirePass     string
	AppendOnly      bool
	AppendFsync     string // always | everysec | no
}

// ErrReplicationUnavailable is returned by ReplicaOf while the engine has
// no replication: the host records it in the shard's status so that the
// control plane does not count the replica as serving.
var ErrReplicationUnavailable = errors.New("replication is not available in this engine yet")

// Validate checks the settings as CONFIG SET would, before anything is
// applied.
func (m ManagedSettings) Validate() error {
	if m.MaxMemory < 0 {
		return fmt.Errorf("maxmemory %d is negative", m.MaxMemory)
	}
	if !slices.Contains(EvictionPolicies, m.MaxMemoryPolicy) {
		return fmt.Errorf("maxmemory-policy %q is not one of %v", m.MaxMemoryPolicy, EvictionPolicies)
	}
	switch m.AppendFsync {
	case "always", "everysec", "no":
	default:
		return fmt.Errorf("appendfsync %q is not one of always, everysec, no", m.AppendFsync)
	}
	return nil
}

// Apply writes the settings into a Config that has not been started yet.
func (m ManagedSettings) Apply(cfg *Config) {
	cfg.MaxMemory = m.MaxMemory
	cfg.MaxMemoryPolicy = m.MaxMemoryPolicy
	cfg.RequirePass = m.RequirePass
	cfg.AppendOnly = m.AppendOnly
	cfg.AppendFsync = m.AppendFsync
}

// Reconfigure changes a running shard's settings atomically between two
// commands: either all of them apply or, when one is invalid, none.
// As with CONFIG SET requirepass, connections that already authenticated
// stay authenticated after a password change.
func (s *Server) Reconfigure(m ManagedSettings) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("reconfigure shard: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m.Apply(s.cfg)
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
		// UsedMemory stays 0 until the engine's memory accounting
		// (usedMemory, from the INFO work) exists; ReplOffset until
		// replication exists.
	}
	if s.isReplica() {
		st.Role = "replica"
	}
	for _, db := range s.dbs {
		st.Keys += int64(db.ks.Len())
	}
	return st
}
