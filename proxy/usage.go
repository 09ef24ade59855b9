package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

// usage counts one database's traffic since the last report. Clients add
// to it once per batch; the reporter swaps the counters to zero. The
// totals (never reset) feed the metrics.
type usage struct {
	ops, bytesIn, bytesOut, errors, rejected atomic.Int64
	totals                                   struct{ ops, bytesIn, bytesOut, errors, rejected atomic.Int64 }
}

func (u *usage) add(ops, in, out, errs, rejected int64) {
	if ops != 0 {
		u.ops.Add(ops)
		u.totals.ops.Add(ops)
	}
	if in != 0 {
		u.bytesIn.Add(in)
		u.totals.bytesIn.Add(in)
	}
	if out != 0 {
		u.bytesOut.Add(out)
		u.totals.bytesOut.Add(out)
	}
	if errs != 0 {
		u.errors.Add(errs)
		u.totals.errors.Add(errs)
	}
	if rejected != 0 {
		u.rejected.Add(rejected)
		u.totals.rejected.Add(rejected)
	}
}

// take swaps the interval's counters to zero and returns them.
func (u *usage) take(id string, conns int) wire.DatabaseUsage {
	return wire.DatabaseUsage{
		DatabaseID:  id,
		Ops:         u.ops.Swap(0),
		BytesIn:     u.bytesIn.Swap(0),
		BytesOut:    u.bytesOut.Swap(0),
		Errors:      u.errors.Swap(0),
		Rejected:    u.rejected.Swap(0),
		Connections: conns,
	}
}

// giveBack returns the counters of a report that could not be delivered,
// so the next report carries them.
func (u *usage) giveBack(d wire.DatabaseUsage) {
	u.ops.Add(d.Ops)
	u.bytesIn.Add(d.BytesIn)
	u.bytesOut.Add(d.BytesOut)
	u.errors.Add(d.Errors)
	u.rejected.Add(d.Rejected)
}

// maxReportSpan keeps a report within the control plane's limit (an
// hour), with a margin.
const maxReportSpan = 55 * time.Minute

// rejectedError is a report the control plane refused as invalid.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string { return e.err.Error() }
func (e *rejectedError) Unwrap() error { return e.err }

// reportUsage posts a usage report every UsageInterval until ctx ends.
func (p *Proxy) reportUsage(ctx context.Context) {
	t := time.NewTicker(p.opts.UsageInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.flushUsage(ctx)
		}
	}
}

// flushUsage sends one report covering the time since the previous one.
// A report that fails is folded back into the counters.
func (p *Proxy) flushUsage(ctx context.Context) {
	p.mu.Lock()
	start := p.lastReport
	if start.IsZero() {
		start = p.started
	}
	end := time.Now()
	if end.Sub(start) > maxReportSpan {
		// The control plane refuses longer reports; after a long outage
		// the held-back usage is reported as the last span's.
		start = end.Add(-maxReportSpan)
	}
	dbs := make([]*database, 0, len(p.databases)+len(p.retiredUsage))
	for _, db := range p.databases {
		dbs = append(dbs, db)
	}
	dbs = append(dbs, p.retiredUsage...)
	p.retiredUsage = nil
	p.mu.Unlock()

	rep := wire.UsageReport{ProxyID: p.opts.ID, Start: start, End: end}
	byID := make(map[string]*database, len(dbs))
	for _, db := range dbs {
		d := db.usage.take(db.id, int(db.nconns.Load()))
		if d.Ops == 0 && d.BytesIn == 0 && d.BytesOut == 0 && d.Errors == 0 && d.Rejected == 0 && d.Connections == 0 {
			continue
		}
		rep.Databases = append(rep.Databases, d)
		byID[db.id] = db
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.postUsage(ctx, &rep); err != nil {
		var re *rejectedError
		if errors.As(err, &re) {
			// Retrying a report the control plane refuses would refuse
			// every later one too.
			p.log.Error("usage report rejected; dropped", "err", err)
			p.mu.Lock()
			p.lastReport = end
			p.mu.Unlock()
			return
		}
		p.log.Warn("usage report not delivered; keeping it for the next one", "err", err)
		for _, d := range rep.Databases {
			byID[d.DatabaseID].usage.giveBack(d)
		}
		p.mu.Lock()
		for _, db := range byID {
			if p.databases[db.id] != db {
				p.retiredUsage = append(p.retiredUsage, db)
			}
		}
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	p.lastReport = end
	p.mu.Unlock()
}

func (p *Proxy) postUsage(ctx context.Context, rep *wire.UsageReport) error {
	if p.opts.ControlPlane == "" {
		return nil // routes from a file: nobody to report to
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode usage: %w", err)
	}
	u, err := url.Parse(p.opts.ControlPlane)
	if err != nil {
		return fmt.Errorf("control plane URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.JoinPath(wire.PathUsage).String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("usage request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wire.HeaderNodeToken, "Bearer "+p.opts.ProxyToken)
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST usage: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		err := fmt.Errorf("POST usage: %s: %s", resp.Status, bytes.TrimSpace(msg))
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity {
			return &rejectedError{err}
		}
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}
