// Package wire holds the JSON messages of the control plane's internal API
// (/internal/v1), shared by the control plane, node hosts and proxies.
// Fields are only ever added; a peer ignores fields it does not know.
package wire

import "time"

// Paths of the internal API.
const (
	PathNodeRegister  = "/internal/v1/nodes/register"
	PathNodeHeartbeat = "/internal/v1/nodes/heartbeat"
	PathRoutes        = "/internal/v1/routes" // GET ?version=N&wait=30s long-polls
	PathUsage         = "/internal/v1/usage"  // POST UsageReport
	HeaderNodeToken   = "Authorization"       // "Bearer <node or proxy token>"
)

// NodeRegister is sent by a node host when it starts.
type NodeRegister struct {
	// Name is stable across restarts (defaults to the advertise address).
	Name      string `json:"name"`
	Advertise string `json:"advertise"` // host clients and peers reach it at
	PortMin   int    `json:"port_min"`
	PortMax   int    `json:"port_max"`
	MemoryMB  int64  `json:"memory_mb"` // capacity offered to shards
	Version   string `json:"version"`
}

// NodeRegistered answers NodeRegister.
type NodeRegistered struct {
	NodeID            string        `json:"node_id"`
	HeartbeatInterval time.Duration `json:"heartbeat_interval_ns"`
	// WriteLease is how long, from the moment it sent a heartbeat that
	// succeeded, the node's primaries may accept writes: a node cut off
	// from the control plane stops writing before it is declared down
	// and its shards fail over. 0: no lease (writes never stop).
	WriteLease time.Duration `json:"write_lease_ns,omitempty"`
}

// ShardStatus is what a node reports about one shard it runs.
type ShardStatus struct {
	ShardID     string `json:"shard_id"`
	Port        int    `json:"port"`
	Role        string `json:"role"` // "primary" | "replica"
	Epoch       int64  `json:"epoch"`
	ReplOffset  int64  `json:"repl_offset"`
	UsedMemory  int64  `json:"used_memory"`
	MaxMemory   int64  `json:"maxmemory"`
	Keys        int64  `json:"keys"`
	Ops         int64  `json:"ops"` // total commands processed since start
	Connections int    `json:"connections"`
	Error       string `json:"error,omitempty"` // why the shard is not running as desired
	// MasterLinkStatus is a replica's link with its primary, as INFO's
	// master_link_status: "up" or "down"; "" from a primary or an older
	// node that does not report it.
	MasterLinkStatus string `json:"master_link_status,omitempty"`
	// SyncInProgress: a replica is receiving a full sync.
	SyncInProgress bool `json:"sync_in_progress,omitempty"`
	// LeaseExpired: a primary's write lease ran out; it refuses writes.
	LeaseExpired bool `json:"lease_expired,omitempty"`
}

// NodeHeartbeat is sent by a node host every interval.
type NodeHeartbeat struct {
	NodeID string        `json:"node_id"`
	Shards []ShardStatus `json:"shards"`
}

// DesiredShard is one shard the control plane wants a node to run.
type DesiredShard struct {
	ShardID        string `json:"shard_id"`
	DatabaseID     string `json:"database_id"`
	Port           int    `json:"port"`
	Role           string `json:"role"`                 // "primary" | "replica"
	ReplicaOf      string `json:"replica_of,omitempty"` // host:port of the primary, for replicas
	Epoch          int64  `json:"epoch"`
	MaxMemory      int64  `json:"maxmemory"` // bytes
	EvictionPolicy string `json:"eviction_policy"`
	Persistence    string `json:"persistence"` // none | rdb | aof-everysec | aof-always
	Password       string `json:"password"`    // the shard's internal password (requirepass)
}

// NodeDesired answers a heartbeat with the node's full desired state.
type NodeDesired struct {
	Shards []DesiredShard `json:"shards"`
	// Drain asks the node to accept no new shards; existing ones stay
	// until the control plane moves them.
	Drain bool `json:"drain"`
}

// Limits are a database's quotas, enforced by the proxy.
type Limits struct {
	MemoryMB             int64 `json:"memory_mb"`
	MaxConnections       int   `json:"max_connections"`
	OpsPerSec            int   `json:"ops_per_sec"`
	MaxRequestBytes      int64 `json:"max_request_bytes"`
	BandwidthBytesPerSec int64 `json:"bandwidth_bytes_per_sec"`
}

// SlotRange is an inclusive range of hash slots.
type SlotRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// ShardRoute says where one shard of a database is served.
type ShardRoute struct {
	ShardID  string      `json:"shard_id"`
	Slots    []SlotRange `json:"slots"`
	Primary  string      `json:"primary"` // host:port
	Replicas []string    `json:"replicas,omitempty"`
	Epoch    int64       `json:"epoch"`
	Password string      `json:"password"` // internal password the proxy AUTHs with
}

// DatabaseRoute is everything a proxy needs to serve one database.
type DatabaseRoute struct {
	ID string `json:"id"`
	// PasswordDigest is hex(SHA-256(password)); passwords carry at least
	// 128 random bits, so a fast digest does not weaken them.
	PasswordDigest string       `json:"password_digest"`
	Limits         Limits       `json:"limits"`
	Shards         []ShardRoute `json:"shards"`
	Status         string       `json:"status"` // only "active" databases are served
}

// Routes is the proxies' view of every database, versioned: a proxy
// long-polls with the version it has and gets a newer one when it exists.
type Routes struct {
	Version   int64           `json:"version"`
	Databases []DatabaseRoute `json:"databases"`
}

// DatabaseUsage is one database's usage over a report interval.
type DatabaseUsage struct {
	DatabaseID  string `json:"database_id"`
	Ops         int64  `json:"ops"`
	BytesIn     int64  `json:"bytes_in"`
	BytesOut    int64  `json:"bytes_out"`
	Connections int    `json:"connections"` // open at the end of the interval
	Errors      int64  `json:"errors"`
	Rejected    int64  `json:"rejected"` // requests refused by a quota
}

// UsageReport is sent by a proxy every interval.
type UsageReport struct {
	ProxyID   string          `json:"proxy_id"`
	Start     time.Time       `json:"start"`
	End       time.Time       `json:"end"`
	Databases []DatabaseUsage `json:"databases"`
}
