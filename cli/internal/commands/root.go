// Package commands is the noetl command tree (cobra): global options, one file per
// command group, and the mapping of outcomes to exit codes.
package commands

import "context"
import "errors"
import "fmt"
import "io"
import "os"
import "strings"
import "time"

import "github.com/spf13/cobra"
import "golang.org/x/term"

import "github.com/noetl/controlplane/cli/internal/client"
import "github.com/noetl/controlplane/cli/internal/render"

// Exit codes (documented in cli/README.md).
const (
	ExitOK        = 0
	ExitFailed    = 1 // the server refused, the call failed, or the execution FAILED
	ExitUsage     = 2 // bad arguments or flags
	ExitCancelled = 3 // the watched execution was CANCELLED
	// ExitInterrupted is a watch stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it).
	ExitInterrupted = 130
)

// ExitError carries a command's exit code; Err, when set, is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// IO is where the commands read and write; tests replace it.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// IsTerminal reports whether a stream is a terminal (the live view is redrawn in
	// place only then, and values are read from a terminal without echo).
	IsTerminal func(any) bool
	// ReadSecret reads a line from a terminal without echoing it.
	ReadSecret func() ([]byte, error)
	Getenv     func(string) string
}

// StdIO is the process's own streams and environment.
func StdIO() IO {
	return IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv,
		IsTerminal: func(f any) bool {
			file, ok := f.(*os.File)
			return ok && term.IsTerminal(int(file.Fd()))
		},
		ReadSecret: func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) },
	}
}

// globals are the options every command shares.
type globals struct {
	server, token                 string
	caCert, clientCert, clientKey string
	insecure                      bool
	output                        string
	timeout                       time.Duration
	pollInterval                  time.Duration
	format                        render.Format
	io                            IO
	newClient                     func() (*client.Client, error)
	clientVersion                 string
}

// Run executes the command line args and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO, version string) int {
	root := NewRoot(stdio, version)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stdio.Err, "error:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stdio.Err, "error:", err)
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		return ExitFailed
	}
	// cobra's own argument errors (an unknown command) are usage errors too.
	if isUsage(err) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		return ExitUsage
	}
	return ExitFailed
}

// usageError marks bad arguments (exit 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// checkVersion refuses a --version that names no version. 0 is the flag's unset value
// (the latest), so an explicit --version 0 ran the latest version without a word.
func checkVersion(cmd *cobra.Command, version int) error {
	if version < 0 || version == 0 && cmd.Flags().Changed("version") {
		return usagef("--version %d: versions count from 1 (leave --version out for the latest)", version)
	}
	return nil
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// NewRoot builds the command tree.
func NewRoot(stdio IO, version string) *cobra.Command {
	g := &globals{io: stdio, clientVersion: version}
	root := &cobra.Command{
		Use:   "noetl",
		Short: "noetl talks to a NoETL control plane: register playbooks, run and watch them, manage credentials",
		Long: `noetl talks to a NoETL control plane through its router.

The server is --server, else NOETL_URL, else ` + client.DefaultServer + `; the bearer token is
--token, else NOETL_API_TOKEN. Every read command takes -o table|json|yaml.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			f, err := render.ParseFormat(g.output)
			if err != nil {
				return usageError{err}
			}
			g.format = f
			return nil
		},
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	// A flag or argument error is a usage error (exit 2), with the command's usage.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\n\n%s", err, cmd.UsageString())}
	})

	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "router base URL (env NOETL_URL; default "+client.DefaultServer+")")
	pf.StringVar(&g.token, "token", "", "bearer token (env NOETL_API_TOKEN)")
	pf.StringVar(&g.caCert, "ca-cert", "", "PEM file of the CA that signed the server's certificate")
	pf.StringVar(&g.clientCert, "client-cert", "", "PEM client certificate for mTLS (with --client-key)")
	pf.StringVar(&g.clientKey, "client-key", "", "PEM key of --client-cert")
	pf.BoolVar(&g.insecure, "insecure-skip-verify", false, "do not verify the server's certificate (testing only)")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table, json or yaml")
	pf.DurationVar(&g.timeout, "timeout", 30*time.Second, "timeout of one HTTP request")
	pf.DurationVar(&g.pollInterval, "poll-interval", 500*time.Millisecond, "how often --watch and --follow poll the server")
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return render.Formats, cobra.ShellCompDirectiveNoFileComp
	})

	g.newClient = func() (*client.Client, error) {
		server := g.server
		if server == "" {
			server = stdio.Getenv("NOETL_URL")
		}
		token := g.token
		if token == "" {
			token = stdio.Getenv("NOETL_API_TOKEN")
		}
		c, err := client.New(client.Options{
			Server: server, Token: token, CACert: g.caCert, ClientCert: g.clientCert, ClientKey: g.clientKey,
			InsecureSkipVerify: g.insecure, Timeout: g.timeout,
		})
		if err != nil {
			return nil, usageError{err}
		}
		return c, nil
	}

	root.AddCommand(
		registerCmd(g),
		catalogCmd(g),
		runCmd(g),
		statusCmd(g),
		eventsCmd(g),
		cancelCmd(g),
		executionsCmd(g),
		workersCmd(g),
		credentialsCmd(g),
		versionCmd(g),
	)
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// wrapArgs turns the argument checks' errors into usage errors (exit 2), and makes a
// command group (`catalog`, `credentials`) refuse an unknown subcommand: cobra would print
// the group's help and exit 0, so a typo in a script would pass silently.
func wrapArgs(c *cobra.Command) {
	if c.HasParent() && c.HasSubCommands() && !c.Runnable() {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if cmd.SuggestionsMinimumDistance <= 0 {
				cmd.SuggestionsMinimumDistance = 2 // cobra's own default, which it sets only for the root
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += " (did you mean " + strings.Join(s, " or ") + "?)"
			}
			return usageError{fmt.Errorf("%s\n\n%s", msg, cmd.UsageString())}
		}
	}
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{fmt.Errorf("%w\n\n%s", err, cmd.UsageString())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// write renders v in the chosen format.
func (g *globals) write(v any, rows func() render.Rows) error {
	return render.Write(g.io.Out, g.format, v, rows)
}

// writeList renders a list; an empty one is [] in JSON and YAML, never null.
func writeList[T any](g *globals, list []T, rows func() render.Rows) error {
	if list == nil {
		list = []T{}
	}
	return g.write(list, rows)
}

// listCmd is a command without arguments that reads a list from the server and writes it,
// as rows in a table.
func listCmd[T any](g *globals, use, short string, read func(cmd *cobra.Command, c *client.Client) ([]T, error), rows func([]T) render.Rows) *cobra.Command {
	run := func(cmd *cobra.Command, c *client.Client, _ []string) error {
		list, err := read(cmd, c)
		if err != nil {
			return err
		}
		return writeList(g, list, func() render.Rows { return rows(list) })
	}
	return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: g.withClient(run)}
}

// withClient is the RunE of a command that calls the server: it builds the client (bad
// connection flags are a usage error, nothing sent) before run.
func (g *globals) withClient(run func(cmd *cobra.Command, c *client.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := g.newClient()
		if err != nil {
			return err
		}
		return run(cmd, c, args)
	}
}
