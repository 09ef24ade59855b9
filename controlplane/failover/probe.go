package failover

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"time"
)

// Probe reports whether a node host answers on any of its shard ports: it
// sends PING and waits for any reply line (an unauthenticated PING gets
// -NOAUTH, which proves the engine is serving as well as +PONG does). A
// port that accepts the connection but never answers, as a paused
// process's does (the kernel completes the handshake), is not alive.
func Probe(ctx context.Context, host string, ports []int) bool {
	ch := make(chan bool, len(ports))
	for _, p := range ports {
		go func() { ch <- probePort(ctx, net.JoinHostPort(host, strconv.Itoa(p))) }()
	}
	for range ports {
		select {
		case ok := <-ch:
			if ok {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
	return false
}

func probePort(ctx context.Context, addr string) bool {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(time.Second))
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReaderSize(conn, 256).ReadSlice('\n')
	return err == nil && len(line) > 0 && (line[0] == '+' || line[0] == '-')
}
