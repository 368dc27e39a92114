package commands

import "bytes"
import "errors"
import "fmt"
import "io/fs"
import "net/http"
import "os"
import "path/filepath"
import "regexp"
import "sort"
import "strconv"
import "strings"

import "github.com/spf13/cobra"
import "go.yaml.in/yaml/v3"

import "github.com/noetl/controlplane/cli/internal/client"
import "github.com/noetl/controlplane/cli/internal/render"

// registered is one line of `noetl register`.
type registered struct {
	File string `json:"file"`
	client.Registered
}

func registerCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "register FILE|DIR...",
		Short: "Register playbooks: each file given, and every playbook *.yaml under each directory",
		Long: `Register playbooks with the catalog. A file is sent as it is (the server decides
what it is); a directory is walked and every *.yaml or *.yml whose kind is Playbook is
sent, in path order. Prints each playbook's path and the version the catalog gave it
(registering identical content again keeps its version).`,
		Args: cobra.MinimumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := playbookFiles(args)
			if err != nil {
				return usageError{err}
			}
			if len(files) == 0 {
				return usageError{fmt.Errorf("no playbook found in %s", strings.Join(args, ", "))}
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var done []registered
			var failed []error
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					failed = append(failed, err)
					continue
				}
				res, err := c.Register(cmd.Context(), b)
				var unreachable *client.ConnError
				if errors.As(err, &unreachable) {
					// The next files would fail the same way: one line, not one per file.
					failed = append(failed, err)
					break
				}
				if err != nil {
					failed = append(failed, fmt.Errorf("%s: %w", f, err))
					continue
				}
				done = append(done, registered{File: f, Registered: res})
			}
			// Nothing registered: a table would be a lone header above the errors (JSON
			// and YAML still print [] so a script can parse the answer).
			if len(done) == 0 && g.format == render.Table {
				return &ExitError{Code: ExitFailed, Err: errors.Join(failed...)}
			}
			if err := writeList(g, done, func() render.Rows {
				r := render.Rows{Header: []string{"PATH", "VERSION", "KIND", "CATALOG_ID", "FILE"}}
				for _, d := range done {
					r.Add(d.Path, strconv.FormatInt(d.Version, 10), d.Kind, string(d.CatalogID), d.File)
				}
				return r
			}); err != nil {
				return err
			}
			if len(failed) > 0 {
				return &ExitError{Code: ExitFailed, Err: errors.Join(failed...)}
			}
			return nil
		},
	}
}

// playbookFiles expands the arguments: files as given, directories walked for playbooks.
func playbookFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != a && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			ext := strings.ToLower(filepath.Ext(p))
			if ext != ".yaml" && ext != ".yml" {
				return nil
			}
			if ok, err := isPlaybook(p); err != nil {
				return err
			} else if ok {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// playbookKindLine is a top-level `kind: Playbook` line (any case, quoted or not, a
// comment after it), as a playbook whose YAML does not parse still shows it.
var playbookKindLine = regexp.MustCompile(`(?mi)^kind:[ \t]*("playbook"|'playbook'|playbook)[ \t]*(#.*)?\r?$`)

// isPlaybook reads a YAML file's kind. A file whose YAML does not parse is a playbook
// when it says `kind: Playbook` at the top level: it is sent, and the server's error
// (the line of the mistake) is printed. Skipped, the typo went unnoticed: register
// exited 0 and run started the version registered before. Any other file that is not
// YAML (a Helm template, say) is not a playbook.
func isPlaybook(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var head struct {
		Kind string `yaml:"kind"`
	}
	if yaml.NewDecoder(bytes.NewReader(b)).Decode(&head) != nil {
		return playbookKindLine.Match(b), nil
	}
	return strings.EqualFold(head.Kind, "playbook"), nil
}

func catalogRows(entries []client.CatalogEntry) render.Rows {
	r := render.Rows{Header: []string{"PATH", "VERSION", "KIND", "CATALOG_ID", "CREATED"}}
	for _, e := range entries {
		r.Add(e.Path, strconv.FormatInt(e.Version, 10), e.Kind, string(e.CatalogID), e.CreatedAt)
	}
	return r
}

// kindError names the flag the user typed where the server names its request field:
// the kinds are rows of the server's resource table, so only the server can refuse
// one, and its 400 says `field "resource_type"`, which no one typed.
func kindError(kind string, err error) error {
	var apiErr *client.APIError
	if kind == "" || !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Message, `field "resource_type"`) {
		return err
	}
	if _, allowed, ok := strings.Cut(apiErr.Message, " is not one of "); ok {
		return usagef("--kind %q is not a kind of this catalog: one of %s", kind, allowed)
	}
	return usagef("--kind %q: %s", kind, strings.ReplaceAll(apiErr.Message, `field "resource_type"`, "--kind"))
}

func catalogCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Read the catalog"}
	var kind string
	list := listCmd(g, "list", "List the catalog's entries (every version)", func(cmd *cobra.Command, c *client.Client) ([]client.CatalogEntry, error) {
		entries, err := c.CatalogList(cmd.Context(), kind)
		if err != nil {
			return nil, kindError(kind, err)
		}
		for i := range entries {
			entries[i].Content = "" // the list is an index; `catalog show` prints content
		}
		return entries, err
	}, catalogRows)
	list.Flags().StringVar(&kind, "kind", "", "only entries of this kind (playbook, credential, ...)")

	var version int
	show := &cobra.Command{
		Use:   "show PATH",
		Short: "Print a catalog entry: its latest version, or --version N",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkVersion(cmd, version); err != nil {
				return err
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			e, err := c.CatalogShow(cmd.Context(), args[0], version)
			if err != nil {
				return err
			}
			if g.format != render.Table {
				return g.write(e, nil)
			}
			fmt.Fprintf(g.io.Out, "path:       %s\nversion:    %d\nkind:       %s\ncatalog_id: %s\ncreated:    %s\n---\n%s",
				e.Path, e.Version, e.Kind, e.CatalogID, e.CreatedAt, e.Content)
			if !strings.HasSuffix(e.Content, "\n") {
				fmt.Fprintln(g.io.Out)
			}
			return nil
		},
	}
	show.Flags().IntVar(&version, "version", 0, "the version to show (default: the latest)")
	cmd.AddCommand(list, show)
	return cmd
}
