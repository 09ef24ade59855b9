package node

import (
	"runtime"
	"strconv"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
)

// A replica loads its primary's full-sync payload in slices: every
// loadSlice the loader releases the shard lock, so that clients are
// answered (-LOADING for commands without the loading flag, INFO with
// loading:1 and the loading_* fields) instead of waiting on the lock for
// the whole load, as Redis serves events while it loads
// (processEventsWhileBlocked). Nothing that touches the dataset runs in
// between: every such command lacks the loading flag.

func init() {
	interceptors = append(interceptors, loadingInterceptor)
}

// loadingInterceptor answers -LOADING while a sliced load is between
// slices. The AOF loader's own commands run under one lock hold and
// never meet it.
func loadingInterceptor(s *Server, c *Client, cmd *command, args [][]byte) bool {
	st := s.persist()
	if st.loadYield == nil || cmd.Has(commands.Loading) {
		return false
	}
	s.rejectCommand(c, cmd, errLoading)
	return true
}

// sliceLoad runs load with the lock released between slices; progress
// counts as I/O for the link's timeout, as Redis's replica refreshes
// its transfer time while loading.
func (s *Server) sliceLoad(load func() error) error {
	st := s.persist()
	rst := s.replica()
	st.loadYield = func() {
		rst.syncLastIO.Store(time.Now().Unix())
		s.mu.Unlock()
		runtime.Gosched()
		s.mu.Lock()
	}
	defer func() { st.loadYield = nil }()
	return load()
}

// infoLoadingFields writes Redis's loading_* INFO fields while loading.
func (s *Server) infoLoadingFields(w *infoWriter) {
	st := s.persist()
	if !st.loading {
		return
	}
	elapsed := time.Since(st.loadStart).Seconds()
	perc := 0.0
	if st.loadTotal > 0 {
		perc = float64(st.loadedSize) / float64(st.loadTotal) * 100
	}
	eta := int64(1)
	if st.loadedSize > 0 && elapsed > 0 {
		rate := float64(st.loadedSize) / elapsed
		eta = int64(float64(st.loadTotal-st.loadedSize) / rate)
	}
	w.raw("loading_start_time", strconv.FormatInt(st.loadStart.Unix(), 10))
	w.raw("loading_total_bytes", strconv.FormatInt(st.loadTotal, 10))
	w.raw("loading_rdb_used_mem", "0")
	w.raw("loading_loaded_bytes", strconv.FormatInt(st.loadedSize, 10))
	w.raw("loading_loaded_perc", strconv.FormatFloat(perc, 'f', 2, 64))
	w.raw("loading_eta_seconds", strconv.FormatInt(eta, 10))
}

// beginDisklessReceive marks the server loading while a diskless payload
// (repl-diskless-load swapdb or on-empty-db) arrives: Redis loads it
// from the socket as it comes, so clients see -LOADING and INFO
// loading:1 during the transfer. The old data stays until the payload
// is whole, and stays if the transfer fails.
func (s *Server) beginDisklessReceive(size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.persist()
	st.loading = true
	st.loadYield = func() {}
	st.loadStart, st.loadTotal, st.loadedSize = time.Now(), max(size, 0), 0
}

// endDisklessReceive ends beginDisklessReceive's state (the load itself,
// if it ran, has ended its own); the shard lock is not held.
func (s *Server) endDisklessReceive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.persist()
	st.loading = false
	st.loadYield = nil
}
