package proxy

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the proxy's OpenTelemetry instruments. Per-database traffic
// is observed from the usage totals at collection time, so the request
// path pays nothing for it.
type metrics struct {
	connsAccepted metric.Int64Counter
	authFailures  metric.Int64Counter
}

func newMetrics(p *Proxy, mp metric.MeterProvider) (*metrics, error) {
	m := mp.Meter("github.com/keyfleet/keyfleet/proxy")
	var out metrics
	var err error
	wrap := func(e error) error { return fmt.Errorf("proxy metrics: %w", e) }
	if out.connsAccepted, err = m.Int64Counter("keyfleet.proxy.connections.accepted",
		metric.WithDescription("Client connections accepted")); err != nil {
		return nil, wrap(err)
	}
	if out.authFailures, err = m.Int64Counter("keyfleet.proxy.auth.failures",
		metric.WithDescription("Failed AUTH/HELLO AUTH attempts")); err != nil {
		return nil, wrap(err)
	}
	ops, err := m.Int64ObservableCounter("keyfleet.proxy.ops", metric.WithDescription("Commands served, per database"))
	if err != nil {
		return nil, wrap(err)
	}
	bytesIn, err := m.Int64ObservableCounter("keyfleet.proxy.bytes.in", metric.WithUnit("By"), metric.WithDescription("Request bytes, per database"))
	if err != nil {
		return nil, wrap(err)
	}
	bytesOut, err := m.Int64ObservableCounter("keyfleet.proxy.bytes.out", metric.WithUnit("By"), metric.WithDescription("Reply bytes, per database"))
	if err != nil {
		return nil, wrap(err)
	}
	errs, err := m.Int64ObservableCounter("keyfleet.proxy.errors", metric.WithDescription("Error replies, per database"))
	if err != nil {
		return nil, wrap(err)
	}
	rejected, err := m.Int64ObservableCounter("keyfleet.proxy.rejected", metric.WithDescription("Requests refused by a quota, per database"))
	if err != nil {
		return nil, wrap(err)
	}
	conns, err := m.Int64ObservableGauge("keyfleet.proxy.connections", metric.WithDescription("Open authenticated connections, per database"))
	if err != nil {
		return nil, wrap(err)
	}
	clients, err := m.Int64ObservableGauge("keyfleet.proxy.clients", metric.WithDescription("Open client connections"))
	if err != nil {
		return nil, wrap(err)
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		o.ObserveInt64(clients, p.nclients.Load())
		p.mu.Lock()
		dbs := make([]*database, 0, len(p.databases))
		for _, db := range p.databases {
			dbs = append(dbs, db)
		}
		p.mu.Unlock()
		for _, db := range dbs {
			set := metric.WithAttributes(attribute.String("database", db.id))
			t := &db.usage.totals
			o.ObserveInt64(ops, t.ops.Load(), set)
			o.ObserveInt64(bytesIn, t.bytesIn.Load(), set)
			o.ObserveInt64(bytesOut, t.bytesOut.Load(), set)
			o.ObserveInt64(errs, t.errors.Load(), set)
			o.ObserveInt64(rejected, t.rejected.Load(), set)
			o.ObserveInt64(conns, db.nconns.Load(), set)
		}
		return nil
	}, ops, bytesIn, bytesOut, errs, rejected, conns, clients)
	if err != nil {
		return nil, wrap(err)
	}
	return &out, nil
}
