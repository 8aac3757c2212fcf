package harness

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrapeKeycloakCalls reads the service's /metrics and returns the Keycloak calls it
// has made (every operation and outcome) and its refreshes of stored tokens (every
// outcome), since it started.
func scrapeKeycloakCalls(ctx context.Context, base string) (calls, refreshes float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET /metrics answered %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := sample(sc.Text())
		switch {
		case !ok:
		case name == "auth_manager_keycloak_requests_total":
			calls += v
		case name == "auth_manager_token_refreshes_total":
			refreshes += v
		}
	}
	return calls, refreshes, sc.Err()
}

// sample splits a Prometheus text-format sample line into its metric name and value.
func sample(line string) (string, float64, bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return "", 0, false
	}
	rest := line[end:]
	if line[end] == '{' {
		i := strings.LastIndexByte(line, '}')
		if i < 0 {
			return "", 0, false
		}
		rest = line[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return line[:end], v, err == nil
}
