package commands

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "os"
import "path/filepath"
import "strconv"
import "strings"
import "time"

import "github.com/spf13/cobra"
import "go.yaml.in/yaml/v3"

import "github.com/noetl/controlplane/cli/internal/client"
import "github.com/noetl/controlplane/cli/internal/render"
import "github.com/noetl/controlplane/cli/internal/watch"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/publicapi"

func runCmd(g *globals) *cobra.Command {
	var (
		sets    []string
		payload string
		version int
		follow  bool
	)
	cmd := &cobra.Command{
		Use:   "run PATH",
		Short: "Start a playbook; --watch follows it to the end",
		Long: `Start the playbook registered at PATH with a payload: --payload is a JSON object,
or a file holding one (JSON or YAML); each --set key=value is put on top (a dotted key
nests, a value that parses as JSON is that value, anything else a string).

--watch shows each step with its state, loop progress and elapsed time until the
execution ends (redrawn in place on a terminal, one line per change otherwise), then
exits 0 on COMPLETED, 1 on FAILED (printing the failing step's error) and 3 on CANCELLED.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkVersion(cmd, version); err != nil {
				return err
			}
			body, err := buildPayload(payload, sets)
			if err != nil {
				return usageError{err}
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			started, err := c.Execute(cmd.Context(), args[0], version, body)
			var apiErr *client.APIError
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
				return fmt.Errorf("%w%s", err, fileHint(args[0]))
			}
			if err != nil {
				return err
			}
			if !follow {
				return g.write(started, func() render.Rows {
					return render.Rows{Header: []string{"EXECUTION_ID", "STATUS", "PATH"}, Rows: [][]string{{string(started.ExecutionID), started.Status, args[0]}}}
				})
			}
			if g.format == render.Table {
				fmt.Fprintf(g.io.Out, "execution %s started\n", started.ExecutionID)
			}
			return g.watch(cmd.Context(), c, started.ExecutionID)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&sets, "set", nil, "payload key=value (repeatable; dotted keys nest)")
	f.StringVar(&payload, "payload", "", "payload: a JSON object, or a JSON/YAML file")
	f.IntVar(&version, "version", 0, "the playbook version to run (default: the latest)")
	f.BoolVarP(&follow, "watch", "w", false, "follow the execution until it ends")
	return cmd
}

// fileHint is what run adds to a 404 when PATH names a file: run takes the path a
// playbook declares (metadata.path), and `noetl run examples/hello_world.yaml`, the
// first thing a new user tries, only said "Playbook not found".
func fileHint(arg string) string {
	b, err := os.ReadFile(arg)
	if err != nil {
		if ext := strings.ToLower(filepath.Ext(arg)); ext == ".yaml" || ext == ".yml" {
			return " (run takes a registered playbook's path, its metadata.path, not a file name)"
		}
		return ""
	}
	var head struct {
		Metadata struct {
			Name string `yaml:"name"`
			Path string `yaml:"path"`
		} `yaml:"metadata"`
	}
	_ = yaml.Unmarshal(b, &head)
	path := strings.TrimSpace(head.Metadata.Path)
	if path == "" {
		path = strings.TrimSpace(head.Metadata.Name) // the catalog's path when the playbook names none
	}
	if path == "" {
		return fmt.Sprintf(" (%s is a file: run takes a registered playbook's path, its metadata.path)", arg)
	}
	return fmt.Sprintf(" (%s is a file: register it with `noetl register %s`, then run its path: `noetl run %s`)", arg, arg, path)
}

// buildPayload reads --payload and applies the --set pairs on top.
func buildPayload(payload string, sets []string) (map[string]any, error) {
	out := map[string]any{}
	if p := strings.TrimSpace(payload); p != "" {
		m, err := readPayload(p)
		if err != nil {
			return nil, err
		}
		out = m
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want key=value", s)
		}
		var val any
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&val); err != nil || dec.More() {
			val = v
		}
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = val
	}
	return out, nil
}

// readPayload is --payload's object. Text that starts like JSON is JSON, all of it: a
// YAML read would take `{"a": 1} junk` as {"a": 1} and NaN as a string, and send what
// the user did not write. Anything else names a file, JSON or YAML, of one document.
func readPayload(p string) (map[string]any, error) {
	if strings.HasPrefix(p, "{") || strings.HasPrefix(p, "[") || strings.HasPrefix(p, `"`) {
		v, err := jsonx.Decode([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("--payload is not valid JSON: %s", strings.TrimPrefix(err.Error(), "decode json: "))
		}
		return payloadObject("--payload", v)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		if v, jerr := jsonx.Decode([]byte(p)); jerr == nil { // null, 3, true: JSON, but no object
			return payloadObject("--payload", v)
		}
		if k, _, ok := strings.Cut(p, "="); ok && !strings.ContainsAny(k, "/ ") {
			// `--payload name=bob`: what --set takes, not a file name.
			return nil, fmt.Errorf("--payload is neither a JSON object nor a readable file (a key=value pair goes in --set %s): %w", p, err)
		}
		return nil, fmt.Errorf("--payload is neither a JSON object nor a readable file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var v any
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("--payload %s is not valid JSON or YAML: %s", p, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("--payload %s holds more than one YAML document: want one object", p)
	}
	return payloadObject("--payload "+p, jsonx.Normalize(v))
}

func payloadObject(what string, v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be an object (key: value pairs), not %s", what, jsonx.TypeName(v))
	}
	return m, nil
}

// watch follows an execution and maps its end to the exit code.
func (g *globals) watch(ctx context.Context, c *client.Client, id client.ID) error {
	w := &watch.Watcher{
		Source: c, Out: g.io.Out, TTY: g.io.IsTerminal(g.io.Out), Interval: g.pollInterval,
		Quiet: g.format != render.Table,
	}
	m, err := w.Run(ctx, id)
	if err != nil {
		return interrupted(err, id)
	}
	if g.format != render.Table {
		st, err := c.Status(ctx, id)
		if err != nil {
			return err
		}
		if err := g.write(st, nil); err != nil {
			return err
		}
	}
	return endOf(g, m)
}

// endOf prints why a run did not complete and returns its exit code.
func endOf(g *globals, m *watch.Model) error {
	switch m.Status {
	case publicapi.StatusCompleted:
		return nil
	case publicapi.StatusCancelled:
		fmt.Fprint(g.io.Err, watch.Summary(m))
		return &ExitError{Code: ExitCancelled}
	default:
		fmt.Fprint(g.io.Err, watch.Summary(m))
		return &ExitError{Code: ExitFailed}
	}
}

func idArg(args []string) (client.ID, error) {
	id, err := client.ParseID(args[0])
	if err != nil {
		return "", usageError{err}
	}
	return id, nil
}

// onExecution is the RunE of a command whose one argument is an execution id: it parses
// the id (a bad one is a usage error, nothing sent) and builds the client before run.
func (g *globals) onExecution(run func(cmd *cobra.Command, c *client.Client, id client.ID) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		id, err := idArg(args)
		if err != nil {
			return err
		}
		c, err := g.newClient()
		if err != nil {
			return err
		}
		return run(cmd, c, id)
	}
}

// executionCmd is a command whose one argument is an execution id (see onExecution).
func (g *globals) executionCmd(use, short string, run func(cmd *cobra.Command, c *client.Client, id client.ID) error) *cobra.Command {
	return &cobra.Command{Use: use + " ID", Short: short, Args: cobra.ExactArgs(1), RunE: g.onExecution(run)}
}

func statusCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := g.executionCmd("status", "Show an execution's status and its steps; --watch follows it to the end", func(cmd *cobra.Command, c *client.Client, id client.ID) error {
		if follow {
			return g.watch(cmd.Context(), c, id)
		}
		st, err := c.Status(cmd.Context(), id)
		if err != nil {
			return err
		}
		if g.format != render.Table {
			return g.write(st, nil)
		}
		events, err := c.AllEvents(cmd.Context(), id, 0)
		if err != nil {
			return err
		}
		m := watch.NewModel()
		m.Apply(events)
		m.Ended(st.Status, time.Time{})
		fmt.Fprint(g.io.Out, watch.View(id, m, time.Now()))
		fmt.Fprintf(g.io.Out, "progress: %d/%d steps completed, %d running, %d failed, %d cancelled\n",
			st.Progress.CompletedSteps, st.Progress.TotalSteps, st.Progress.RunningSteps, st.Progress.FailedSteps,
			st.Progress.CancelledSteps)
		if s := watch.Summary(m); publicapi.Terminal(m.Status) && s != "" {
			fmt.Fprint(g.io.Out, s)
		}
		return nil
	})
	// --watch is run --watch for an execution started before (by its id, which run
	// prints): a script that needs the id starts without --watch and follows here.
	cmd.Long = `Show an execution's status and its steps. --watch follows it as run --watch does
until it ends, then exits 0 on COMPLETED, 1 on FAILED (printing the failing step's
error) and 3 on CANCELLED.`
	cmd.Flags().BoolVarP(&follow, "watch", "w", false, "follow the execution until it ends")
	return cmd
}

func eventsCmd(g *globals) *cobra.Command {
	var (
		follow bool
		after  int64
	)
	cmd := g.executionCmd("events", "Print an execution's event log; --follow prints new events until it ends", func(cmd *cobra.Command, c *client.Client, id client.ID) error {
		if after < 0 {
			return usagef("--after-seq %d: want 0 or more (0: from the first event)", after)
		}
		if !follow {
			events, err := c.AllEvents(cmd.Context(), id, after)
			if err != nil {
				return err
			}
			return writeList(g, events, func() render.Rows { return eventRows(events, true) })
		}
		return g.followEvents(cmd.Context(), c, id, after)
	})
	cmd.Long = `Print an execution's event log in order. --follow keeps printing new events until
the execution ends (with -o json, one JSON object per line), then exits 0 on COMPLETED,
1 on FAILED (printing the failing step's error) and 3 on CANCELLED.`
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until the execution ends")
	cmd.Flags().Int64Var(&after, "after-seq", 0, "start after this event seq")
	return cmd
}

func eventRows(events []client.Event, header bool) render.Rows {
	r := render.Rows{}
	if header {
		r.Header = []string{"SEQ", "TIME", "TYPE", "NODE", "STATUS", "ERROR"}
	}
	for _, e := range events {
		at := e.CreatedAt
		if t, err := time.Parse(time.RFC3339Nano, e.CreatedAt); err == nil {
			at = t.Local().Format("15:04:05.000")
		}
		r.Add(strconv.FormatInt(e.Seq, 10), at, e.EventType, render.Or(e.NodeName), render.Or(e.Status), e.Error)
	}
	return r
}

// followEvents polls the log and prints each new event until the execution ends.
func (g *globals) followEvents(ctx context.Context, c *client.Client, id client.ID, after int64) error {
	m := watch.NewModel()
	first := true
	// A transient failure (no answer, a proxy's 502/503) is retried as a watch's poll is.
	events := func() (page client.EventPage, err error) {
		err = watch.Retry(ctx, g.pollInterval, 0, func() (err error) {
			page, err = c.Events(ctx, id, after, 0)
			return err
		})
		return page, watch.GaveUp(id, err)
	}
	for {
		page, err := events()
		if err != nil {
			return interrupted(err, id)
		}
		m.Apply(page.Events)
		if page.NextAfterSeq != nil {
			after = *page.NextAfterSeq
		}
		if len(page.Events) > 0 || first {
			if err := g.writeStream(page.Events, first); err != nil {
				return err
			}
			first = false
		}
		if page.HasMore {
			continue
		}
		if !m.Terminal() {
			var st client.Status
			err := watch.Retry(ctx, g.pollInterval, 0, func() (err error) {
				st, err = c.Status(ctx, id)
				return err
			})
			if err != nil {
				return interrupted(watch.GaveUp(id, err), id)
			}
			if publicapi.Terminal(st.Status) {
				// The terminal event is written with the status: read the rest first.
				page, err := c.Events(ctx, id, after, 0)
				if err == nil && len(page.Events) > 0 {
					continue
				}
				m.Status = st.Status
			}
		}
		if m.Terminal() {
			return endOf(g, m)
		}
		select {
		case <-ctx.Done():
			return interrupted(ctx.Err(), id)
		case <-time.After(g.pollInterval):
		}
	}
}

// interrupted explains a watch stopped by Ctrl-C: the execution itself goes on.
func interrupted(err error, id client.ID) error {
	if errors.Is(err, context.Canceled) {
		return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("interrupted; execution %s goes on (`noetl cancel %s` stops it)", id, id)}
	}
	return err
}

// writeStream prints events as they arrive: table lines (the header once), JSON lines,
// or YAML documents.
func (g *globals) writeStream(events []client.Event, first bool) error {
	switch g.format {
	case render.JSON:
		enc := json.NewEncoder(g.io.Out)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	case render.YAML:
		for _, e := range events {
			fmt.Fprintln(g.io.Out, "---")
			if err := render.Write(g.io.Out, render.YAML, e, nil); err != nil {
				return err
			}
		}
		return nil
	}
	// Fixed-width columns: a table aligned per page would shift between pages.
	var b bytes.Buffer
	if first {
		fmt.Fprintf(&b, "%-6s %-12s %-20s %-16s %-10s %s\n", "SEQ", "TIME", "TYPE", "NODE", "STATUS", "ERROR")
	}
	for _, row := range eventRows(events, false).Rows {
		fmt.Fprintf(&b, "%-6s %-12s %-20s %-16s %-10s %s\n", row[0], row[1], row[2], row[3], row[4], strings.ReplaceAll(row[5], "\n", " "))
	}
	_, err := g.io.Out.Write(b.Bytes())
	return err
}

func cancelCmd(g *globals) *cobra.Command {
	return g.executionCmd("cancel", "Cancel a running execution", func(cmd *cobra.Command, c *client.Client, id client.ID) error {
		res, err := c.Cancel(cmd.Context(), id)
		if err != nil {
			return err
		}
		return g.write(res, func() render.Rows {
			return render.Rows{Header: []string{"EXECUTION_ID", "STATUS", "MESSAGE"}, Rows: [][]string{{string(res.ExecutionID), res.Status, res.Message}}}
		})
	})
}

func executionRows(list []client.Summary) render.Rows {
	r := render.Rows{Header: []string{"EXECUTION_ID", "PATH", "STATUS", "STARTED", "COMPLETED", "EVENTS"}}
	for _, s := range list {
		r.Add(string(s.ExecutionID), render.Or(render.Deref(s.Path)), s.Status, s.StartedAt, render.Or(render.Deref(s.CompletedAt)), strconv.FormatInt(s.EventCount, 10))
	}
	return r
}

func executionsCmd(g *globals) *cobra.Command {
	var f client.ListFilter
	cmd := listCmd(g, "executions", "List executions, newest first", func(cmd *cobra.Command, c *client.Client) ([]client.Summary, error) {
		if f.Limit < 0 {
			// Not sent as the server's default: the user asked for something else.
			return nil, usagef("--limit %d: want a positive number (0 or none: the server's default)", f.Limit)
		}
		return c.Executions(cmd.Context(), f)
	}, executionRows)
	cmd.Flags().StringVar(&f.Path, "path", "", "only executions whose playbook path contains this text, in any case (the server's filter: a/loop matches a/loop_v2 too)")
	cmd.Flags().StringVar(&f.Status, "status", "", "only executions in this status (RUNNING, COMPLETED, FAILED, CANCELLED)")
	cmd.Flags().IntVar(&f.Limit, "limit", 0, "at most this many (the server caps it at 100)")
	_ = cmd.RegisterFlagCompletionFunc("status", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{publicapi.StatusRunning, publicapi.StatusCompleted, publicapi.StatusFailed, publicapi.StatusCancelled}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
