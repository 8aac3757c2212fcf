package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterPool exposes the pgx pool's statistics, read at scrape time.
func (m *Metrics) RegisterPool(pool *pgxpool.Pool) {
	gauge := func(name, help string, f func(*pgxpool.Stat) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: "db_pool", Name: name, Help: help},
			func() float64 { return f(pool.Stat()) })
	}
	m.reg.MustRegister(
		gauge("connections_acquired", "Connections in use.", func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		gauge("connections_idle", "Idle connections.", func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		gauge("connections_total", "Open connections.", func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		gauge("connections_max", "Pool bound (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW).", func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: "db_pool", Name: "acquires_total", Help: "Connections acquired."},
			func() float64 { return float64(pool.Stat().AcquireCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: "db_pool", Name: "empty_acquires_total", Help: "Acquires that had to wait for a connection."},
			func() float64 { return float64(pool.Stat().EmptyAcquireCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: "db_pool", Name: "acquire_wait_seconds_total", Help: "Time spent waiting for connections."},
			func() float64 { return pool.Stat().AcquireDuration().Seconds() }),
	)
}

// RowCount is the number of vault rows of one type and status.
type RowCount struct {
	Type, Status string
	Count        int
}

// VaultRows is a gauge of vault rows by type and status. The figures are computed in
// the background by one replica at a time, the one elect names, never by a scrape;
// the other replicas export no series, so that the gauge costs the database the same
// whatever the replica count.
type VaultRows struct {
	gauge *prometheus.GaugeVec
	count func(ctx context.Context) ([]RowCount, error)
	elect func(ctx context.Context) bool
	mu    sync.Mutex
}

// RegisterVaultRows registers the vault-rows gauge; call Run to keep it fresh. elect
// reports whether this replica is the one that computes it (nil: always).
func (m *Metrics) RegisterVaultRows(count func(ctx context.Context) ([]RowCount, error), elect func(ctx context.Context) bool) *VaultRows {
	if elect == nil {
		elect = func(context.Context) bool { return true }
	}
	v := &VaultRows{count: count, elect: elect, gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "vault_rows",
		Help: "Stored tokens by type and status (PostgreSQL's estimate in a large table), refreshed every 30 s by one replica; the others export no series."},
		[]string{"type", "status"})}
	m.reg.MustRegister(v.gauge)
	return v
}

// Run refreshes the gauge every interval until ctx ends.
func (v *VaultRows) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		v.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh recomputes the figures now if this replica is elected, and drops its series
// if it is not.
func (v *VaultRows) Refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if !v.elect(ctx) {
		v.mu.Lock()
		v.gauge.Reset()
		v.mu.Unlock()
		return
	}
	counts, err := v.count(ctx)
	if err != nil {
		return // keep the last values; the database's own health is reported elsewhere
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gauge.Reset()
	for _, typ := range []string{"refresh", "offline"} {
		for _, status := range []string{"active", "invalid"} {
			v.gauge.WithLabelValues(typ, status).Set(0) // every series exists, even at zero
		}
	}
	for _, c := range counts {
		v.gauge.WithLabelValues(c.Type, c.Status).Set(float64(c.Count))
	}
}
