package config

import (
	"strconv"
	"strings"
)

// AccessLog configures the access log (one line per request). Audit events and every
// other line are always written.
type AccessLog struct {
	// Sample is the fraction (0–1) of successful (2xx) answers of the hot routes,
	// POST /v1/access-token and GET /v1/validate-token, that get an access line; 1
	// logs every request. Other routes and other statuses are always logged.
	Sample float64
}

func (e env) accessLog() (AccessLog, error) {
	var p problems
	f, err := strconv.ParseFloat(strings.TrimSpace(e.AccessLogSample), 64)
	if err != nil || !(f >= 0 && f <= 1) {
		p.add(invalid("AUTH_MANAGER_ACCESS_LOG_SAMPLE", "must be a number between 0 and 1"))
	}
	if err := p.err(); err != nil {
		return AccessLog{}, err
	}
	return AccessLog{Sample: f}, nil
}
