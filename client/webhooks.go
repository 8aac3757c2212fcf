package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors of webhook verification.
var (
	// ErrWebhookSignature: the webhook headers are missing, or no signature matches any
	// secret: the request is not from auth-manager, or was changed on the way.
	ErrWebhookSignature = errors.New("client: webhook signature does not verify")
	// ErrWebhookTimestamp: webhook-timestamp is more than the tolerance away from now
	// (a replay, or a clock far off).
	ErrWebhookTimestamp = errors.New("client: webhook timestamp outside the tolerance")
)

// WebhookTolerance is how far webhook-timestamp may be from the receiver's clock.
const WebhookTolerance = 5 * time.Minute

// maxWebhookBody bounds the body a WebhookVerifier reads.
const maxWebhookBody = 1 << 20

// WebhookVerifier checks auth-manager's webhooks (the Standard Webhooks format:
// webhook-id, webhook-timestamp, webhook-signature) with the subscriber's secrets.
type WebhookVerifier struct {
	keys [][]byte
	now  func() time.Time
}

// NewWebhookVerifier returns a verifier for the subscriber's secrets, in their whsec_
// form; give two while the secret is being rotated.
func NewWebhookVerifier(secrets ...string) (*WebhookVerifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("client: no webhook secret")
	}
	v := &WebhookVerifier{now: time.Now}
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) == 0 {
			return nil, errors.New("client: a webhook secret is not whsec_ and base64")
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// Verify checks that body and header are a webhook signed with one of the secrets,
// sent within WebhookTolerance of now.
func (v *WebhookVerifier) Verify(header http.Header, body []byte) error {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrWebhookSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrWebhookSignature
	}
	if d := v.now().Sub(time.Unix(sec, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return ErrWebhookTimestamp
	}
	for _, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, s := range strings.Fields(sigs) {
			version, sig, ok := strings.Cut(s, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(sig)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrWebhookSignature
}

// Handler is an http.Handler for the subscriber's URL: it verifies each webhook and
// hands its event to fn. It answers 204 when fn returns nil, 500 when fn fails (so that
// auth-manager delivers the event again later), 401 to a request that does not verify
// and 400 to a body that is not an event. A webhook-id may arrive more than once (at
// least once delivery): fn should ignore an event id it has handled.
func (v *WebhookVerifier) Handler(fn func(ctx context.Context, e Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
		if err != nil || len(body) > maxWebhookBody {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var e Event
		if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || e.Type == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := fn(r.Context(), e); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
