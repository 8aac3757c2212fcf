package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// UserPrefix starts the name of every user the harness creates in Keycloak.
const UserPrefix = "loadgen-"

// BenchUser is a Keycloak user created for one run, with its stored token.
type BenchUser struct {
	Name, password, ID string
	RowID              string   // the vault row of its refresh token
	Refresh            []string // refresh tokens of one session; [0] was stored at seeding
	Access             string   // a current access token of that session
}

// Fixture is the seeded vault: users with one REFRESH row each, and service-caller
// tokens.
type Fixture struct {
	Users   []*BenchUser
	Callers []string // access tokens of the service-caller client (distinct tokens)
	kc      *Keycloak
	renewed time.Time
}

// SeedOptions size the fixture.
type SeedOptions struct {
	Users       int // users, hence stored tokens (distinct ids)
	PerSession  int // refresh tokens kept per user for the write path (≥ 1)
	Callers     int // distinct service-caller tokens
	Parallelism int // concurrent Keycloak calls while seeding
}

// Seed creates o.Users users in Keycloak, logs each in with the password grant, stores
// its refresh token through the service's POST /v1/refresh-token (the real API,
// authenticated by the user's own access token), and refreshes it at Keycloak
// PerSession-1 times for more refresh tokens of the same session. The fixture is
// returned even on error, so that Cleanup can remove what was created.
func Seed(ctx context.Context, kc *Keycloak, serviceURL string, o SeedOptions) (*Fixture, error) {
	var run [4]byte
	_, _ = rand.Read(run[:])
	f := &Fixture{kc: kc, Users: make([]*BenchUser, o.Users)}
	for i := range f.Users {
		name := fmt.Sprintf("%s%s-%03d", UserPrefix, hex.EncodeToString(run[:]), i)
		f.Users[i] = &BenchUser{Name: name, password: "pw-" + name}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	err := parallel(ctx, o.Parallelism, len(f.Users), func(ctx context.Context, i int) error {
		u := f.Users[i]
		id, err := kc.CreateUser(ctx, u.Name, u.password)
		if err != nil {
			return err
		}
		u.ID = id
		ts, err := kc.Password(ctx, u.Name, u.password)
		if err != nil {
			return err
		}
		u.Access, u.Refresh = ts.AccessToken, []string{ts.RefreshToken}
		body, _ := json.Marshal(map[string]string{"refresh_token": ts.RefreshToken})
		st, ans, err := call(ctx, client, http.MethodPost, serviceURL+"/v1/refresh-token", u.Access, body)
		if err != nil {
			return err
		}
		if st != http.StatusOK {
			return fmt.Errorf("seed: POST /v1/refresh-token answered %d: %s", st, ans)
		}
		var env struct {
			Data struct {
				ID string `json:"persistent_token_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(ans, &env); err != nil || env.Data.ID == "" {
			return fmt.Errorf("seed: unexpected answer %s", ans)
		}
		u.RowID = env.Data.ID
		for len(u.Refresh) < o.PerSession {
			next, err := kc.Refresh(ctx, ts.RefreshToken)
			if err != nil {
				return err
			}
			u.Refresh = append(u.Refresh, next.RefreshToken)
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	f.Callers = make([]string, o.Callers)
	f.renewed = time.Now()
	return f, parallel(ctx, o.Parallelism, o.Callers, func(ctx context.Context, i int) error {
		ts, err := kc.ServiceCallerToken(ctx)
		f.Callers[i] = ts.AccessToken
		return err
	})
}

// Renew gets fresh access tokens for every user (a refresh grant on its session) and
// for the service callers when the current ones are older than maxAge, so that no
// bearer token expires during a measurement (the realm's access tokens live 300 s).
func (f *Fixture) Renew(ctx context.Context, maxAge time.Duration, par int) error {
	if time.Since(f.renewed) < maxAge {
		return nil
	}
	err := parallel(ctx, par, len(f.Users), func(ctx context.Context, i int) error {
		ts, err := f.kc.Refresh(ctx, f.Users[i].Refresh[0])
		f.Users[i].Access = ts.AccessToken
		return err
	})
	if err != nil {
		return err
	}
	err = parallel(ctx, par, len(f.Callers), func(ctx context.Context, i int) error {
		ts, err := f.kc.ServiceCallerToken(ctx)
		f.Callers[i] = ts.AccessToken
		return err
	})
	f.renewed = time.Now()
	return err
}

// Cleanup deletes the run's users from Keycloak (their sessions go with them).
func (f *Fixture) Cleanup(ctx context.Context) error {
	return parallel(ctx, 4, len(f.Users), func(ctx context.Context, i int) error {
		if f.Users[i].ID == "" {
			return nil
		}
		return f.kc.DeleteUser(ctx, f.Users[i].ID)
	})
}

// RemoveStaleUsers deletes bench users older than age, left by a run that was killed.
// Younger ones may belong to a run in progress (several engineers share the stack).
func RemoveStaleUsers(ctx context.Context, kc *Keycloak, age time.Duration) (int, error) {
	users, err := kc.UsersWithPrefix(ctx, UserPrefix, 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range users {
		if time.Since(time.UnixMilli(u.Created)) > age {
			if err := kc.DeleteUser(ctx, u.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// parallel runs fn(0..n-1) on at most par goroutines and returns the first error
// (the others are cancelled).
func parallel(ctx context.Context, par, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(min(par, n), 1) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// call makes one request to the service and returns the status and (bounded) body.
func call(ctx context.Context, client *http.Client, method, url, bearer string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, nil
}
