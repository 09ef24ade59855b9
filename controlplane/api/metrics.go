package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/keyfleet/keyfleet/controlplane/store"
)

// metrics are OpenTelemetry instruments exported for Prometheus on
// /metrics. Each Server has its own registry (no global state).
type metrics struct {
	handler  http.Handler
	requests metric.Int64Counter
	duration metric.Float64Histogram
}

func newMetrics(st *store.Store) (*metrics, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)).Meter("github.com/keyfleet/keyfleet/controlplane")
	m := &metrics{handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	if m.requests, err = meter.Int64Counter("keyfleet.http.requests", metric.WithDescription("HTTP requests by route and status")); err != nil {
		return nil, fmt.Errorf("metric: %w", err)
	}
	if m.duration, err = meter.Float64Histogram("keyfleet.http.duration", metric.WithUnit("s"), metric.WithDescription("HTTP request latency")); err != nil {
		return nil, fmt.Errorf("metric: %w", err)
	}
	dbs, err := meter.Int64ObservableGauge("keyfleet.databases", metric.WithDescription("databases by status"))
	if err != nil {
		return nil, fmt.Errorf("metric: %w", err)
	}
	nodes, err := meter.Int64ObservableGauge("keyfleet.nodes", metric.WithDescription("node hosts by status"))
	if err != nil {
		return nil, fmt.Errorf("metric: %w", err)
	}
	failovers, err := meter.Int64ObservableCounter("keyfleet.failovers", metric.WithDescription("failovers by reason (node_down, manual, manual_forced)"))
	if err != nil {
		return nil, fmt.Errorf("metric: %w", err)
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		byStatus, nodeStatus, err := st.Counts(ctx)
		if err != nil {
			return err
		}
		for _, s := range []string{store.StatusProvisioning, store.StatusActive, store.StatusFailed, store.StatusDeleting} {
			o.ObserveInt64(dbs, byStatus[s], metric.WithAttributes(attribute.String("status", s)))
		}
		for _, s := range []string{store.NodeUp, store.NodeDown, store.NodeDraining} {
			o.ObserveInt64(nodes, nodeStatus[s], metric.WithAttributes(attribute.String("status", s)))
		}
		fo, err := st.FailoverCounts(ctx)
		if err != nil {
			return err
		}
		for _, r := range []string{store.ReasonNodeDown, store.ReasonManual, store.ReasonManualForced} {
			o.ObserveInt64(failovers, fo[r], metric.WithAttributes(attribute.String("reason", r)))
		}
		return nil
	}, dbs, nodes, failovers)
	if err != nil {
		return nil, fmt.Errorf("metric callback: %w", err)
	}
	return m, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// middleware counts requests by route pattern (not raw path: ids would
// explode the label set), method and status.
func (m *metrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		attrs := metric.WithAttributes(
			attribute.String("route", route),
			attribute.String("method", r.Method),
			attribute.String("status", strconv.Itoa(rec.status)),
		)
		m.requests.Add(r.Context(), 1, attrs)
		m.duration.Record(r.Context(), time.Since(start).Seconds(), attrs)
	})
}
