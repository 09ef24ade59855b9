package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/node/host"
)

// Dev mode's node hosts: shard hosts in this process (three by default,
// so that databases with replicas can be placed and failed over from the
// console), each registered with this control plane over loopback HTTP
// with the dev node token, exactly as a separate `node --controlplane ...`
// process would be.
func init() {
	ext.Components = append(ext.Components, controlplane.Component{Name: "node host", Start: startDevNode})
}

// Dev node defaults; KEYFLEET_DEV_NODE_PORTS, KEYFLEET_DEV_NODE_MEMORY_MB
// (per node host) and KEYFLEET_DEV_NODES override them (e.g. to run two
// dev platforms on one machine). The port range is split between the hosts.
const (
	devNodePorts = "7100-7199"
	devNodes     = 3
)

func startDevNode(ctx context.Context, env controlplane.Env) error {
	ports := devNodePorts
	if v := os.Getenv("KEYFLEET_DEV_NODE_PORTS"); v != "" {
		ports = v
	}
	lo, hi, err := host.ParsePorts(ports)
	if err != nil {
		return fmt.Errorf("KEYFLEET_DEV_NODE_PORTS: %w", err)
	}
	var memoryMB int64 // 0: from the machine
	if v := os.Getenv("KEYFLEET_DEV_NODE_MEMORY_MB"); v != "" {
		if _, err := fmt.Sscan(v, &memoryMB); err != nil || memoryMB < 0 {
			return fmt.Errorf("KEYFLEET_DEV_NODE_MEMORY_MB=%q is not a number of megabytes", v)
		}
	}
	n := devNodes
	if v := os.Getenv("KEYFLEET_DEV_NODES"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 || n > 16 {
			return fmt.Errorf("KEYFLEET_DEV_NODES=%q is not a number of node hosts from 1 to 16", v)
		}
	}
	per := (hi - lo + 1) / n
	if per < 1 {
		return fmt.Errorf("KEYFLEET_DEV_NODE_PORTS %s has fewer ports than the %d node hosts", ports, n)
	}
	errs := make(chan error, n)
	for i := range n {
		name, dir := "dev-node", filepath.Join(env.DataDir, "node")
		if i > 0 {
			// The first keeps the single-host names, so existing dev data resumes.
			name, dir = fmt.Sprintf("dev-node-%d", i+1), filepath.Join(env.DataDir, fmt.Sprintf("node-%d", i+1))
		}
		opts := host.Options{
			ControlPlane: env.ControlPlaneURL,
			NodeToken:    env.NodeToken,
			Advertise:    "127.0.0.1",
			PortMin:      lo + i*per,
			PortMax:      lo + (i+1)*per - 1,
			DataDir:      dir,
			MemoryMB:     memoryMB,
			Name:         name,
		}
		go func() { errs <- host.Run(ctx, opts, env.Log.With("component", "node", "node", name)) }()
	}
	// One host failing stops dev mode at once, as a single host did: the
	// control plane cancels ctx, which ends the others.
	for range n {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}
