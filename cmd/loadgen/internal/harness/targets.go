package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// A TargetFunc builds the target for c workers. Spread targets give worker w the users
// w, w+c, w+2c, … (mod N): when c divides N no two workers ever touch the same user,
// so concurrent requests never queue on one row or share one refresh.
type TargetFunc func(c int) Target

// spreadIndex is the user of worker w's n-th request with c workers over n users, and
// how many times this worker has come round to that user before.
func spreadIndex(w, n, c, users int) (user, round int) {
	k := w + n*c
	return k % users, k / users
}

// BaselineA targets baseline A's fixed answer.
func BaselineA(base string) TargetFunc {
	u := base + BaselinePath
	return func(int) Target {
		return Target{Want: http.StatusOK, New: func(ctx context.Context, _, _ int) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		}}
	}
}

// BaselineB targets Keycloak's token endpoint with the refresh grant, presenting the
// refresh tokens the vault holds (each user's first), spread like the service's calls.
func BaselineB(kc *Keycloak, f *Fixture) TargetFunc {
	u := kc.TokenEndpoint()
	forms := make([][]byte, len(f.Users))
	for i, usr := range f.Users {
		forms[i] = []byte(kc.refreshForm(usr.Refresh[0]).Encode())
	}
	return func(c int) Target {
		return Target{Want: http.StatusOK, New: func(ctx context.Context, w, n int) (*http.Request, error) {
			i, _ := spreadIndex(w, n, c, len(forms))
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(forms[i]))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return req, err
		}}
	}
}

// AccessHit targets POST /v1/access-token for one id (the first user's row) from many
// callers: worker w presents service-caller token w mod len(Callers).
func AccessHit(base string, f *Fixture) TargetFunc {
	u := base + "/v1/access-token?id=" + url.QueryEscape(f.Users[0].RowID)
	return func(int) Target {
		return Target{Want: http.StatusOK, New: func(ctx context.Context, w, _ int) (*http.Request, error) {
			return bearerRequest(ctx, http.MethodPost, u, f.Callers[w%len(f.Callers)], nil)
		}}
	}
}

// AccessSpread targets POST /v1/access-token over every user's row, each asked for by
// its owner (the user's own access token).
func AccessSpread(base string, f *Fixture) TargetFunc { return accessSpread(base, f, "") }

// AccessRefresh is AccessSpread asking for min_ttl=3600, longer than any access token of
// the realm lives: neither a cache nor the database's copy can answer, so every call
// refreshes at Keycloak.
func AccessRefresh(base string, f *Fixture) TargetFunc { return accessSpread(base, f, "&min_ttl=3600") }

func accessSpread(base string, f *Fixture, query string) TargetFunc {
	urls := make([]string, len(f.Users))
	for i, usr := range f.Users {
		urls[i] = base + "/v1/access-token?id=" + url.QueryEscape(usr.RowID) + query
	}
	return func(c int) Target {
		return Target{Want: http.StatusOK, New: func(ctx context.Context, w, n int) (*http.Request, error) {
			i, _ := spreadIndex(w, n, c, len(urls))
			return bearerRequest(ctx, http.MethodPost, urls[i], f.Users[i].Access, nil)
		}}
	}
}

// Validate targets GET /v1/validate-token with every user's access token in turn.
func Validate(base string, f *Fixture) TargetFunc {
	u := base + "/v1/validate-token"
	return func(c int) Target {
		return Target{Want: http.StatusOK, New: func(ctx context.Context, w, n int) (*http.Request, error) {
			i, _ := spreadIndex(w, n, c, len(f.Users))
			return bearerRequest(ctx, http.MethodGet, u, f.Users[i].Access, nil)
		}}
	}
}

// StoreRefresh targets POST /v1/refresh-token: each user stores, in turn, the refresh
// tokens of its session. Consecutive stores for a user carry different tokens, so each
// one rewrites the row (storing the token already stored would be a no-op).
func StoreRefresh(base string, f *Fixture) TargetFunc {
	u := base + "/v1/refresh-token"
	bodies := make([][][]byte, len(f.Users))
	for i, usr := range f.Users {
		for _, rt := range usr.Refresh {
			b, _ := json.Marshal(map[string]string{"refresh_token": rt})
			bodies[i] = append(bodies[i], b)
		}
	}
	return func(c int) Target {
		return Target{Want: http.StatusOK, New: func(ctx context.Context, w, n int) (*http.Request, error) {
			i, round := spreadIndex(w, n, c, len(bodies))
			return bearerRequest(ctx, http.MethodPost, u, f.Users[i].Access, bodies[i][round%len(bodies[i])])
		}}
	}
}

func bearerRequest(ctx context.Context, method, u, token string, body []byte) (*http.Request, error) {
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}
