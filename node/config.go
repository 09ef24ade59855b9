package node

// Config is a shard's configuration. Field names follow the redis.conf
// directive they hold; the registry in configtable.go maps directive names
// to fields with their types, defaults, ranges and CONFIG SET behaviour.
type Config struct {
	Port        int
	Bind        []string
	Dir         string
	DBFilename  string
	RequirePass string
	Databases   int
	Hz          int
	MaxClients  int

	MaxMemory        int64
	MaxMemoryPolicy  string
	MaxMemorySamples int

	AppendOnly  bool
	AppendFsync string

	ProtoMaxBulkLen        int64
	ClientQueryBufferLimit int64

	NotifyKeyspaceEvents string
	ActiveExpireEffort   int

	SlowlogLogSlowerThan int64
	SlowlogMaxLen        int

	LuaTimeLimit int64

	EnableDebugCommand     string // yes|no|local
	EnableProtectedConfigs string
	EnableModuleCommand    string
}

// DefaultConfig returns Redis 7.0's defaults.
func DefaultConfig() *Config {
	return &Config{
		Port:                   6379,
		Bind:                   []string{"*", "-::*"},
		Dir:                    ".",
		DBFilename:             "dump.rdb",
		Databases:              16,
		Hz:                     10,
		MaxClients:             10000,
		MaxMemoryPolicy:        "noeviction",
		MaxMemorySamples:       5,
		AppendFsync:            "everysec",
		ProtoMaxBulkLen:        512 << 20,
		ClientQueryBufferLimit: 1 << 30,
		ActiveExpireEffort:     1,
		SlowlogLogSlowerThan:   10000,
		SlowlogMaxLen:          128,
		LuaTimeLimit:           5000,
		EnableDebugCommand:     "no",
		EnableProtectedConfigs: "no",
		EnableModuleCommand:    "no",
	}
}
