// Package cli is the command line every binary shares: `serve` (the default when no
// argument is given), the binary's own commands, `healthcheck`, `version` and `--help`.
// An argument nobody declared is an error with exit code 2, so a typo never starts a
// server and `migrate status` never migrates.
package cli

import "context"
import "errors"
import "fmt"
import "io"
import "os"
import "runtime"
import "strings"

import "github.com/noetl/controlplane/shared/version"

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the command ran and failed
	ExitUsage = 2 // bad arguments or configuration: nothing was started
)

// Command is one subcommand.
type Command struct {
	Name    string // what the user types
	Args    string // argument synopsis for the help text, e.g. "[up|status]"
	Summary string // one line
	// Run executes the command with the arguments after its name.
	Run func(ctx context.Context, args []string) error
}

// Program is a binary's command line.
type Program struct {
	Name     string // e.g. noetl-api
	Summary  string // one line: what the binary serves
	Commands []Command
	Stdout   io.Writer // nil: os.Stdout
	Stderr   io.Writer // nil: os.Stderr
}

// UsageError is a bad command line or configuration: the binary exits 2 without starting.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ConfigError marks a configuration that failed to load: exit 2, like a bad argument.
func ConfigError(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// NoArgs wraps a command that takes no arguments.
func NoArgs(name string, run func(ctx context.Context) error) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return Usagef("%s takes no arguments, got %q", name, strings.Join(args, " "))
		}
		return run(ctx)
	}
}

// Main runs the program on os.Args with a context cancelled by SIGINT/SIGTERM (a second
// one stops the process: SignalContext), and exits.
func Main(p Program) {
	ctx, stop := SignalContext(context.Background())
	code := p.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Run dispatches args and returns the exit code.
func (p Program) Run(ctx context.Context, args []string) int {
	stdout, stderr := p.Stdout, p.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	name := "serve"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	switch name {
	case "help", "-h", "-help", "--help":
		p.usage(stdout)
		return ExitOK
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "%s %s (%s)\n", p.Name, version.Version, runtime.Version())
		return ExitOK
	}
	cmd, ok := p.command(name)
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", p.Name, name)
		p.usage(stderr)
		return ExitUsage
	}
	// `serve --help` and friends print the help instead of running anything.
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			p.usage(stdout)
			return ExitOK
		}
	}
	err := cmd.Run(ctx, args)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}

func (p Program) command(name string) (Command, bool) {
	for _, c := range p.Commands {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

func (p Program) usage(w io.Writer) {
	fmt.Fprintf(w, "%s — %s\n\nUsage:\n  %s [command]\n\nCommands:\n", p.Name, p.Summary, p.Name)
	rows := make([][2]string, 0, len(p.Commands)+2)
	for _, c := range p.Commands {
		syn := c.Name
		if c.Args != "" {
			syn += " " + c.Args
		}
		sum := c.Summary
		if c.Name == "serve" {
			sum += " (the default)"
		}
		rows = append(rows, [2]string{syn, sum})
	}
	rows = append(rows, [2]string{"version", "print the version and exit"}, [2]string{"help", "print this help (also -h, --help)"})
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r[0], r[1])
	}
	fmt.Fprintf(w, "\nConfiguration comes from environment variables; the README's environment table lists them.\n")
}

// WithConfig loads a binary's configuration from the process environment (a failure exits
// 2 before anything starts) and runs fn with it.
func WithConfig[C any](load func(environ map[string]string) (C, error), fn func(context.Context, C) error) func(context.Context) error {
	return func(ctx context.Context) error {
		cfg, err := load(nil)
		if err != nil {
			return ConfigError(err)
		}
		return fn(ctx, cfg)
	}
}

// Service is the command line of a service binary: serve (the default), the binary's own
// commands (migrate, certs, ...) in the order given, then healthcheck against its own
// listener, whose port is defaultPort unless NOETL_PORT says otherwise. Every service
// has healthcheck because compose and the Kubernetes exec probes run it.
func Service(name, summary string, defaultPort int, serve Command, own ...Command) Program {
	commands := append([]Command{serve}, own...)
	return Program{Name: name, Summary: summary, Commands: append(commands, Healthcheck(defaultPort, nil))}
}

// Serve is the `serve` command of a binary whose server is run(ctx, cfg).
func Serve[C any](what string, load func(environ map[string]string) (C, error), run func(context.Context, C) error) Command {
	return Command{Name: "serve", Summary: "serve " + what, Run: NoArgs("serve", WithConfig(load, run))}
}
