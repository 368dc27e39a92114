package commands

import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "os"
import "strings"

import "github.com/spf13/cobra"

import "github.com/noetl/controlplane/cli/internal/client"
import "github.com/noetl/controlplane/cli/internal/render"

// maxSecretBytes bounds what `credentials set` reads (the server's body limit is larger;
// a credential is a handful of fields).
const maxSecretBytes = 1 << 20

func credentialsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "credentials",
		Aliases: []string{"credential", "creds"},
		Short:   "Manage the wallet's credentials (values are never echoed)",
	}
	cmd.AddCommand(credSetCmd(g), credGetCmd(g), credListCmd(g), credDeleteCmd(g))
	return cmd
}

func credSetCmd(g *globals) *cobra.Command {
	var (
		typ, file, field, description string
		tags                          []string
	)
	cmd := &cobra.Command{
		Use:   "set NAME --type TYPE [--from-file FILE | < FILE]",
		Short: "Create a credential, or replace the one with the same name",
		Long: `Create a credential, or replace the one with the same name. The value is read from
--from-file, or from standard input (without echo when it is a terminal); it is never
printed and never taken from the command line, where it would stay in the shell history.

The value is a JSON object of the credential's fields ({"db_user": "...", ...}); with
--field NAME it is a single secret stored as {NAME: value} (a trailing newline dropped).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(typ) == "" {
				return usagef("--type is required: postgres, bearer, basic or api_key are the types the worker's postgres and http tools apply (docs/worker.md, \"Credentials\"); any other is stored as given")
			}
			raw, err := g.readSecret(file, field != "")
			if err != nil {
				return err
			}
			data, err := credentialData(raw, field)
			if err != nil {
				return usageError{err}
			}
			in := client.CredentialInput{Name: args[0], Type: typ, Data: data, Tags: tags}
			if description != "" {
				in.Description = &description
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			out, err := c.SetCredential(cmd.Context(), in)
			if err != nil {
				return err
			}
			out.Data = nil // the answer carries none; never print one
			return g.write(out, func() render.Rows { return credentialRows([]client.Credential{out}) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "the credential's type (required): postgres, bearer, basic, api_key, ...")
	f.StringVar(&file, "from-file", "", "read the value from this file (default: standard input)")
	f.StringVar(&field, "field", "", "the value is one secret, stored under this field name")
	f.StringVar(&description, "description", "", "a description")
	f.StringSliceVar(&tags, "tag", nil, "a tag (repeatable)")
	return cmd
}

// readSecret reads the value from file or standard input; a terminal is read without
// echo (one line).
func (g *globals) readSecret(file string, single bool) ([]byte, error) {
	if file != "" {
		// A file that cannot be read is a bad argument (exit 2, nothing sent), as a
		// --payload file is for run.
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usagef("read --from-file: %w", err)
		}
		return b, nil
	}
	if g.io.IsTerminal(g.io.In) {
		what := "the credential's JSON object"
		if single {
			what = "the secret"
		}
		fmt.Fprintf(g.io.Err, "enter %s (not echoed): ", what)
		b, err := g.io.ReadSecret()
		fmt.Fprintln(g.io.Err)
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(g.io.In, maxSecretBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	if len(b) > maxSecretBytes {
		return nil, usagef("the value exceeds %d bytes", maxSecretBytes)
	}
	return b, nil
}

// credentialData is the JSON object sent as the credential's data. Parse errors never
// quote the input: it is a secret.
func credentialData(raw []byte, field string) (json.RawMessage, error) {
	if field != "" {
		v := strings.TrimRight(string(raw), "\r\n")
		if v == "" {
			return nil, errors.New("the value is empty")
		}
		return json.Marshal(map[string]string{field: v})
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("the value is empty (give a JSON object on standard input or with --from-file)")
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, errors.New("the value is not a JSON object (its content is not shown; use --field NAME for a single secret)")
	}
	return json.RawMessage(raw), nil
}

func credGetCmd(g *globals) *cobra.Command {
	var reveal bool
	cmd := &cobra.Command{
		Use:   "get NAME|ID",
		Short: "Show a credential; its value stays masked unless --reveal",
		Long: `Show a credential's name, type and dates; the value is masked. --reveal reads and
prints the value (the server audits the read; once tokens are configured it takes the
worker or the internal token).`,
		Args: cobra.ExactArgs(1),
		RunE: g.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			cred, err := c.GetCredential(cmd.Context(), args[0], reveal)
			var apiErr *client.APIError
			if reveal && errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized && !apiErr.NoToken {
				// The client token that reads the metadata does not read the value:
				// say which token does and where a make run terminal has it.
				return fmt.Errorf("%w (--reveal reads the value through a worker route: give --token \"$NOETL_WORKER_TOKEN\", which `source .run/client.env` sets)", err)
			}
			if err != nil {
				return err
			}
			if !reveal {
				cred.Data = nil
			}
			if g.format != render.Table {
				return g.write(cred, nil)
			}
			desc := ""
			if cred.Description != nil {
				desc = *cred.Description
			}
			fmt.Fprintf(g.io.Out, "name:        %s\ntype:        %s\nid:          %s\ndescription: %s\ntags:        %s\ncreated:     %s\nupdated:     %s\n",
				cred.Name, cred.Type, cred.ID, render.Or(desc), render.Or(strings.Join(cred.Tags, ", ")), cred.CreatedAt, cred.UpdatedAt)
			if !reveal {
				fmt.Fprintln(g.io.Out, "data:        ******** (--reveal prints it)")
				return nil
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, cred.Data, "", "  ") != nil {
				pretty.Write(cred.Data)
			}
			fmt.Fprintf(g.io.Out, "data:        %s\n", pretty.String())
			return nil
		}),
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print the credential's value")
	return cmd
}

func credentialRows(list []client.Credential) render.Rows {
	r := render.Rows{Header: []string{"NAME", "TYPE", "ID", "UPDATED", "DESCRIPTION"}}
	for _, c := range list {
		desc := ""
		if c.Description != nil {
			desc = *c.Description
		}
		r.Add(c.Name, c.Type, string(c.ID), c.UpdatedAt, render.Or(desc))
	}
	return r
}

func credListCmd(g *globals) *cobra.Command {
	var typ, q string
	cmd := listCmd(g, "list", "List credentials (never their values)", func(cmd *cobra.Command, c *client.Client) ([]client.Credential, error) {
		list, err := c.ListCredentials(cmd.Context(), typ, q)
		for i := range list {
			list[i].Data = nil
		}
		return list, err
	}, credentialRows)
	cmd.Flags().StringVar(&typ, "type", "", "only credentials of this type")
	cmd.Flags().StringVar(&q, "search", "", "only names or descriptions containing this text")
	return cmd
}

func credDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a credential",
		Args:  cobra.ExactArgs(1),
		RunE: g.withClient(func(cmd *cobra.Command, c *client.Client, args []string) error {
			res, err := c.DeleteCredential(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			// -o json|yaml is the server's answer, as for every other command: a script
			// reading the output as JSON got a sentence.
			return g.write(res, func() render.Rows {
				return render.Rows{Rows: [][]string{{"credential " + args[0] + " deleted"}}}
			})
		}),
	}
}

func versionCmd(g *globals) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client's version and the server's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := struct {
				Client string `json:"client"`
				Server string `json:"server,omitempty"`
				URL    string `json:"server_url,omitempty"`
			}{Client: g.clientVersion}
			var serverErr error
			if !clientOnly {
				c, err := g.newClient()
				if err != nil {
					return err
				}
				v.URL = c.Server()
				h, err := c.Health(cmd.Context())
				if err != nil {
					serverErr = err
				}
				v.Server = h.Version
			}
			if err := g.write(v, func() render.Rows {
				r := render.Rows{}
				r.Add("client:", v.Client)
				if !clientOnly {
					r.Add("server:", render.Or(v.Server), v.URL)
				}
				return r
			}); err != nil {
				return err
			}
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only the client's version (no server call)")
	return cmd
}
