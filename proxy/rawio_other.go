//go:build !linux

package proxy

import "net"

// sockIO is conn itself outside Linux (see rawio_linux.go).
type sockIO struct{ net.Conn }

func newSockIO(conn net.Conn) *sockIO { return &sockIO{conn} }
