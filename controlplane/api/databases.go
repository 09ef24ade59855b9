package api

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/keyfleet/keyfleet/controlplane/store"
	"github.com/keyfleet/keyfleet/internal/wire"
)

// EvictionPolicies are Redis's eight maxmemory-policy values.
var EvictionPolicies = []string{
	"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
}

// Persistence modes.
var Persistences = []string{"none", "rdb", "aof-everysec", "aof-always"}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// Names start with a letter or digit and hold letters, digits, '-', '_'
// and '.': safe in URLs, CLIs and file names.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Memory bounds: a shard below minShardMB is not useful.
const (
	minShardMB = 8
)

// database is a database as the API shows it.
type database struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Plan           string            `json:"plan"`
	Status         string            `json:"status"`
	FailureReason  string            `json:"failure_reason,omitempty"`
	Endpoint       string            `json:"endpoint"`
	URL            string            `json:"url"`
	Password       string            `json:"password"`
	MemoryMB       int               `json:"memory_mb"`
	Shards         int               `json:"shards"`
	Replicas       int               `json:"replicas"`
	EvictionPolicy string            `json:"eviction_policy"`
	Persistence    string            `json:"persistence"`
	Limits         wire.Limits       `json:"limits"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Topology       []store.ShardInfo `json:"topology,omitempty"` // administrators only
	// UsedMemoryBytes is what the primaries last reported holding; absent
	// before any report. The console charts it against memory_mb.
	UsedMemoryBytes *int64 `json:"used_memory_bytes,omitempty"`
}

// usedMemory sums the primaries' last reported used memory, nil when no
// primary has reported yet.
func usedMemory(shards []store.ShardInfo) *int64 {
	var sum int64
	seen := false
	for _, sh := range shards {
		for _, p := range sh.Placements {
			if p.Role == "primary" && p.ReportedAt != nil {
				sum += p.UsedMemory
				seen = true
			}
		}
	}
	if !seen {
		return nil
	}
	return &sum
}

func (s *Server) view(d store.Database) database {
	u := url.URL{Scheme: "redis", User: url.UserPassword(d.ID, d.Password), Host: s.cfg.ProxyEndpoint}
	return database{
		ID: d.ID, Name: d.Name, Plan: d.Plan.Name, Status: d.Status, FailureReason: d.FailureReason,
		Endpoint: s.cfg.ProxyEndpoint, URL: u.String(), Password: d.Password,
		MemoryMB: d.MemoryMB, Shards: d.Shards, Replicas: d.Replicas,
		EvictionPolicy: d.EvictionPolicy, Persistence: d.Persistence, Limits: d.Limits(),
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
}

type createDatabaseRequest struct {
	Name           *string `json:"name"`
	Plan           *string `json:"plan"`
	MemoryMB       *int    `json:"memory_mb"`
	Shards         *int    `json:"shards"`
	Replicas       *int    `json:"replicas"`
	EvictionPolicy *string `json:"eviction_policy"`
	Persistence    *string `json:"persistence"`
}

func validName(n *string) (string, error) {
	if n == nil || *n == "" {
		return "", missing("name")
	}
	if len(*n) > maxNameLen {
		return "", invalid("name", "name is too long: at most %d characters", maxNameLen)
	}
	if !nameRE.MatchString(*n) {
		return "", invalid("name", "name must start with a letter or digit and hold only letters, digits, '.', '_' and '-'")
	}
	return *n, nil
}

// pickPlan chooses the smallest plan that fits the request when none is
// named.
func pickPlan(plans []store.Plan, memoryMB, shards, replicas int) (store.Plan, bool) {
	for _, p := range plans {
		if memoryMB <= p.MemoryMB && shards <= p.MaxShards && replicas <= p.MaxReplicas {
			return p, true
		}
	}
	return store.Plan{}, false
}

func (s *Server) createDatabase(w http.ResponseWriter, r *http.Request) {
	var in createDatabaseRequest
	if err := decode(r, &in, false); err != nil {
		s.fail(w, r, err)
		return
	}
	nd, err := s.validateCreate(r, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.store.CreateDatabase(r.Context(), nd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/databases/"+d.ID)
	writeJSON(w, http.StatusAccepted, s.view(d))
}

func (s *Server) validateCreate(r *http.Request, in createDatabaseRequest) (store.NewDatabase, error) {
	nd := store.NewDatabase{AccountID: accountFrom(r.Context()).ID, Shards: 1, EvictionPolicy: "noeviction",
		Persistence: "none", ProvisionTimeout: s.cfg.ProvisionTimeout}
	var err error
	if nd.Name, err = validName(in.Name); err != nil {
		return nd, err
	}
	if in.Shards != nil {
		if *in.Shards < 1 {
			return nd, invalid("shards", "shards must be at least 1")
		}
		nd.Shards = *in.Shards
	}
	if in.Replicas != nil {
		if *in.Replicas < 0 {
			return nd, invalid("replicas", "replicas must be 0 or more")
		}
		nd.Replicas = *in.Replicas
	}
	if in.MemoryMB != nil && *in.MemoryMB < 1 {
		return nd, invalid("memory_mb", "memory_mb must be positive")
	}
	if in.EvictionPolicy != nil {
		if !oneOf(*in.EvictionPolicy, EvictionPolicies) {
			return nd, invalid("eviction_policy", "eviction_policy must be one of %v", EvictionPolicies)
		}
		nd.EvictionPolicy = *in.EvictionPolicy
	}
	if in.Persistence != nil {
		if !oneOf(*in.Persistence, Persistences) {
			return nd, invalid("persistence", "persistence must be one of %v", Persistences)
		}
		nd.Persistence = *in.Persistence
	}

	var plan store.Plan
	if in.Plan != nil {
		plan, err = s.store.PlanByName(r.Context(), *in.Plan)
		if err == store.ErrNotFound {
			return nd, invalid("plan", "unknown plan %q (see GET /v1/plans)", *in.Plan)
		}
		if err != nil {
			return nd, err
		}
	} else {
		plans, err := s.store.ListPlans(r.Context())
		if err != nil {
			return nd, err
		}
		mem := 0
		if in.MemoryMB != nil {
			mem = *in.MemoryMB
		}
		var ok bool
		if plan, ok = pickPlan(plans, mem, nd.Shards, nd.Replicas); !ok {
			return nd, overPlan("memory_mb", "no plan offers %d MB with %d shard(s) and %d replica(s)", mem, nd.Shards, nd.Replicas)
		}
	}
	nd.Plan = plan.Name
	nd.MemoryMB = plan.MemoryMB
	if in.MemoryMB != nil {
		nd.MemoryMB = *in.MemoryMB
	}
	switch {
	case nd.MemoryMB > plan.MemoryMB:
		return nd, overPlan("memory_mb", "memory_mb %d is over the %s plan's %d MB", nd.MemoryMB, plan.Name, plan.MemoryMB)
	case nd.Shards > plan.MaxShards:
		return nd, overPlan("shards", "shards %d is over the %s plan's %d", nd.Shards, plan.Name, plan.MaxShards)
	case nd.Replicas > plan.MaxReplicas:
		return nd, overPlan("replicas", "replicas %d is over the %s plan's %d", nd.Replicas, plan.Name, plan.MaxReplicas)
	case nd.MemoryMB < minShardMB*nd.Shards:
		return nd, invalid("memory_mb", "memory_mb must be at least %d MB per shard (%d MB for %d shards)", minShardMB, minShardMB*nd.Shards, nd.Shards)
	}
	return nd, nil
}

func (s *Server) listDatabases(w http.ResponseWriter, r *http.Request) {
	dbs, err := s.store.ListDatabases(r.Context(), accountFrom(r.Context()).ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]database, 0, len(dbs))
	for _, d := range dbs {
		v := s.view(d)
		shards, err := s.store.DatabaseShards(r.Context(), d.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.UsedMemoryBytes = usedMemory(shards)
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"databases": out})
}

func (s *Server) getDatabase(w http.ResponseWriter, r *http.Request) {
	a := accountFrom(r.Context())
	owner := a.ID
	if a.Role == store.RoleAdmin {
		owner = "" // administrators may look at any database
	}
	d, err := s.store.GetDatabase(r.Context(), owner, chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := s.view(d)
	shards, err := s.store.DatabaseShards(r.Context(), d.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.UsedMemoryBytes = usedMemory(shards)
	if a.Role == store.RoleAdmin {
		v.Topology = shards
	}
	writeJSON(w, http.StatusOK, v)
}

type updateDatabaseRequest struct {
	MemoryMB       *int    `json:"memory_mb"`
	EvictionPolicy *string `json:"eviction_policy"`
}

func (s *Server) updateDatabase(w http.ResponseWriter, r *http.Request) {
	var in updateDatabaseRequest
	if err := decode(r, &in, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.MemoryMB == nil && in.EvictionPolicy == nil {
		s.fail(w, r, &inputError{status: http.StatusBadRequest, code: "missing_field", msg: "nothing to change: send memory_mb and/or eviction_policy", field: "memory_mb"})
		return
	}
	a := accountFrom(r.Context())
	cur, err := s.store.GetDatabase(r.Context(), a.ID, chi.URLParam(r, "id"))
	if err == nil && cur.Status == store.StatusDeleting {
		err = store.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if in.EvictionPolicy != nil && !oneOf(*in.EvictionPolicy, EvictionPolicies) {
		s.fail(w, r, invalid("eviction_policy", "eviction_policy must be one of %v", EvictionPolicies))
		return
	}
	if in.MemoryMB != nil {
		switch m := *in.MemoryMB; {
		case m < 1:
			s.fail(w, r, invalid("memory_mb", "memory_mb must be positive"))
			return
		case m > cur.Plan.MemoryMB:
			s.fail(w, r, overPlan("memory_mb", "memory_mb %d is over the %s plan's %d MB", m, cur.Plan.Name, cur.Plan.MemoryMB))
			return
		case m < minShardMB*cur.Shards:
			s.fail(w, r, invalid("memory_mb", "memory_mb must be at least %d MB per shard (%d MB for %d shards)", minShardMB, minShardMB*cur.Shards, cur.Shards))
			return
		}
	}
	d, err := s.store.UpdateDatabase(r.Context(), a.ID, cur.ID, store.DatabaseUpdate{MemoryMB: in.MemoryMB, EvictionPolicy: in.EvictionPolicy})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(d))
}

func (s *Server) rotatePassword(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.RotatePassword(r.Context(), accountFrom(r.Context()).ID, chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(d))
}

func (s *Server) deleteDatabase(w http.ResponseWriter, r *http.Request) {
	if err := s.store.DeleteDatabase(r.Context(), accountFrom(r.Context()).ID, chi.URLParam(r, "id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

const maxUsageWindow = 31 * 24 * time.Hour

// databaseUsage answers ?from=&to= (RFC 3339) or ?minutes=N (the last N
// minutes, default 60).
func (s *Server) databaseUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.cfg.Now().UTC()
	to, from := now, now.Add(-time.Hour)
	var err error
	if v := q.Get("minutes"); v != "" {
		if q.Get("from") != "" {
			s.fail(w, r, invalid("minutes", "use either minutes or from/to"))
			return
		}
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > int(maxUsageWindow/time.Minute) {
			s.fail(w, r, invalid("minutes", "minutes must be a whole number from 1 to %d", int(maxUsageWindow/time.Minute)))
			return
		}
		from = now.Add(-time.Duration(n) * time.Minute)
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			s.fail(w, r, invalid("to", "to must be an RFC 3339 time, e.g. 2030-01-02T15:04:05Z"))
			return
		}
	}
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			s.fail(w, r, invalid("from", "from must be an RFC 3339 time, e.g. 2030-01-02T15:04:05Z"))
			return
		}
	} else if q.Get("to") != "" && q.Get("minutes") == "" {
		from = to.Add(-time.Hour)
	}
	if from.After(to) {
		s.fail(w, r, invalid("from", "from is after to"))
		return
	}
	if to.Sub(from) > maxUsageWindow {
		s.fail(w, r, invalid("from", "the window is longer than %d days", int(maxUsageWindow/(24*time.Hour))))
		return
	}
	rows, err := s.store.Usage(r.Context(), accountFrom(r.Context()).ID, chi.URLParam(r, "id"), from.Truncate(time.Minute), to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"database_id": chi.URLParam(r, "id"),
		"from":        from.UTC(),
		"to":          to.UTC(),
		"minutes":     rows,
	})
}

// ProxyEndpoint turns a listen address into the host:port users dial:
// ":6379" becomes "localhost:6379".
func ProxyEndpoint(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
