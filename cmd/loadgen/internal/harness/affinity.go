package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Placement is where the driver and the measured process run during a window.
type Placement int

const (
	// Shared: both may run on every CPU (and compete with each other for them).
	Shared Placement = iota
	// Pinned: the driver on one half of the CPUs, the measured process on the other
	// (on 2 CPUs: one each), so that the load generator does not take CPU from the
	// process it measures. PostgreSQL, Keycloak and anything else on the machine are
	// not pinned and may still run on either.
	Pinned
)

func (p Placement) String() string {
	if p == Pinned {
		return "pinned"
	}
	return "shared"
}

// Placements parses -pin: "both" (shared, then pinned, at each level), "shared" or
// "pinned".
func Placements(s string) ([]Placement, error) {
	switch s {
	case "both":
		return []Placement{Shared, Pinned}, nil
	case "shared", "off":
		return []Placement{Shared}, nil
	case "pinned", "on":
		return []Placement{Pinned}, nil
	}
	return nil, fmt.Errorf("-pin: %q is not both, shared or pinned", s)
}

// cpuSets are the taskset CPU lists of a placement: all CPUs when shared; the lower
// half for the driver and the upper half for the measured process when pinned.
func cpuSets(p Placement, n int) (driver, measured string) {
	all := fmt.Sprintf("0-%d", n-1)
	if p == Shared || n < 2 {
		return all, all
	}
	h := n / 2
	span := func(lo, hi int) string {
		if lo == hi {
			return fmt.Sprint(lo)
		}
		return fmt.Sprintf("%d-%d", lo, hi)
	}
	return span(0, h-1), span(h, n-1)
}

// affinity moves processes between placements with taskset(1) (util-linux), every
// thread of each (-a), so that threads created later inherit the mask.
type affinity struct {
	cpus    int
	current map[int]string // pid → CPU list last set
}

func newAffinity() *affinity { return &affinity{cpus: runtime.NumCPU(), current: map[int]string{}} }

// place puts the driver (this process) and proc (nil for a process that is not ours,
// e.g. Keycloak) where p says. It reports whether anything moved: a Go process
// adjusts GOMAXPROCS to its CPU mask within a second (Go ≥ 1.25), so the caller lets
// it settle before measuring.
func (a *affinity) place(ctx context.Context, p Placement, proc *Proc) (moved bool, err error) {
	if p == Pinned && a.cpus < 2 {
		return false, fmt.Errorf("pinning needs at least 2 CPUs, this machine has %d", a.cpus)
	}
	drv, meas := cpuSets(p, a.cpus)
	set := func(pid int, cpus string) error {
		if a.current[pid] == cpus {
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpus, fmt.Sprint(pid)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("taskset -a -p -c %s %d: %v: %s", cpus, pid, err, strings.TrimSpace(string(out)))
		}
		a.current[pid] = cpus
		moved = true
		return nil
	}
	if err := set(os.Getpid(), drv); err != nil {
		return moved, err
	}
	// The driver sets its own GOMAXPROCS at once rather than waiting for the runtime.
	runtime.GOMAXPROCS(cpuCount(drv, a.cpus))
	if proc != nil {
		if err := set(proc.Pid, meas); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// cpuCount is the number of CPUs of a list made by cpuSets.
func cpuCount(list string, n int) int {
	var lo, hi int
	if _, err := fmt.Sscanf(list, "%d-%d", &lo, &hi); err == nil {
		return hi - lo + 1
	}
	if _, err := fmt.Sscanf(list, "%d", &lo); err == nil {
		return 1
	}
	return n
}
