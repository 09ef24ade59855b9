package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/keyfleet/keyfleet/controlplane/store"
)

func (s *Server) listPlans(w http.ResponseWriter, r *http.Request) {
	plans, err := s.store.ListPlans(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"plans": plans})
}

func (s *Server) adminNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.store.ListNodes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if nodes == nil {
		nodes = []store.NodeInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": nodes})
}

func (s *Server) adminDrainNode(w http.ResponseWriter, r *http.Request) {
	n, err := s.store.DrainNode(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) adminAccounts(w http.ResponseWriter, r *http.Request) {
	accounts, err := s.store.ListAccounts(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if accounts == nil {
		accounts = []store.AccountSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": accounts})
}
