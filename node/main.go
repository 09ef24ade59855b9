package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// Usage is the standalone node's --help text, after redis-server's.
const Usage = `Usage: node [/path/to/redis.conf] [options] [-]
       node - (read config from stdin)
       node -v or --version
       node -h or --help

Examples:
       node (run the server with default conf)
       echo 'maxmemory 128mb' | node -
       node /etc/redis/6379.conf
       node --port 7777
       node --port 7777 --replicaof 127.0.0.1 8888
       node /etc/myredis.conf --loglevel verbose -
       node /etc/myredis.conf --loglevel verbose

Managed mode:
       node --controlplane URL --node-token T --advertise HOST --ports 7000-7999
`

// ErrUsage is returned after --help printed the usage: redis-server exits
// with status 1 then.
var ErrUsage = errors.New("usage requested")

// Main runs a standalone node from command-line arguments exactly as
// redis-server takes them: an optional config file first, then
// "--directive value ..." options that override it, and "-" to read more
// configuration from stdin. Configuration errors are *ConfigError, whose
// text is redis-server's fatal error report.
func Main(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := ParseArgs(args, stdout, os.Stdin)
	if err != nil || cfg == nil {
		return err
	}
	if exe, err := os.Executable(); err == nil {
		cfg.Executable = exe
	}
	if cfg.Daemonize && os.Getenv(daemonEnv) != "1" {
		return daemonize(cfg.Executable, args)
	}
	if cfg.Daemonize && cfg.PidFile == "" {
		cfg.PidFile = defaultPidFile
	}
	if cfg.PidFile != "" {
		// As Redis, a pid file that cannot be written is only logged.
		if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err == nil {
			defer os.Remove(cfg.PidFile)
		}
	}
	// As redis-server, the node logs to logfile, or to stdout when it is
	// "", at loglevel (which CONFIG SET loglevel changes).
	out := io.Writer(os.Stdout)
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return &ConfigError{Msg: "Can't open the log file: " + strerror(err)}
		}
		defer f.Close()
		out = f
	}
	level := new(slog.LevelVar)
	level.Set(slogLevel(cfg.LogLevel))
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	// Redis's start-up lines, which tools (and Redis's test suite) read.
	logger.Warn(fmt.Sprintf("Redis version=%s, bits=%d, keyfleet=%s, PID: %d, just started",
		Version, strconv.IntSize, KeyfleetVersion, os.Getpid()))
	if cfg.ConfigFile == "" {
		logger.Warn("Warning: no config file specified, using the default config.")
	} else {
		logger.Warn("Configuration loaded", "file", cfg.ConfigFile)
	}
	s := New(cfg, logger)
	s.ext[logLevelExt] = level
	// One shard owns the process: its maxmemory bounds the Go heap too
	// (memory.go), unless the operator set GOMEMLIMIT.
	if cfg.MaxMemory > 0 && os.Getenv("GOMEMLIMIT") == "" {
		SetProcessMemoryLimit(cfg.MaxMemory)
	}
	// GOGC follows the live heap (gcpolicy.go).
	if err := StartGCPolicy(ctx); err != nil {
		return &ConfigError{Msg: err.Error()}
	}
	// SIGTERM and SIGINT shut down as Redis does (shutdown.go), from the
	// load at start on.
	ctx, exit := context.WithCancel(ctx)
	defer exit()
	defer s.handleSignals(exit)()
	if err := s.LoadData(); err != nil { // persistence.go
		return err
	}
	if err := s.Listen(); err != nil {
		logger.Warn(fmt.Sprintf("Failed listening on port %d (TCP), aborting.", cfg.Port), "err", err)
		return err
	}
	return s.Run(ctx)
}

// logLevelExt holds the *slog.LevelVar of a server whose logger follows
// loglevel.
const logLevelExt = "loglevel"

// slogLevel maps Redis's log levels to slog's.
func slogLevel(l string) slog.Level {
	switch l {
	case "debug", "verbose":
		return slog.LevelDebug
	case "warning":
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// ParseArgs builds the configuration from redis-server style arguments.
// It returns a nil Config and nil error when the arguments only asked for
// the version.
func ParseArgs(args []string, stdout io.Writer, stdin io.Reader) (*Config, error) {
	file := ""
	if len(args) > 0 {
		switch args[0] {
		case "-v", "--version":
			fmt.Fprintf(stdout, "Redis server v=%s sha=00000000:0 malloc=go bits=64 build=keyfleet-%s\n", Version, KeyfleetVersion)
			return nil, nil
		case "-h", "--help":
			fmt.Fprint(stdout, Usage)
			return nil, ErrUsage
		}
		if args[0] != "" && args[0][0] != '-' {
			file = args[0]
			args = args[1:]
		}
	}
	options, fromStdin := argsToOptions(args, file == "")
	var in []byte
	if fromStdin {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read configuration from stdin: %w", err)
		}
		in = data
	}
	if file != "" {
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
	}
	return LoadConfig(file, in, options)
}

// daemonEnv marks the child started by daemonize.
const daemonEnv = "KEYFLEET_NODE_DAEMONIZED"

// defaultPidFile is Redis's pid file for a daemonized server without one.
const defaultPidFile = "/var/run/redis.pid"

// daemonize runs the node again in the background, detached from the
// terminal in a session of its own, as "daemonize yes" asks (Go cannot
// fork a running runtime, so it re-executes itself). The configuration is
// read again by the child; one given on stdin is not passed on.
func daemonize(exe string, args []string) error {
	if exe == "" {
		return errors.New("daemonize: cannot find the node's executable")
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("daemonize: %w", err)
	}
	return cmd.Process.Release()
}
