// Command deploycheck is the part of scripts/check-deploy.sh that needs Docker's own
// libraries: offline checks of the container files. It is a module of its own, so
// that compose-go stays out of the service's module graph.
//
//	deploycheck compose FILE     load FILE like `docker compose config` does (compose-go:
//	                             schema, interpolation, consistency), plus runtime rules
//	deploycheck context DIR OUT  copy DIR's build context, as .dockerignore filters it
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 3 && os.Args[1] == "compose":
		err = checkCompose(os.Args[2])
	case len(os.Args) == 4 && os.Args[1] == "context":
		err = copyContext(os.Args[2], os.Args[3])
	default:
		err = errors.New("usage: deploycheck compose FILE | context DIR OUT")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		os.Exit(1)
	}
}

func checkCompose(file string) error {
	// No OS environment and no .env: the file must be valid with its own defaults.
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithEnv(nil), cli.WithResolvedPaths(true))
	if err != nil {
		return err
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		for dep, d := range s.DependsOn {
			t, ok := p.Services[dep]
			if !ok {
				bad("%s: depends_on unknown service %s", name, dep)
				continue
			}
			if d.Condition == types.ServiceConditionHealthy && (t.HealthCheck == nil || t.HealthCheck.Disable || len(t.HealthCheck.Test) == 0) {
				bad("%s: waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
		if s.Image == "" && s.Build == nil {
			bad("%s: neither image nor build", name)
		}
		if s.Build != nil {
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			if _, err := os.Stat(df); err != nil {
				bad("%s: build: %v", name, err)
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					bad("%s: bind mount source: %v", name, err)
				}
			}
		}
		for _, ef := range s.EnvFiles {
			if _, err := os.Stat(ef.Path); err != nil && ef.Required {
				bad("%s: env_file: %v", name, err)
			}
		}
		image := s.Image
		if s.Build != nil {
			image += " (built)"
		}
		fmt.Fprintf(os.Stderr, "  service %-13s %s healthcheck=%t depends_on=%d\n", name, image,
			s.HealthCheck != nil && !s.HealthCheck.Disable, len(s.DependsOn))
	}
	if len(problems) > 0 {
		for _, m := range problems {
			fmt.Fprintln(os.Stderr, "  "+m)
		}
		return fmt.Errorf("%s: %d problem(s)", file, len(problems))
	}
	return nil
}

func copyContext(dir, out string) error {
	var patterns []string
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		skip, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if skip {
			// Docker walks an excluded directory only for exception patterns (!x).
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(out, rel))
	})
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}
