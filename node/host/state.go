package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// state is what a node host remembers across restarts: the last desired
// state the control plane gave it, so that after a restart its shards are
// back on their ports before the control plane answers (or while it is
// down). It holds the shards' internal passwords: the file is 0600.
type state struct {
	Version      int              `json:"version"`
	ControlPlane string           `json:"control_plane"`
	NodeID       string           `json:"node_id,omitempty"`
	Desired      wire.NodeDesired `json:"desired"`
	SavedAt      time.Time        `json:"saved_at"`
}

const (
	stateVersion = 1
	stateFile    = "state.json"
)

// loadState reads dir/state.json. A missing file is an empty state; a
// file that cannot be read as a state is moved aside (so that the next
// save works and the bad copy is kept for a human) and reported.
func loadState(dir string) (state, error) {
	p := filepath.Join(dir, stateFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read %s: %w", p, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil || st.Version != stateVersion {
		bad := p + ".bad-" + time.Now().UTC().Format("20060102T150405")
		if rerr := os.Rename(p, bad); rerr != nil {
			return state{}, fmt.Errorf("%s is unreadable (%v) and could not be moved aside: %w", p, err, rerr)
		}
		if err == nil {
			err = fmt.Errorf("unknown version %d", st.Version)
		}
		return state{}, fmt.Errorf("%s is unreadable, moved to %s: %w", p, bad, err)
	}
	return st, nil
}

// saveState replaces dir/state.json atomically: a crash leaves either the
// old file or the new one, never a torn one.
func saveState(dir string, st state) error {
	st.Version = stateVersion
	st.SavedAt = time.Now().UTC()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	f, err := os.CreateTemp(dir, stateFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; not all filesystems support it
		d.Close()
	}
	return nil
}
