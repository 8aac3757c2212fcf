package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's example message.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTime   = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func specHeader(sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", specID)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", sig)
	return h
}

func TestWebhookVerifierSpecVector(t *testing.T) {
	other := "whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"
	at := func(d time.Duration) func() time.Time {
		return func() time.Time { return time.Unix(specTime, 0).Add(d) }
	}
	cases := []struct {
		name    string
		secrets []string
		sig     string
		body    string
		now     func() time.Time
		want    error
	}{
		{"the spec's vector", []string{specSecret}, specSig, specBody, at(0), nil},
		{"rotation: the second secret", []string{other, specSecret}, specSig, specBody, at(0), nil},
		{"one of several signatures", []string{specSecret}, "v1,bm90IGl0 " + specSig, specBody, at(0), nil},
		{"another secret", []string{other}, specSig, specBody, at(0), ErrWebhookSignature},
		{"changed body", []string{specSecret}, specSig, `{"test": 2432232315}`, at(0), ErrWebhookSignature},
		{"another version", []string{specSecret}, strings.Replace(specSig, "v1,", "v2,", 1), specBody, at(0), ErrWebhookSignature},
		{"too old", []string{specSecret}, specSig, specBody, at(6 * time.Minute), ErrWebhookTimestamp},
		{"too new", []string{specSecret}, specSig, specBody, at(-6 * time.Minute), ErrWebhookTimestamp},
		{"within the tolerance", []string{specSecret}, specSig, specBody, at(4 * time.Minute), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewWebhookVerifier(tc.secrets...)
			if err != nil {
				t.Fatal(err)
			}
			v.now = tc.now
			if err := v.Verify(specHeader(tc.sig), []byte(tc.body)); !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewWebhookVerifier("whsec_!!"); err == nil {
		t.Fatal("a malformed secret is refused")
	}
}

func TestWebhookHandler(t *testing.T) {
	v, err := NewWebhookVerifier(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	v.now = func() time.Time { return time.Unix(specTime, 0) }
	var got []Event
	fail := false
	h := v.Handler(func(_ context.Context, e Event) error {
		if fail {
			return errors.New("busy")
		}
		got = append(got, e)
		return nil
	})
	send := func(body, sig string) int {
		r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
		for k, vs := range specHeader(sig) {
			r.Header[k] = vs
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// A signature made for an event body with the spec's secret, id and time.
	event := `{"id":"5f0c2a9e-8d4b-4c1e-9a7f-3b2c1d0e9f8a","type":"token.invalid","occurred_at":"2021-02-25T15:02:10Z","user_id":"u","persistent_token_id":"r","token_type":"offline","session_id":"s","cause":"invalid_grant","details":{"error":"invalid_grant"}}`
	sig := sign(t, specSecret, specID, specTime, event)
	if code := send(event, sig); code != http.StatusNoContent {
		t.Fatalf("a verified event: %d", code)
	}
	if len(got) != 1 || got[0].Type != EventTokenInvalid || *got[0].PersistentTokenID != "r" || got[0].Details["error"] != "invalid_grant" {
		t.Fatalf("decoded %+v", got)
	}
	if code := send(event, specSig); code != http.StatusUnauthorized {
		t.Fatalf("a signature of another body: %d", code)
	}
	if code := send(specBody, specSig); code != http.StatusBadRequest {
		t.Fatalf("a verified body that is no event: %d", code)
	}
	fail = true
	if code := send(event, sig); code != http.StatusInternalServerError {
		t.Fatalf("fn failing: %d (auth-manager must retry)", code)
	}
}

// sign is the Standard Webhooks signature, computed independently of the verifier.
func sign(t *testing.T, secret, id string, ts int64, body string) string {
	t.Helper()
	v, err := NewWebhookVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	return "v1," + macBase64(v.keys[0], id+"."+itoa(ts)+"."+body)
}

func macBase64(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
