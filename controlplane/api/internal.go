package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/store"
	"github.com/keyfleet/keyfleet/internal/wire"
)

// internalAuth checks the node or proxy token of /internal/v1 callers.
func (s *Server) internalAuth(token, who string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ := bearer(r)
			if token == "" || got == "" || !auth.Equal(got, token) || r.Header.Get("Authorization") == "" {
				unauthorized(w, "a valid "+who+" token is required")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// decodeWire reads an internal message. Unlike the public API, unknown
// fields are allowed: peers of different versions only ever add fields.
func decodeWire(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

func (s *Server) nodeRegister(w http.ResponseWriter, r *http.Request) {
	var in wire.NodeRegister
	if err := decodeWire(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Name == "" {
		in.Name = in.Advertise
	}
	switch {
	case in.Advertise == "":
		s.fail(w, r, missing("advertise"))
		return
	case in.PortMin < 1 || in.PortMax > 65535 || in.PortMin > in.PortMax:
		s.fail(w, r, invalid("port_min", "port range %d-%d is not a valid range of TCP ports", in.PortMin, in.PortMax))
		return
	case in.MemoryMB < 0:
		s.fail(w, r, invalid("memory_mb", "memory_mb must not be negative"))
		return
	}
	id, err := s.store.RegisterNode(r.Context(), in, s.cfg.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("node registered", "node", id, "name", in.Name, "advertise", in.Advertise)
	writeJSON(w, http.StatusOK, wire.NodeRegistered{NodeID: id, HeartbeatInterval: s.cfg.HeartbeatInterval, WriteLease: s.cfg.WriteLease})
}

func (s *Server) nodeHeartbeat(w http.ResponseWriter, r *http.Request) {
	var in wire.NodeHeartbeat
	if err := decodeWire(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.NodeID == "" {
		s.fail(w, r, missing("node_id"))
		return
	}
	desired, err := s.store.Heartbeat(r.Context(), in, s.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "unknown_node", "unknown node "+in.NodeID+": register again", "node_id")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, desired)
}

// proxyRoutes answers GET /internal/v1/routes[?version=N[&wait=30s]]: at
// once when the current version differs from N (or N is absent);
// otherwise it waits up to wait for a newer one and answers 304 Not
// Modified when none came.
func (s *Server) proxyRoutes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var have int64 = -1
	if v := q.Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, invalid("version", "version must be a non-negative integer"))
			return
		}
		have = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			s.fail(w, r, invalid("wait", "wait must be a duration such as 30s"))
			return
		}
		wait = min(d, s.cfg.MaxLongPoll)
	}
	if have >= 0 {
		cur, err := s.routes.current(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// Only an equal version waits: a proxy ahead of us holds routes
		// from another history (a restored database) and needs ours now.
		if cur == have {
			if wait == 0 || !s.routes.wait(r.Context(), have, wait) {
				w.Header().Set("X-Routes-Version", strconv.FormatInt(cur, 10))
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	routes, err := s.store.Routes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.routes.observe(routes.Version)
	w.Header().Set("X-Routes-Version", strconv.FormatInt(routes.Version, 10))
	writeJSON(w, http.StatusOK, routes)
}

const maxUsageSpan = time.Hour

func (s *Server) proxyUsage(w http.ResponseWriter, r *http.Request) {
	var in wire.UsageReport
	if err := decodeWire(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case in.Start.IsZero() || in.End.IsZero():
		s.fail(w, r, missing("start"))
		return
	case in.End.Before(in.Start):
		s.fail(w, r, invalid("end", "end is before start"))
		return
	case in.End.Sub(in.Start) > maxUsageSpan:
		s.fail(w, r, invalid("end", "a report covers at most %v", maxUsageSpan))
		return
	}
	for i, u := range in.Databases {
		if u.DatabaseID == "" || u.Ops < 0 || u.BytesIn < 0 || u.BytesOut < 0 || u.Connections < 0 || u.Errors < 0 || u.Rejected < 0 {
			s.fail(w, r, invalid("databases", "databases[%d] has no database_id or a negative count", i))
			return
		}
	}
	if err := s.store.IngestUsage(r.Context(), in); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// versionWatcher follows the route version: Postgres NOTIFY wakes it at
// once (from whichever control-plane replica made the change), and a
// periodic read covers a lost listening connection.
type versionWatcher struct {
	store *store.Store
	log   *slog.Logger

	mu      sync.Mutex
	version int64         // highest version seen; 0 before the first read
	changed chan struct{} // closed and replaced when version grows
}

func newVersionWatcher(st *store.Store, log *slog.Logger) *versionWatcher {
	return &versionWatcher{store: st, log: log, changed: make(chan struct{})}
}

// observe records a version seen anywhere and wakes waiters if it is new.
func (v *versionWatcher) observe(n int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n > v.version {
		v.version = n
		close(v.changed)
		v.changed = make(chan struct{})
	}
}

// current is the newest known version, read from Postgres if none is known.
func (v *versionWatcher) current(ctx context.Context) (int64, error) {
	v.mu.Lock()
	n := v.version
	v.mu.Unlock()
	if n > 0 {
		return n, nil
	}
	n, err := v.store.RouteVersion(ctx)
	if err != nil {
		return 0, err
	}
	v.observe(n)
	return n, nil
}

// wait blocks until the version is above have, for at most d; it says
// whether that happened.
func (v *versionWatcher) wait(ctx context.Context, have int64, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		v.mu.Lock()
		n, ch := v.version, v.changed
		v.mu.Unlock()
		if n > have {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

const versionPoll = 2 * time.Second

// run listens for route notifications until ctx ends.
func (v *versionWatcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := v.listen(ctx); err != nil && ctx.Err() == nil {
			v.log.Warn("route version listener", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(versionPoll):
			}
		}
	}
}

func (v *versionWatcher) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, v.store.Pool().Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+store.RoutesChannel); err != nil {
		return err
	}
	for {
		// Read after LISTEN so no change between the two is missed.
		n, err := v.store.RouteVersion(ctx)
		if err != nil {
			return err
		}
		v.observe(n)
		wctx, cancel := context.WithTimeout(ctx, versionPoll)
		note, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n, perr := strconv.ParseInt(strings.TrimSpace(note.Payload), 10, 64); perr == nil {
				v.observe(n)
			}
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			// periodic check
		default:
			return err
		}
	}
}
