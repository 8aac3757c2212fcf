package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/auth-manager/auth-manager/internal/config"
)

// world is what run hands a command: the environment and the output streams.
type world struct {
	getenv         config.Getenv
	stdout, stderr io.Writer
}

// action is a command once its flags and arguments are parsed.
type action func(ctx context.Context, args []string) error

// command is one subcommand. Its flags function declares the flags on fs and returns
// the action; nothing reads configuration before the command line is parsed, so
// --help and a wrong argument need no environment.
type command struct {
	name    string
	args    string // positional arguments in the usage line, e.g. "[up|down|status]"
	maxArgs int
	summary string
	flags   func(fs *flag.FlagSet, w world) action
}

// commands is the one list of subcommands: run dispatches on it and the usage texts
// are written from it.
func commands() []command {
	return []command{
		{name: "serve", summary: "run the HTTP service (the default command; applies migrations first unless AUTH_MANAGER_SKIP_MIGRATIONS=true)",
			flags: serveCommand},
		{name: "migrate", args: "[up|down|status]", maxArgs: 1,
			summary: "apply pending migrations (up, the default), roll back the newest one (down, needs --yes) or list them (status); reads only DATABASE_*, LOG_LEVEL and DEBUG",
			flags:   migrateCommand},
		{name: "rotate-keys", summary: "re-seal every vault row not under the current key (AUTH_MANAGER_TOKEN_VAULT_*); safe while serving, resumes when interrupted",
			flags: rotateKeysCommand},
		{name: "keepalive", summary: "run one pass of the offline keep-alive and clean-up job now",
			flags: keepAliveCommand},
		{name: "doctor", summary: "check the configuration against PostgreSQL, Keycloak and the vault: one line per check with the fix; exit 1 if any failed",
			flags: doctorCommand},
		{name: "healthcheck", summary: "exit 0 when the service's readiness URL answers 200 (for container probes); reads only PORT",
			flags: healthcheckCommand},
		{name: "keygen", summary: "print a new random AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY",
			flags: func(_ *flag.FlagSet, w world) action {
				return func(context.Context, []string) error { return keygen(w.stdout) }
			}},
		{name: "version", summary: "print the version, the commit and the Go version of this build",
			flags: func(_ *flag.FlagSet, w world) action {
				return func(context.Context, []string) error { currentBuild().write(w.stdout); return nil }
			}},
		{name: "help", args: "[command]", maxArgs: 1, summary: "print this text, or a command's",
			flags: func(_ *flag.FlagSet, w world) action {
				return func(_ context.Context, args []string) error {
					if len(args) == 0 {
						writeUsage(w.stdout)
						return nil
					}
					c, ok := findCommand(args[0])
					if !ok {
						return usageErrorf("help: unknown command %q", args[0])
					}
					fs := newFlagSet(c.name)
					c.flags(fs, w)
					writeCommandHelp(w.stdout, c, fs)
					return nil
				}
			}},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usageError is a command line the program refuses. It exits with status 2, as the
// flag package's own errors do.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// run is the whole program; main only supplies its world: the arguments, the
// environment (os.LookupEnv's shape; ./.env is read into it, never into the process
// environment) and the output streams.
func run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	w := world{getenv: getenv, stdout: stdout, stderr: stderr}
	name := "serve"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "-v", "-version", "--version":
		name = "version"
	}
	c, ok := findCommand(name)
	if !ok {
		return usageErrorf("unknown command %q; `auth-manager help` lists them", name)
	}
	fs := newFlagSet(c.name)
	act := c.flags(fs, w)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		writeCommandHelp(stdout, c, fs)
		return nil
	}
	if err != nil {
		return usageErrorf("%s: %v; `auth-manager %s --help` lists its flags", c.name, err, c.name)
	}
	if len(pos) > c.maxArgs {
		return usageErrorf("%s: unexpected argument %q; `auth-manager %s --help` shows its usage", c.name, pos[c.maxArgs], c.name)
	}
	return act(ctx, pos)
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports errors and help itself
	return fs
}

// parseInterspersed parses flags anywhere among the arguments ("migrate down --yes" as
// well as "migrate --yes down") and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// synopsis is a command's usage line: name, flags (as declared on fs) and arguments.
func synopsis(c command, fs *flag.FlagSet) string {
	parts := []string{c.name}
	fs.VisitAll(func(f *flag.Flag) {
		arg, _ := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		parts = append(parts, "[--"+f.Name+arg+"]")
	})
	if c.args != "" {
		parts = append(parts, c.args)
	}
	return strings.Join(parts, " ")
}

// writeUsage writes the program's usage: every command with its synopsis and summary.
func writeUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: auth-manager [command] [flags] [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fs := newFlagSet(c.name)
		c.flags(fs, world{getenv: config.MapEnv(nil), stdout: io.Discard, stderr: io.Discard})
		fmt.Fprintf(w, "  %s\n%s", synopsis(c, fs), wrap(c.summary, "      ", 88))
	}
	fmt.Fprintln(w, "\n`auth-manager COMMAND --help` shows a command's flags. Configuration comes from the")
	fmt.Fprintln(w, "environment and ./.env; docs/configuration.md lists every variable.")
}

// writeCommandHelp writes one command's usage, summary and flags (declared on fs).
func writeCommandHelp(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: auth-manager %s\n\n%s", synopsis(c, fs), wrap(c.summary, "", 88))
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// wrap breaks text into lines of at most width characters, each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}
