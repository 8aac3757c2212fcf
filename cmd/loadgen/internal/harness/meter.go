package harness

import (
	"sync"
	"time"
)

// Usage is what a process spent over one recorded window.
type Usage struct {
	CPU     time.Duration // user + system
	PeakRSS int64         // bytes: VmHWM after a reset at window open, else the sampled maximum
	Sockets int           // most open sockets seen (client connections + pools)
	// PeakExact is false when the kernel's peak mark could not be reset, and PeakRSS is
	// the largest of the 50 ms samples instead.
	PeakExact bool
	// Others is the share of the machine's CPU time (all CPUs) used over the window by
	// everything but the driver and the measured process: PostgreSQL, Keycloak, other
	// people's work. HasOthers is false when /proc/stat could not be read.
	Others    float64
	HasOthers bool
}

// meter samples one process over a window; its open/close match LoadOptions.OnWindow.
type meter struct {
	p        *Proc
	cpu0     time.Duration
	machine0 machineCPU
	self0    time.Duration
	reset    bool
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	maxRSS   int64
	maxSocks int
	usage    Usage
}

func newMeter(p *Proc) *meter { return &meter{p: p} }

// window is the LoadOptions.OnWindow callback.
func (m *meter) window(open bool) {
	if open {
		m.machine0, m.self0 = readMachineCPU(), selfCPU()
	} else {
		m.others(readMachineCPU(), selfCPU())
	}
	if m.p == nil {
		return
	}
	if open {
		m.cpu0, _ = m.p.CPU()
		m.reset = m.p.ResetPeak() == nil
		m.maxRSS, m.maxSocks = 0, 0
		m.stop = make(chan struct{})
		m.wg.Go(m.sample)
		return
	}
	close(m.stop)
	m.wg.Wait()
	cpu1, _ := m.p.CPU()
	peak, _, _ := m.p.Memory()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.usage = Usage{CPU: cpu1 - m.cpu0, PeakRSS: m.maxRSS, Sockets: m.maxSocks, PeakExact: m.reset,
		Others: m.usage.Others, HasOthers: m.usage.HasOthers}
	if m.reset {
		m.usage.PeakRSS = max(peak, m.maxRSS)
	}
}

func (m *meter) sample() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		_, rss, _ := m.p.Memory()
		socks := -1
		if i%4 == 0 { // reading every fd link is dearer; 5 times a second is plenty
			socks = m.p.Sockets()
		}
		m.mu.Lock()
		m.maxRSS = max(m.maxRSS, rss)
		m.maxSocks = max(m.maxSocks, socks)
		m.mu.Unlock()
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
	}
}

// others works out Usage.Others at window close: the machine's busy time minus the
// driver's and the measured process's, over the machine's total.
func (m *meter) others(machine1 machineCPU, self1 time.Duration) {
	var proc time.Duration
	if m.p != nil {
		c, _ := m.p.CPU()
		proc = c - m.cpu0 // read again by window(false) for Usage.CPU; the few µs apart do not matter
	}
	total := machine1.total - m.machine0.total
	m.mu.Lock()
	defer m.mu.Unlock()
	if !machine1.ok || !m.machine0.ok || total <= 0 {
		return
	}
	busy := machine1.busy - m.machine0.busy - (self1 - m.self0) - proc
	m.usage.Others, m.usage.HasOthers = max(0, float64(busy)/float64(total)), true
}

// result is the usage of the last closed window.
func (m *meter) result() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usage
}
