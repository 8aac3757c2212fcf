package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit may be stamped at build time with
// -ldflags "-X main.version=… -X main.commit=…" (make build, the Dockerfile); a build
// that is not stamped reports what the Go toolchain recorded in the binary.
var (
	version string
	commit  string
)

// build describes the running binary.
type build struct {
	Version   string // the release tag, or the module's (pseudo-)version, or "dev"
	Commit    string // the VCS revision, "" when unknown
	Modified  bool   // built from a working tree with uncommitted changes
	GoVersion string
}

// currentBuild is this binary's build: the stamped values first, else its build
// information.
func currentBuild() build {
	bi, _ := debug.ReadBuildInfo()
	return buildFrom(version, commit, bi)
}

// buildFrom prefers the ldflags-stamped values and fills the rest from bi (which may
// be nil): the main module's version when it is a real one ("(devel)" is not), the
// vcs.revision and vcs.modified settings, and the Go version.
func buildFrom(stampedVersion, stampedCommit string, bi *debug.BuildInfo) build {
	b := build{Version: stampedVersion, Commit: stampedCommit, GoVersion: runtime.Version()}
	if bi != nil {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

func (b build) write(w io.Writer) {
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "auth-manager %s\ncommit %s\n%s\n", b.Version, commit, b.GoVersion)
}
