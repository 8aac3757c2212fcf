package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterDoctor registers auth_manager_doctor_check and returns the function that
// records one check's outcome: {check, ok="true"} is 1 and {check, ok="false"} is 0
// when it passed, the other way round when it failed, so that an alert can match
// ok="false" == 1.
func (m *Metrics) RegisterDoctor() func(check string, ok bool) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "doctor_check",
		Help: "Outcome of each `auth-manager doctor` check, run once at start (1 on the series whose ok label is the outcome)."},
		[]string{"check", "ok"})
	m.reg.MustRegister(g)
	return func(check string, ok bool) {
		g.WithLabelValues(check, strconv.FormatBool(ok)).Set(1)
		g.WithLabelValues(check, strconv.FormatBool(!ok)).Set(0)
	}
}
