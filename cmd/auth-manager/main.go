// Command auth-manager is the Auth Manager service: a vault for users' Keycloak
// refresh and offline tokens that hands out fresh access tokens to other services.
//
// `auth-manager help` lists its commands (serve is the default); `auth-manager COMMAND
// --help` shows a command's flags. docs/configuration.md lists the environment
// variables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(report(os.Stderr, err))
	}
}
