package app

import (
	"log/slog"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/httpapi"
	"github.com/auth-manager/auth-manager/internal/metrics"
)

type accessLogOption struct {
	log     *slog.Logger
	dropped func() uint64
}

// WithAccessLog sends the access lines (one per request) to log instead of the App's
// logger, which keeps the audit trail and every other line; dropped, when not nil,
// counts the lines log's writer had to drop (auth_manager_access_log_dropped_total).
// The serve command gives it a logsink.Async writer.
func WithAccessLog(log *slog.Logger, dropped func() uint64) Option {
	return func(o *options) { o.accessLog = accessLogOption{log: log, dropped: dropped} }
}

// wire sets the handler's access logger and sampling.
func (a accessLogOption) wire(d *httpapi.Deps, cfg config.AccessLog, m *metrics.Metrics) {
	d.AccessLog = a.log
	d.AccessLogSkip = 1 - cfg.Sample
	if a.dropped != nil {
		m.RegisterAccessLogDrops(a.dropped)
	}
}
