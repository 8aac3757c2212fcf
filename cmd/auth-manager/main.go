// Command auth-manager is the Auth Manager service: a vault for users' Keycloak
// refresh and offline tokens that hands out fresh access tokens to other services.
//
// Usage:
//
//	auth-manager [serve]                 run the HTTP service (migrates first)
//	auth-manager migrate [up|down|status]
//	auth-manager keygen                  print a new AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY
//	auth-manager version
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "auth-manager:", err)
		os.Exit(1)
	}
}
