// Command loadgen is the load harness of `make bench`. It builds and starts
// the service against the local stack, seeds it through the real API, measures every
// scenario against baselines taken in the same run, and writes docs/BENCHMARKS.md.
//
// Usage:
//
//	loadgen [run] [flags]          the whole benchmark (see -h)
//	loadgen scale [flags]          refresh grants per row across replicas, and a slow Keycloak
//	loadgen baseline -addr ADDR    serve baseline A (the driver starts this itself)
//	loadgen vault-scale [flags]    database work against a large vault (make bench-vault-scale)
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
