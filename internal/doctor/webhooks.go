package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
)

// probeTimeout bounds one subscriber's probe (within the check's own bound).
const probeTimeout = 5 * time.Second

// checkWebhooks sends each subscriber a signed test message (events.Probe) and
// expects a 2xx answer.
func checkWebhooks(ctx context.Context, d Deps) Result {
	subs := d.Config.Events.Webhooks.Subscribers
	if len(subs) == 0 {
		return pass(CheckWebhooks, "no subscribers (AUTH_MANAGER_WEBHOOKS is empty): events are only pulled (GET /v1/events)")
	}
	if d.ProbeWebhook == nil {
		// serve's own run at start: a test message from every replica on every start
		// would reach each subscriber once per replica and per restart.
		return Result{Check: CheckWebhooks, Skipped: true,
			Detail: fmt.Sprintf("%d subscriber(s) not probed here (auth-manager doctor sends each a test message)", len(subs))}
	}
	var ok, bad []string
	timeout := min(probeTimeout, d.Config.Events.Webhooks.Timeout)
	for _, s := range subs {
		status, err := d.ProbeWebhook(ctx, s, timeout)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %s", s, err.Error()))
		case status < 200 || status > 299:
			bad = append(bad, fmt.Sprintf("%s: answered %d", s, status))
		default:
			ok = append(ok, s.Name)
		}
	}
	if len(bad) > 0 {
		return fail(CheckWebhooks, strings.Join(bad, "; "),
			"check each URL from here, that the receiver answers 2xx to a verified message of a type it does not know (webhook.test), and allow_private_network for an internal receiver")
	}
	return pass(CheckWebhooks, "every subscriber answers a signed test message: "+strings.Join(ok, ", "))
}

// WebhookProbe sends one subscriber a signed test message and returns its status
// (events.Probe).
type WebhookProbe func(ctx context.Context, s config.Subscriber, timeout time.Duration) (int, error)
