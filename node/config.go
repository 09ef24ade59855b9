package node

import (
	"errors"
	"maps"
	"slices"
)

// Config is a shard's configuration. Field names follow the redis.conf
// directive they hold; the registry in configtable.go maps every Redis 7.0
// directive to a field (when the engine reads it) or to the extra map (when
// it is only stored and reported), with its type, default, range and
// CONFIG SET behaviour. DefaultConfig fills every value from that registry,
// so the defaults live in one place.
type Config struct {
	// Networking and clients.
	Port           int
	Bind           []string
	ProtectedMode  bool
	TCPBacklog     int
	TCPKeepalive   int
	Timeout        int // idle client timeout, seconds; 0 = never
	MaxClients     int
	UnixSocket     string
	UnixSocketPerm int64

	// Files and persistence.
	Dir                     string // absolute once loaded
	DBFilename              string
	Save                    []SaveParam
	RDBCompression          bool
	RDBChecksum             bool
	RDBDelSyncFiles         bool
	RDBSaveIncrementalFsync bool
	StopWritesOnBgsaveError bool
	RDBKeySaveDelay         int
	KeyLoadDelay            int

	AppendOnly                 bool
	AppendFsync                string // always | everysec | no
	AppendFilename             string
	AppendDirname              string
	NoAppendfsyncOnRewrite     bool
	AutoAOFRewritePercentage   int
	AutoAOFRewriteMinSize      int64
	AOFLoadTruncated           bool
	AOFUseRDBPreamble          bool
	AOFTimestampEnabled        bool
	AOFRewriteIncrementalFsync bool
	AOFDisableAutoGC           bool

	// Security.
	RequirePass            string
	AclFile                string
	AclLogMaxLen           int64
	AclPubsubDefault       string // allchannels | resetchannels
	EnableDebugCommand     string // yes | no | local
	EnableProtectedConfigs string
	EnableModuleCommand    string

	// Databases and the command loop.
	Databases          int
	Hz                 int // configured hz, clamped to 1..500
	DynamicHz          bool
	ActiveExpireEffort int
	ActiveRehashing    bool

	// Memory and eviction.
	MaxMemory                 int64
	MaxMemoryPolicy           string
	MaxMemorySamples          int
	MaxMemoryEvictionTenacity int
	MaxMemoryClients          int64 // bytes, or -percent of maxmemory
	LFULogFactor              int
	LFUDecayTime              int
	LazyfreeLazyEviction      bool
	LazyfreeLazyExpire        bool
	LazyfreeLazyServerDel     bool
	LazyfreeLazyUserDel       bool
	LazyfreeLazyUserFlush     bool

	// Protocol limits.
	ProtoMaxBulkLen         int64
	ClientQueryBufferLimit  int64
	ClientOutputBufferLimit [3]ObufLimit // normal, replica, pubsub

	// Keyspace events, tracking.
	NotifyKeyspaceEvents string // canonical flags as CONFIG GET shows them
	notifyFlags          int    // the parsed flags (notify* bits in db.go)
	TrackingTableMaxKeys int64

	// Encodings.
	HashMaxListpackEntries int64
	HashMaxListpackValue   int64
	ListMaxListpackSize    int
	ListCompressDepth      int
	SetMaxIntsetEntries    int64
	ZSetMaxListpackEntries int64
	ZSetMaxListpackValue   int64
	StreamNodeMaxBytes     int64
	StreamNodeMaxEntries   int64
	HLLSparseMaxBytes      int64

	// Diagnostics.
	SlowlogLogSlowerThan           int64
	SlowlogMaxLen                  int64
	LatencyMonitorThreshold        int64
	LatencyTracking                bool
	LatencyTrackingInfoPercentiles []float64
	LuaTimeLimit                   int64 // busy-reply-threshold, ms
	LogLevel                       string
	LogFile                        string
	SanitizeDumpPayload            string // no | yes | clients

	// Replication.
	ReplicaOf                ReplicaOf // empty Host: a primary
	MasterAuth               string
	MasterUser               string
	ReplicaReadOnly          bool
	ReplicaServeStaleData    bool
	ReplicaLazyFlush         bool
	ReplicaIgnoreMaxmemory   bool
	ReplicaPriority          int
	ReplicaAnnounced         bool
	ReplicaAnnounceIP        string
	ReplicaAnnouncePort      int
	ReplBacklogSize          int64
	ReplBacklogTTL           int64
	ReplTimeout              int
	ReplPingReplicaPeriod    int
	ReplDisklessSync         bool
	ReplDisklessSyncDelay    int
	ReplDisklessSyncMaxRepls int
	ReplDisklessLoad         string
	ReplDisableTCPNoDelay    bool
	MinReplicasToWrite       int
	MinReplicasMaxLag        int

	// Process.
	Daemonize         bool
	PidFile           string
	ShutdownOnSigint  int // SHUTDOWN flags: shutdownSave|NoSave|Now|Force
	ShutdownOnSigterm int
	ShutdownTimeout   int

	// extra holds the directives that are accepted, validated, reported and
	// rewritten but that the engine does not act on (cluster, TLS, syslog,
	// CPU lists, defrag, ...), keyed by directive name. Values are bool,
	// int64, int (enums) or string.
	extra map[string]any

	// RenameCommands records rename-command directives in file order; an
	// empty To removes the command.
	RenameCommands []RenameCommand

	// ConfigFile is the absolute path of the file the configuration was
	// loaded from, or "" (CONFIG REWRITE then refuses).
	ConfigFile string
	// Executable is the absolute path of the running binary (INFO).
	Executable string
}

// SaveParam is one "save <seconds> <changes>" point.
type SaveParam struct {
	Seconds int64
	Changes int64
}

// ObufLimit is one class of client-output-buffer-limit.
type ObufLimit struct {
	Hard, Soft  uint64
	SoftSeconds int64
}

// ReplicaOf is the replicaof directive: the primary to follow.
type ReplicaOf struct {
	Host string
	Port int
}

// RenameCommand is one rename-command directive.
type RenameCommand struct {
	From, To string
}

// Output buffer limit classes, in Redis's order.
const (
	obufNormal = iota
	obufReplica
	obufPubsub
)

// DefaultConfig returns Redis 7.0's defaults.
func DefaultConfig() *Config {
	c := &Config{extra: make(map[string]any)}
	for _, p := range configParams {
		p.kind.init(c)
	}
	return c
}

// Clone returns a deep copy of c: CONFIG SET keeps one to roll back.
func (c *Config) Clone() *Config {
	n := *c
	n.Bind = slices.Clone(c.Bind)
	n.Save = slices.Clone(c.Save)
	n.LatencyTrackingInfoPercentiles = slices.Clone(c.LatencyTrackingInfoPercentiles)
	n.RenameCommands = slices.Clone(c.RenameCommands)
	n.extra = maps.Clone(c.extra)
	if n.extra == nil {
		n.extra = make(map[string]any)
	}
	return &n
}

// Get returns the value of a directive as CONFIG GET reports it.
func (c *Config) Get(name string) (string, bool) {
	p := lookupConfig(name)
	if p == nil {
		return "", false
	}
	return p.kind.get(c), true
}

// Set applies one directive as a config file line "name arg ..." would
// (rename-command included). It does not apply the change to a running
// server: use CONFIG SET for that.
func (c *Config) Set(name string, args ...string) error {
	line := name
	for _, a := range args {
		line += " " + reprString(a)
	}
	if err := (&configLoader{}).load(c, line, func(int) string { return "" }); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			return errors.New(ce.Msg)
		}
		return err
	}
	return nil
}
