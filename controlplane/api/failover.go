package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/keyfleet/keyfleet/controlplane/store"
)

type failoverRequest struct {
	// Shard is a shard id, or "all" (the default) for every shard.
	Shard *string `json:"shard"`
	// Force promotes a replica however far behind it is.
	Force *bool `json:"force"`
}

// ownerScope is the account whose databases the caller may act on; an
// administrator may act on any ("").
func ownerScope(r *http.Request) string {
	a := accountFrom(r.Context())
	if a.Role == store.RoleAdmin {
		return ""
	}
	return a.ID
}

// failoverDatabase answers POST /v1/databases/{id}/failover: each chosen
// shard's best replica becomes its primary, all or none. A replica
// further behind than FailoverMaxLag refuses with 409 replica_lagging
// unless forced; a shard without a ready replica refuses with 409
// no_replica.
func (s *Server) failoverDatabase(w http.ResponseWriter, r *http.Request) {
	var in failoverRequest
	if err := decode(r, &in, true); err != nil {
		s.fail(w, r, err)
		return
	}
	shard := ""
	if in.Shard != nil && *in.Shard != "all" {
		if *in.Shard == "" {
			s.fail(w, r, invalid("shard", `shard must be a shard id or "all"`))
			return
		}
		shard = *in.Shard
	}
	force := in.Force != nil && *in.Force
	fs, err := s.store.ManualFailover(r.Context(), ownerScope(r), chi.URLParam(r, "id"), shard, force, s.cfg.FailoverMaxLag, s.cfg.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, f := range fs {
		s.log.Info("manual failover", "database", f.DatabaseID, "shard", f.ShardID, "from", f.FromAddress, "to", f.ToAddress,
			"epoch", f.NewEpoch, "lag_bytes", f.LagBytes, "forced", force)
	}
	writeJSON(w, http.StatusOK, map[string]any{"failovers": fs})
}

// listFailovers answers GET /v1/databases/{id}/failovers[?limit=N].
func (s *Server) listFailovers(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, invalid("limit", "limit must be a whole number from 1 to 1000"))
			return
		}
		limit = n
	}
	d, err := s.store.GetDatabase(r.Context(), ownerScope(r), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fs, err := s.store.ListFailovers(r.Context(), d.ID, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"failovers": fs})
}
