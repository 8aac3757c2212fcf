package harness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDriveBaseline(t *testing.T) {
	srv := httptest.NewServer(BaselineHandler())
	defer srv.Close()
	var opened, closed int
	r, err := Drive(context.Background(), NewClient(4, 5*time.Second), BaselineA(srv.URL)(4), LoadOptions{
		Concurrency: 4, Warmup: 20 * time.Millisecond, Duration: 200 * time.Millisecond, MaxRequests: 1_000_000, Timeout: 5 * time.Second,
		OnWindow: func(open bool) {
			if open {
				opened++
			} else {
				closed++
			}
		},
	})
	require.NoError(t, err)
	assert.Equal(t, [2]int{1, 1}, [2]int{opened, closed}, "the window opens and closes once")
	assert.Positive(t, r.Requests)
	assert.Zero(t, r.Errors)
	assert.Positive(t, r.RPS)
	assert.LessOrEqual(t, r.P50, r.P90)
	assert.LessOrEqual(t, r.P90, r.P99)
	assert.LessOrEqual(t, r.P99, r.Max)
	assert.Equal(t, 4, r.Concurrency)
}

func TestDriveCountsErrorsAndStopsAtMaxRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	target := Target{Want: http.StatusOK, New: func(ctx context.Context, _, _ int) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	}}
	start := time.Now()
	r, err := Drive(context.Background(), NewClient(2, 5*time.Second), target, LoadOptions{
		Concurrency: 2, Duration: time.Minute, MaxRequests: 50, Timeout: 5 * time.Second})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 30*time.Second, "MaxRequests ends the window early")
	assert.LessOrEqual(t, r.Requests, int64(50))
	assert.Equal(t, r.Requests, r.Errors)
	assert.Equal(t, map[string]int64{"status 502": r.Errors}, r.ErrorKinds)
}

func TestDriveRefusesUnboundedRuns(t *testing.T) {
	_, err := Drive(context.Background(), NewClient(1, time.Second), Target{}, LoadOptions{Concurrency: 1, Duration: time.Second})
	assert.Error(t, err, "no MaxRequests")
	_, err = Drive(context.Background(), NewClient(1, time.Second), Target{}, LoadOptions{Concurrency: 1, MaxRequests: 1})
	assert.Error(t, err, "no Duration")
}

func TestDriveStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(BaselineHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Drive(ctx, NewClient(2, 5*time.Second), BaselineA(srv.URL)(2), LoadOptions{
		Concurrency: 2, Duration: time.Minute, MaxRequests: 1 << 40, Timeout: 5 * time.Second})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestParallelReturnsFirstError(t *testing.T) {
	err := parallel(context.Background(), 3, 10, func(ctx context.Context, i int) error {
		if i == 4 {
			return assert.AnError
		}
		return nil
	})
	assert.ErrorIs(t, err, assert.AnError)
	assert.NoError(t, parallel(context.Background(), 3, 0, func(context.Context, int) error { return assert.AnError }))
}
