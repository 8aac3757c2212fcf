package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// healthcheck asks a running service whether it is ready and succeeds only on a 200
// from /health/ready. It exists for the distroless image, whose HEALTHCHECK and
// compose healthcheck have no shell or curl, and for `helm test`. It reads no
// configuration but PORT (the default URL is this container's own listener), so a
// probe never fails on a secret it does not need.
func healthcheckCommand(fs *flag.FlagSet, w world) action {
	port, _ := w.getenv("PORT")
	if port == "" {
		port = "8000"
	}
	target := fs.String("url", "http://127.0.0.1:"+port+"/health/ready", "readiness `URL` to ask")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	return func(ctx context.Context, _ []string) error { return healthcheck(ctx, *target, *timeout, w.stdout) }
}

func healthcheck(ctx context.Context, target string, timeout time.Duration, stdout io.Writer) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("healthcheck: --url must be an absolute http(s) URL")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// A redirect is not readiness: a probe answered by something else must fail.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", u.Redacted(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d, not ready", u.Redacted(), resp.StatusCode)
	}
	fmt.Fprintf(stdout, "ready: %s answered 200\n", u.Redacted())
	return nil
}
