package harness

import (
	"fmt"
	"net/url"
	"os"

	"github.com/auth-manager/auth-manager/internal/devstack"
)

// dbPrefix starts the name of every database the harness creates.
const dbPrefix = "loadgen_"

// connect reads the stack's env file and readies the runner's Keycloak client; it
// returns the URL of the role that creates the run's databases. It refuses a stack
// that is not on this machine: the harness loads loopback addresses only.
func (r *runner) connect() (adminDB string, err error) {
	if r.stack, err = devstack.Load(r.cfg.EnvFile, os.LookupEnv); err != nil {
		return "", err
	}
	kc, db := r.stack.Config.Keycloak, r.stack.Config.Database.URL.Reveal()
	for name, u := range map[string]string{"KEYCLOAK_ISSUER": kc.BaseURL, "KEYCLOAK_URL": kc.ConnectBase(), "DATABASE_URL": db} {
		if err := loopbackOnly(name, u); err != nil {
			return "", err
		}
	}
	r.kc = NewKeycloak(kc.BaseURL, kc.Realm, kc.ClientID, kc.ClientSecret.Reveal(), r.cfg.CallerID, r.cfg.CallerSecret)
	return db, nil
}

// loopbackOnly refuses a URL whose host is not a loopback address: the harness loads
// only the local stack.
func loopbackOnly(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: not a URL", name)
	}
	switch h := u.Hostname(); h {
	case "127.0.0.1", "localhost", "::1":
		return nil
	default:
		return fmt.Errorf("%s points at %q; the harness only loads loopback addresses", name, h)
	}
}
