package store

import (
	"context"
	"time"
)

// listenProbeInterval bounds how long a dead LISTEN connection goes unnoticed.
const listenProbeInterval = 5 * time.Second

// Listen holds one connection LISTENing on channels until ctx ends, calling onNotify
// for each notification (the payload is not read: a notification is a wake-up).
// onState(true) is called once every LISTEN is in place and onState(false) as soon as
// the connection is lost: notifications sent in between are gone, so a caller reads
// what it follows again after onState(true). It reconnects with capped backoff.
func (s *Store) Listen(ctx context.Context, channels []string, onNotify func(), onState func(up bool)) {
	const firstBackoff = 100 * time.Millisecond
	backoff := firstBackoff
	for ctx.Err() == nil {
		up := false
		err := s.listenOnce(ctx, channels, onNotify, func() { up = true; onState(true) })
		onState(false)
		if ctx.Err() != nil {
			return
		}
		if up {
			backoff = firstBackoff // a connection that worked: this loss is a new outage
		}
		s.log.WarnContext(ctx, "listen connection lost; reconnecting", "channels", channels, "error", err, "backoff", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, channels []string, onNotify func(), onUp func()) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection ends in LISTEN state: take it out of the pool for good.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	onUp()
	for {
		// Wake up now and then to prove the connection is alive: a silent network
		// partition would otherwise leave us waiting, and trusting the cache, forever.
		wctx, cancel := context.WithTimeout(ctx, listenProbeInterval)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			onNotify()
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil:
			pctx, cancel := context.WithTimeout(ctx, listenProbeInterval)
			_, err := conn.Exec(pctx, "SELECT 1")
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}
