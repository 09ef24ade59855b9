package proxy

// rules returns how the proxy treats every command it does not simply
// route by its keys. Names are the command table's: lower case, and
// "container|sub" for subcommands handled on their own. Anything not
// listed here, and known to the command table, is routed by key (keyless
// ones to the first shard).
func rules() map[string]rule {
	r := map[string]rule{
		// Connection.
		"auth":      {handler: authCommand, preAuth: true, inSub: true},
		"hello":     {handler: helloCommand, preAuth: true, inSub: true},
		"ping":      {handler: pingCommand, preAuth: true, inSub: true},
		"quit":      {handler: quitCommand, preAuth: true, inSub: true, txnControl: true},
		"reset":     {handler: resetCommand, preAuth: true, inSub: true, txnControl: true},
		"echo":      {handler: echoCommand},
		"select":    {handler: selectCommand},
		"time":      {handler: timeCommand},
		"role":      {handler: roleCommand},
		"client":    {handler: clientCommand},
		"readonly":  {handler: okCommand},
		"readwrite": {handler: okCommand},
		"asking":    {handler: okCommand},

		// Transactions.
		"multi":   {handler: multiCommand, txnControl: true},
		"exec":    {handler: execCommand, txnControl: true},
		"discard": {handler: discardCommand, txnControl: true},
		"watch":   {handler: watchCommand, txnControl: true},
		"unwatch": {handler: unwatchCommand},

		// Split and merged, or fanned out.
		"mget":      {handler: mgetCommand},
		"mset":      {handler: msetCommand},
		"del":       {handler: sumKeysCommand},
		"unlink":    {handler: sumKeysCommand},
		"exists":    {handler: sumKeysCommand},
		"touch":     {handler: sumKeysCommand},
		"keys":      {handler: keysCommand},
		"scan":      {handler: scanCommand},
		"dbsize":    {handler: dbsizeCommand},
		"flushdb":   {handler: flushCommand},
		"flushall":  {handler: flushCommand},
		"randomkey": {handler: randomkeyCommand},

		// Blocking.
		"blpop":      {handler: blockingCommand},
		"brpop":      {handler: blockingCommand},
		"brpoplpush": {handler: blockingCommand},
		"blmove":     {handler: blockingCommand},
		"blmpop":     {handler: blockingCommand},
		"bzpopmin":   {handler: blockingCommand},
		"bzpopmax":   {handler: blockingCommand},
		"bzmpop":     {handler: blockingCommand},
		"xread":      {handler: blockingCommand},
		"xreadgroup": {handler: blockingCommand},
		"wait":       {handler: waitCommand},

		// Pub/sub.
		"subscribe":    {handler: subscribeCommand, inSub: true},
		"psubscribe":   {handler: subscribeCommand, inSub: true},
		"unsubscribe":  {handler: unsubscribeCommand, inSub: true},
		"punsubscribe": {handler: unsubscribeCommand, inSub: true},
		"ssubscribe":   {handler: ssubscribeCommand, inSub: true},
		"sunsubscribe": {handler: sunsubscribeCommand, inSub: true},
		"publish":      {handler: publishCommand},
		"spublish":     {handler: spublishCommand},
		"pubsub":       {handler: pubsubCommand},

		// Introspection and administration, scoped.
		"info":     {handler: infoCommand},
		"config":   {handler: configCommand},
		"cluster":  {handler: clusterCommand},
		"acl":      {handler: aclCommand},
		"script":   {handler: scriptCommand},
		"function": {handler: functionCommand},
		"slowlog":  {handler: slowlogCommand},
		"latency":  {handler: latencyCommand},
		"memory":   {handler: memoryCommand},
		"command":  {handler: shard0Command},
		"lastsave": {handler: shard0Command},
		"lolwut":   {handler: shard0Command},
		"swapdb":   {handler: oneShardOnly},
		"move":     {handler: moveCommand},
		"copy":     {handler: copyCommand},
		"debug":    {handler: debugCommand},
	}
	// Refused: they would reach beyond the tenant's data (the host, the
	// replication topology, other connections) or change what the control
	// plane owns.
	for _, name := range []string{
		"monitor", "shutdown", "replicaof", "slaveof", "module",
		"save", "bgsave", "bgrewriteaof", "migrate", "sync", "psync",
		"replconf", "failover", "sentinel",
	} {
		r[name] = rule{handler: denyCommand}
	}
	return r
}
