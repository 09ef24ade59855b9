package main

import "github.com/keyfleet/keyfleet/web"

// The web console, built by `make web` into web/dist and embedded; a
// binary built without it serves a page saying so.
func init() { ext.Console = web.Handler() }
