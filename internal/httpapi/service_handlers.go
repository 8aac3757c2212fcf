package httpapi

import (
	"context"
	"net/http"
)

// Database is what the service endpoints need from the store.
type Database interface {
	Ping(ctx context.Context) error
	Version(ctx context.Context) (string, error)
}

// AppInfo identifies the running build.
type AppInfo struct {
	Name    string
	Version string
	Commit  string
}

// ReadyAnswer is the payload of GET /health/ready.
type ReadyAnswer struct {
	AppName        string `json:"app_name" example:"Auth Manager Service"`
	AppVersion     string `json:"app_version" example:"1.0.0"`
	DatabaseStatus string `json:"database_status" example:"connected"`
} // @name ReadyAnswer

// VersionAnswer is the payload of GET /version.
type VersionAnswer struct {
	AppName         string `json:"app_name" example:"Auth Manager Service"`
	AppVersion      string `json:"app_version" example:"1.0.0"`
	CommitSHA       string `json:"commit_sha,omitempty" example:"0a1b2c3"`
	DatabaseVersion string `json:"database_version" example:"PostgreSQL 15.8"`
} // @name VersionAnswer

// handleHealth is liveness only: it answers while the process serves HTTP.
//
//	@Summary	Liveness
//	@ID			getHealth
//	@Tags		service
//	@Produce	json
//	@Success	200	{string}	string	"OK"
//	@Router		/health [get]
func handleHealth() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, "OK") }
}

// handleReady checks the database, and turns 503 while the server drains so that a
// load balancer stops sending traffic before the process exits.
//
//	@Summary	Readiness
//	@ID			getReadiness
//	@Tags		service
//	@Produce	json
//	@Success	200	{object}	DataEnvelope[ReadyAnswer]
//	@Failure	503	{object}	ErrorEnvelope	"service_unavailable: the database does not answer (details database: disconnected), or the server is shutting down (details server: shutting_down)"
//	@Router		/health/ready [get]
func handleReady(info AppInfo, db Database, draining func() bool, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if draining != nil && draining() {
			ew.write(w, r, &apiError{Status: http.StatusServiceUnavailable, Code: "service_unavailable",
				Message: "Shutting down", Details: map[string]any{"server": "shutting_down"}})
			return
		}
		if err := db.Ping(r.Context()); err != nil {
			ew.write(w, r, &apiError{Status: http.StatusServiceUnavailable, Code: "service_unavailable",
				Message: "Database is unavailable", Details: map[string]any{"database": "disconnected"}})
			return
		}
		encode(w, http.StatusOK, ReadyAnswer{AppName: info.Name, AppVersion: info.Version, DatabaseStatus: "connected"})
	}
}

// handleVersion reports the build and the database server's version.
//
//	@Summary	Version
//	@ID			getVersion
//	@Tags		service
//	@Produce	json
//	@Success	200	{object}	DataEnvelope[VersionAnswer]
//	@Failure	502	{object}	ErrorEnvelope	"database_error"
//	@Failure	503	{object}	ErrorEnvelope
//	@Router		/version [get]
func handleVersion(info AppInfo, db Database, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := db.Version(r.Context())
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, VersionAnswer{AppName: info.Name, AppVersion: info.Version, CommitSHA: info.Commit, DatabaseVersion: v})
	}
}
