package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/node/host"
)

// Dev mode's node host: one shard host in this process, registered with
// this control plane over loopback HTTP with the dev node token, exactly
// as a separate `node --controlplane ...` process would be.
func init() {
	ext.Components = append(ext.Components, controlplane.Component{Name: "node host", Start: startDevNode})
}

// Dev node defaults; KEYFLEET_DEV_NODE_PORTS and KEYFLEET_DEV_NODE_MEMORY_MB
// override them (e.g. to run two dev platforms on one machine).
const devNodePorts = "7100-7199"

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
	return host.Run(ctx, host.Options{
		ControlPlane: env.ControlPlaneURL,
		NodeToken:    env.NodeToken,
		Advertise:    "127.0.0.1",
		PortMin:      lo,
		PortMax:      hi,
		DataDir:      filepath.Join(env.DataDir, "node"),
		MemoryMB:     memoryMB,
		Name:         "dev-node",
	}, env.Log.With("component", "node"))
}
