package store

import (
	"context"
	"time"
)

// EvictChannel is the NOTIFY channel on which the database announces rows whose
// cached access tokens must go (see migration 3's trigger).
const EvictChannel = "auth_vault_evict"

// listenProbeInterval bounds how long a dead LISTEN connection goes unnoticed.
const listenProbeInterval = 5 * time.Second

// Listen holds one connection LISTENing on channel until ctx ends, calling onNotify
// with each payload. onState(true) is called once the LISTEN is in place and
// onState(false) as soon as the connection is lost: a caller that caches must stop
// trusting its cache in between, because notifications sent then are gone. It
// reconnects with capped backoff.
func (s *Store) Listen(ctx context.Context, channel string, onNotify func(payload string), onState func(up bool)) {
	const firstBackoff = 100 * time.Millisecond
	backoff := firstBackoff
	for ctx.Err() == nil {
		up := false
		err := s.listenOnce(ctx, channel, onNotify, func(bool) { up = true; onState(true) })
		onState(false)
		if ctx.Err() != nil {
			return
		}
		if up {
			backoff = firstBackoff // a connection that worked: this loss is a new outage
		}
		s.log.WarnContext(ctx, "listen connection lost; reconnecting", "channel", channel, "error", err, "backoff", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, channel string, onNotify func(string), onState func(bool)) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection ends in LISTEN state: take it out of the pool for good.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	onState(true)
	for {
		// Wake up now and then to prove the connection is alive: a silent network
		// partition would otherwise leave us waiting, and trusting the cache, forever.
		wctx, cancel := context.WithTimeout(ctx, listenProbeInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			onNotify(n.Payload)
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
