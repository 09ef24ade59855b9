package node

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
)

// Shutdown on SIGTERM and SIGINT, as Redis 7.0's sigShutdownHandler and
// prepareForShutdown/finishShutdown: the flags of shutdown-on-sigterm or
// shutdown-on-sigint (save, nosave, now, force), a wait of up to
// shutdown-timeout for lagging replicas, the AOF flushed and fsynced, the
// final RDB saved when there are save points, and a failed save keeps
// the server running unless force. A second SIGINT during a shutdown
// exits at once.

// handleSignals serves SIGTERM and SIGINT for the standalone node until
// the server is done. It takes the signals over from whoever asked for
// them before (cmd/node cancels its context on them, which would stop
// the server without saving).
//
// exit stops the server: the cancellation of Run's context, which works
// before Run has started too (a signal during the load at start).
func (s *Server) handleSignals(exit func()) (stop func()) {
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	var inProgress atomic.Bool
	go func() {
		for {
			var sig os.Signal
			select {
			case sig = <-sigs:
			case <-quit:
				return
			case <-s.done:
				return
			}
			if inProgress.Load() {
				if sig == os.Interrupt {
					s.log.Warn("You insist... exiting now.")
					s.removeTempRDB()
					os.Exit(1)
				}
				continue
			}
			name := "SIGTERM"
			if sig == os.Interrupt {
				name = "SIGINT"
			}
			s.log.Warn(fmt.Sprintf("Received %s scheduling shutdown...", name))
			inProgress.Store(true)
			go func() {
				if s.signalShutdown(sig) {
					exit()
				} else {
					inProgress.Store(false)
				}
			}()
		}
	}()
	return func() {
		close(quit)
		signal.Stop(sigs)
	}
}

// signalShutdown runs Redis's prepareForShutdown for a signal and reports
// whether the server may stop.
func (s *Server) signalShutdown(sig os.Signal) bool {
	flags := s.cfg.ShutdownOnSigterm
	if sig == os.Interrupt {
		flags = s.cfg.ShutdownOnSigint
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.prepareForShutdown(flags); err != nil {
		s.log.Warn("Errors trying to shut down the server. Check the logs for more information.")
		return false
	}
	return true
}

// prepareForShutdown is Redis's prepareForShutdown followed by
// finishShutdown, under the shard lock (the replica wait releases it
// while it waits).
func (s *Server) prepareForShutdown(flags int) error {
	if s.persist().loading {
		flags = flags&^shutdownSave | shutdownNoSave
	}
	s.log.Warn("User requested shutdown...")
	now, force := flags&shutdownNow != 0, flags&shutdownForce != 0
	if st := s.adminState(); st.beforeShutdown != nil {
		if err := st.beforeShutdown(now, force); err != nil && !force {
			return err
		}
	}
	s.abortBgsave()
	if a := s.aof(); a.on && a.f != nil {
		s.log.Info("Calling fsync() on the AOF file.")
		s.aofWrite()
		if err := a.f.Sync(); err != nil {
			s.log.Warn(fmt.Sprintf("Fail to fsync the AOF file: %s.", strerror(err)))
		}
	}
	if (len(s.cfg.Save) > 0 && flags&shutdownNoSave == 0) || flags&shutdownSave != 0 {
		s.log.Info("Saving the final RDB snapshot before exiting.")
		if err := s.saveRDBSync(); err != nil {
			if !force {
				s.log.Warn("Error trying to save the DB, can't exit.")
				return fmt.Errorf("final save: %w", err)
			}
			s.log.Warn("Error trying to save the DB. Exit anyway.")
		}
	}
	s.log.Warn("Redis is now ready to exit, bye bye...")
	return nil
}

// removeTempRDB removes this process's temp save files, as Redis's
// rdbRemoveTempFile when it exits in the middle of a save.
func (s *Server) removeTempRDB() {
	matches, _ := filepath.Glob(filepath.Join(s.cfg.Dir, fmt.Sprintf("temp-%d-*.rdb", os.Getpid())))
	for _, m := range matches {
		os.Remove(m)
	}
}
