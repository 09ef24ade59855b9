package proxy

import (
	"bytes"
	"net"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/proxy/resp"
)

var (
	fuzzOnce  sync.Once
	fuzzProxy *testProxy
	fuzzNames []string
)

// fuzzTarget is one proxy shared by every fuzz input: a three-shard and a
// one-shard database over real redis-servers.
func fuzzTarget(f *testing.F) *testProxy {
	fuzzOnce.Do(func() {
		srvs := servers(f, 4)
		cp := newFakeCP(f)
		cp.setRoutes(
			routeFor("f3", "p", wire.Limits{MaxRequestBytes: 1 << 20}, srvs[0], srvs[1], srvs[2]),
			routeFor("f1", "p", wire.Limits{}, srvs[3]),
		)
		fuzzProxy = startProxy(f, cp, func(o *Options) { o.RequestTimeout = 500 * time.Millisecond })
		for _, c := range commands.Default.All() {
			fuzzNames = append(fuzzNames, c.Name)
		}
		sort.Strings(fuzzNames)
	})
	return fuzzProxy
}

// fuzzCommands turns fuzz bytes into requests: a line per command, words
// separated by spaces; a first word that is a number picks a command
// name from the table, so the input reaches every handler.
func fuzzCommands(data []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		words := bytes.Split(line, []byte(" "))
		if len(words) == 0 || len(words[0]) == 0 {
			continue
		}
		if n, err := strconv.Atoi(string(words[0])); err == nil && n >= 0 {
			words[0] = []byte(fuzzNames[n%len(fuzzNames)])
			if sub := commands.Default.Lookup(words[0]); sub != nil && len(sub.Subcommands) > 0 && len(words) > 1 {
				if k, err := strconv.Atoi(string(words[1])); err == nil && k >= 0 {
					name := sub.Subcommands[k%len(sub.Subcommands)].Name
					words[1] = []byte(name[bytes.IndexByte([]byte(name), '|')+1:])
				}
			}
		}
		out = resp.AppendCommand(out, words...)
	}
	return out
}

// FuzzProxyRequest sends random requests through the proxy's command
// router, authenticated or not, as raw bytes or as commands built from the
// command table. The proxy must never panic (a panic fails the run), and
// must keep serving.
func FuzzProxyRequest(f *testing.F) {
	tp := fuzzTarget(f)
	seeds := []string{
		"GET k\nSET k v\nMGET a b c d\nMSET a 1 b 2\nDEL a b\nEXISTS a\nKEYS *\nSCAN 0\nDBSIZE\nRANDOMKEY",
		"MULTI\nSET {a}1 x\nGET {a}2\nEXEC\nMULTI\nGET a\nGET b\nEXEC\nDISCARD\nWATCH a b\nUNWATCH",
		"SUBSCRIBE a b\nPSUBSCRIBE *\nPING\nUNSUBSCRIBE\nPUNSUBSCRIBE\nSSUBSCRIBE x\nSUNSUBSCRIBE\nPUBLISH a m",
		"BLPOP q 0.05\nBLMPOP 0.01 2 a b LEFT\nXREAD BLOCK 10 STREAMS s $\nWAIT 0 10\nCLIENT UNBLOCK 1",
		"HELLO 3\nHELLO 2 AUTH f1 p\nCLIENT TRACKING on\nGET x\nCLIENT CACHING yes\nCLIENT TRACKING off\nRESET",
		"CLIENT LIST\nCLIENT KILL ID 1\nCLIENT INFO\nCLIENT REPLY SKIP\nPING\nCLIENT REPLY OFF\nPING\nCLIENT REPLY ON",
		"INFO\nINFO everything\nCONFIG GET *\nCONFIG SET maxmemory 1\nCLUSTER SLOTS\nCLUSTER SHARDS\nCOMMAND\nCOMMAND",
		"EVAL return 1 0\nEVAL return 1 2 a b\nEVAL x -1\nSCRIPT LOAD return 1\nSCRIPT EXISTS a\nFUNCTION LIST\nFCALL f 0",
		"SELECT 1\nSELECT 99\nSWAPDB 0 1\nMOVE a 1\nCOPY a b DB 1\nOBJECT ENCODING a\nMEMORY USAGE a\nSORT a BY x",
		"0\n1 2\n17 a b c\n99 0\n150 k v\n230 x\n60 1 2 3\n5 5 5",
	}
	for _, s := range seeds {
		f.Add(byte(0), []byte(s))
		f.Add(byte(1), []byte(s))
	}
	f.Add(byte(2), []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n"))
	f.Add(byte(2), []byte("*-1\r\n*0\r\n$3\r\nfoo\r\n*1\r\n$-1\r\n"))
	f.Add(byte(2), []byte("GET k\r\nSET \"a b\" 'c'\r\nPING\r\n\"unbalanced\r\n"))
	f.Add(byte(3), []byte("*2\r\n$4\r\nMGET\r\n$99999999999\r\n"))
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		conn, err := net.DialTimeout("tcp", tp.addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var req []byte
		switch mode % 4 {
		case 0: // authenticated to the sharded database
			req = resp.AppendCommandStrings(nil, "AUTH", "f3", "p")
			req = append(req, fuzzCommands(data)...)
		case 1: // authenticated to the one-shard database, RESP3
			req = resp.AppendCommandStrings(nil, "HELLO", "3", "AUTH", "f1", "p")
			req = append(req, fuzzCommands(data)...)
		case 2: // raw bytes after AUTH
			req = append(resp.AppendCommandStrings(nil, "AUTH", "f3", "p"), data...)
		default: // raw bytes, unauthenticated
			req = data
		}
		// A PING carrying a mark ends the input: its reply (in any mode
		// the input left the connection in) says the proxy got through
		// it. The proxy may also block, or close the connection on a
		// protocol error; the wait is bounded either way.
		req = append(req, fuzzEnd...)
		conn.SetDeadline(time.Now().Add(150 * time.Millisecond))
		conn.Write(req)
		var got []byte
		buf := make([]byte, 64<<10)
		for !bytes.Contains(got, fuzzMark) {
			n, err := conn.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			if len(got) > 1<<20 {
				got = got[len(got)-64:]
			}
		}
		conn.Close()
		// The proxy still serves.
		ctl, err := net.DialTimeout("tcp", tp.addr, time.Second)
		if err != nil {
			t.Fatalf("proxy stopped accepting: %v", err)
		}
		defer ctl.Close()
		ctl.SetDeadline(time.Now().Add(5 * time.Second))
		ctl.Write(resp.AppendCommandStrings(nil, "PING"))
		pong := make([]byte, 7)
		if _, err := readFull(ctl, pong); err != nil || string(pong) != "+PONG\r\n" {
			t.Fatalf("proxy stopped answering: %q, %v", pong, err)
		}
	})
}

var (
	fuzzMark = []byte("keyfleet-fuzz-end-mark")
	fuzzEnd  = resp.AppendCommandStrings(nil, "PING", string(fuzzMark))
)

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
