package host

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options configure a node host. Main fills them from flags and the
// environment; in-process callers (the control plane's dev mode, tests)
// fill them directly.
type Options struct {
	// ControlPlane is the control plane's base URL, e.g. http://cp:8080.
	ControlPlane string
	// NodeToken authenticates this node to /internal/v1.
	NodeToken string
	// Advertise is the host name or IP at which proxies and peers reach
	// this node's shards.
	Advertise string
	// PortMin and PortMax bound the ports the control plane may assign.
	PortMin, PortMax int
	// DataDir holds state.json and one directory per shard.
	DataDir string
	// MemoryMB is the memory offered to shards; 0 means from the machine.
	MemoryMB int64
	// Name is stable across restarts; it defaults to Advertise.
	Name string
	// Bind is the address shards listen on: "*" for all interfaces. It
	// defaults to Advertise when that is a loopback IP (a laptop), and to
	// all interfaces otherwise (Advertise may be a NAT or DNS name).
	Bind string
	// MaxBackoff caps the wait between attempts to reach an unreachable
	// control plane; 0 means 30 s.
	MaxBackoff time.Duration
	// RequestTimeout bounds one HTTP request; 0 means 10 s.
	RequestTimeout time.Duration
	// WriteLease overrides the write lease the control plane asks for
	// (wire.NodeRegistered.WriteLease): after each successful heartbeat
	// the primaries here accept writes for this long, measured from when
	// the heartbeat was sent. 0 takes the control plane's; negative
	// turns the lease off.
	WriteLease time.Duration
}

const (
	defaultDataDir        = "./.keyfleet/node"
	defaultMaxBackoff     = 30 * time.Second
	defaultRequestTimeout = 10 * time.Second
	defaultHeartbeat      = 5 * time.Second
	minHeartbeat          = 10 * time.Millisecond
)

// withDefaults validates o and fills in what was left out.
func (o Options) withDefaults() (Options, error) {
	if o.ControlPlane == "" {
		return o, errors.New("--controlplane is required (the control plane's URL)")
	}
	u, err := url.Parse(o.ControlPlane)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("--controlplane %q is not an http(s) URL", o.ControlPlane)
	}
	o.ControlPlane = strings.TrimRight(o.ControlPlane, "/")
	if o.NodeToken == "" {
		return o, errors.New("--node-token is required")
	}
	if o.Advertise == "" {
		return o, errors.New("--advertise is required (the host or IP proxies reach this node at)")
	}
	if o.PortMin < 1 || o.PortMax > 65535 || o.PortMin > o.PortMax {
		return o, fmt.Errorf("port range %d-%d is not within 1-65535 with min <= max", o.PortMin, o.PortMax)
	}
	if o.DataDir == "" {
		o.DataDir = defaultDataDir
	}
	if o.MemoryMB < 0 {
		return o, fmt.Errorf("--memory-mb %d is negative", o.MemoryMB)
	}
	if o.MemoryMB == 0 {
		o.MemoryMB = machineMemoryMB()
	}
	if o.Name == "" {
		o.Name = o.Advertise
	}
	if o.Bind == "" {
		o.Bind = "*"
		if ip := net.ParseIP(o.Advertise); ip != nil && ip.IsLoopback() {
			o.Bind = o.Advertise
		}
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultRequestTimeout
	}
	return o, nil
}

// ParsePorts reads a port range "A-B" or a single port "A".
func ParsePorts(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	lo, err = strconv.Atoi(a)
	if err != nil {
		return 0, 0, fmt.Errorf("ports %q: want A-B", s)
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil {
			return 0, 0, fmt.Errorf("ports %q: want A-B", s)
		}
	}
	if lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("ports %q: want 1 <= A <= B <= 65535", s)
	}
	return lo, hi, nil
}

// IsManaged reports whether a node command line asks for managed mode:
// a --controlplane flag, or KEYFLEET_CONTROLPLANE in the environment.
func IsManaged(args []string, getenv func(string) string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "controlplane" {
			return true
		}
	}
	return getenv("KEYFLEET_CONTROLPLANE") != ""
}

// ParseFlags reads managed-mode flags; each flag's default comes from the
// environment variable KEYFLEET_<FLAG> (dashes as underscores), and a flag
// on the command line wins over it.
func ParseFlags(args []string, getenv func(string) string, stderr io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("node (managed mode)", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name string) string {
		return getenv("KEYFLEET_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	str := func(p *string, name, usage string) { fs.StringVar(p, name, env(name), usage) }
	var ports, memory, lease string
	str(&o.ControlPlane, "controlplane", "control plane base URL (required)")
	str(&o.NodeToken, "node-token", "token authenticating this node to the control plane (required)")
	str(&o.Advertise, "advertise", "host or IP at which proxies reach this node's shards (required)")
	str(&ports, "ports", "port range for shards, A-B (required)")
	str(&o.DataDir, "data-dir", "directory for state.json and shard data (default "+defaultDataDir+")")
	str(&memory, "memory-mb", "memory offered to shards in MB (default: 3/4 of the machine's or cgroup's)")
	str(&o.Name, "name", "stable node name (default: the advertise address)")
	str(&o.Bind, "bind", "address shards listen on, * for all (default: advertise if loopback, else *)")
	str(&lease, "write-lease", "how long primaries accept writes after a successful heartbeat, e.g. 2s; off to never fence (default: the control plane's, 3/4 of its failover timeout)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q in managed mode", fs.Arg(0))
	}
	if ports == "" {
		return o, errors.New("--ports is required (e.g. 7000-7999)")
	}
	var err error
	if o.PortMin, o.PortMax, err = ParsePorts(ports); err != nil {
		return o, fmt.Errorf("--ports: %w", err)
	}
	if memory != "" {
		if o.MemoryMB, err = strconv.ParseInt(memory, 10, 64); err != nil || o.MemoryMB < 0 {
			return o, fmt.Errorf("--memory-mb %q is not a non-negative number of megabytes", memory)
		}
	}
	switch lease {
	case "":
	case "off":
		o.WriteLease = -1
	default:
		if o.WriteLease, err = time.ParseDuration(lease); err != nil || o.WriteLease <= 0 {
			return o, fmt.Errorf("--write-lease %q is not a positive duration or off", lease)
		}
	}
	return o.withDefaults()
}

// machineMemoryMB offers three quarters of the machine's memory, or of the
// cgroup's limit when the node runs in a container: the rest is headroom
// for the Go runtime and connection buffers, which maxmemory does not count.
func machineMemoryMB() int64 {
	total := int64(0)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					total = kb << 10
				}
			}
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if lim, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && lim > 0 && (total == 0 || lim < total) {
			total = lim
		}
	}
	if total <= 0 {
		return 1024
	}
	return max(total/4*3>>20, 64)
}
