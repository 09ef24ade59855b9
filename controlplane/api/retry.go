package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// retryDatabase provisions a failed database again, on the owner's word.
func (s *Server) retryDatabase(w http.ResponseWriter, r *http.Request) {
	var in struct{}
	if err := decode(r, &in, true); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, id := r.Context(), chi.URLParam(r, "id")
	acc := accountFrom(ctx).ID
	if err := s.store.RetryDatabase(ctx, acc, id, s.cfg.Now(), s.cfg.ProvisionTimeout); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.store.GetDatabase(ctx, acc, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, s.view(d))
}
