package main

import (
	"context"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/proxy"
)

// Dev mode's proxy: the tenant endpoint on --proxy-listen, following this
// control plane's routes over loopback HTTP with the dev proxy token, and
// reaching the shards over RESP, exactly as a separate `proxy` process.
func init() {
	ext.Components = append(ext.Components, controlplane.Component{Name: "proxy", Start: startDevProxy})
}

func startDevProxy(ctx context.Context, env controlplane.Env) error {
	return proxy.Run(ctx, proxy.Options{
		Listen:       env.ProxyListen,
		ControlPlane: env.ControlPlaneURL,
		ProxyToken:   env.ProxyToken,
		ID:           "dev-proxy",
		Logger:       env.Log,
	})
}
