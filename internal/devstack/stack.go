package devstack

import (
	"fmt"
	"os"

	"github.com/auth-manager/auth-manager/internal/config"
)

// Stack is the local stack as an env file describes it, the process environment
// winning, as the service reads its .env.
type Stack struct {
	// Config is the service's configuration from the file and the environment.
	Config config.Config
	file   *config.DotEnv
	getenv config.Getenv
}

// Load reads the env file at path (config.ReadDotEnv's syntax) under getenv (usually
// os.LookupEnv) and the service's configuration from both. A missing file is an error:
// the stack's file is committed, so a missing one is a wrong path.
func Load(path string, getenv config.Getenv) (*Stack, error) {
	file, err := config.ReadDotEnv(path)
	if err != nil {
		return nil, err
	}
	if file == nil {
		return nil, fmt.Errorf("devstack: %s does not exist", path)
	}
	s := &Stack{file: file, getenv: file.Over(getenv)}
	if s.Config, err = config.Load(s.getenv, "devstack"); err != nil {
		return nil, fmt.Errorf("devstack: %s: %w", path, err)
	}
	return s, nil
}

// Environ is a complete environment for a child process, such as the service: the
// process environment, then every variable of the file (with the value the process
// environment gives it, if any), then overrides. Later entries win in os/exec.
func (s *Stack) Environ(overrides map[string]string) []string {
	out := os.Environ()
	for _, k := range s.file.Keys() {
		if v, ok := s.getenv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range overrides {
		out = append(out, k+"="+v)
	}
	return out
}
