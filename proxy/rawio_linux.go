package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// sockIO reads and writes a client's or a shard's TCP connection with
// raw system calls inside its RawConn, instead of conn.Read and
// conn.Write. Go's own path tells the scheduler about every system call
// (entersyscall/exitsyscall) so that a blocking one can release its P;
// that wakes the runtime's monitor thread whenever the proxy was idle and
// lets it hand a P blocked "too long" in a loopback write to another
// thread. On a proxy that does a few small non-blocking system calls per
// request, this cost about a fifth of its CPU (perf: context switches of
// sysmon and handed-off Ps). The sockets are non-blocking, so a raw call
// never blocks the thread: EAGAIN goes back to the runtime's poller
// exactly as in conn.Read/conn.Write, with the same deadlines.
//
// Reads are used by one goroutine at a time and so are writes (the
// owner's locks see to that); a read and a write may run together.
type sockIO struct {
	conn net.Conn
	rc   syscall.RawConn // nil: not a plain socket (TLS); use conn

	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(fd uintptr) bool

	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

// maxRawWrite bounds one write system call, so that a large reply does
// not keep the thread (and a garbage collection waiting for it) in the
// kernel for long.
const maxRawWrite = 256 << 10

func newSockIO(conn net.Conn) *sockIO {
	s := &sockIO{conn: conn}
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return s
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return s
	}
	s.rc = rc
	// Built once: a closure made per call would be allocated per call.
	s.readFn = func(fd uintptr) bool {
		for {
			n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.rbuf[0])), uintptr(len(s.rbuf)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			s.rn, s.rerrno = int(n), e
			return true
		}
	}
	s.writeFn = func(fd uintptr) bool {
		for s.wn < len(s.wbuf) {
			chunk := s.wbuf[s.wn:]
			if len(chunk) > maxRawWrite {
				chunk = chunk[:maxRawWrite]
			}
			n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&chunk[0])), uintptr(len(chunk)))
			switch e {
			case 0:
				s.wn += int(n)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until writable
			default:
				s.werrno = e
				return true
			}
		}
		return true
	}
	return s
}

// Read is conn.Read.
func (s *sockIO) Read(p []byte) (int, error) {
	if s.rc == nil || len(p) == 0 {
		return s.conn.Read(p)
	}
	s.rbuf, s.rn, s.rerrno = p, 0, 0
	err := s.rc.Read(s.readFn)
	n, errno := s.rn, s.rerrno
	s.rbuf = nil
	switch {
	case err != nil:
		return 0, s.opError("read", err)
	case errno != 0:
		return 0, s.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write is conn.Write: all of p, or an error.
func (s *sockIO) Write(p []byte) (int, error) {
	if s.rc == nil || len(p) == 0 {
		return s.conn.Write(p)
	}
	s.wbuf, s.wn, s.werrno = p, 0, 0
	err := s.rc.Write(s.writeFn)
	n, errno := s.wn, s.werrno
	s.wbuf = nil
	switch {
	case err != nil:
		return n, s.opError("write", err)
	case errno != 0:
		return n, s.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError wraps err as conn.Read and conn.Write do, so errors.Is finds
// net.ErrClosed and os.ErrDeadlineExceeded, and net.Error's Timeout
// works.
func (s *sockIO) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: s.conn.LocalAddr(), Addr: s.conn.RemoteAddr(), Err: err}
}
