package cli

import "context"
import "errors"
import "flag"
import "fmt"
import "io"
import "os"
import "path/filepath"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/devcerts"

// listFlag collects a repeatable, comma-separable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// Certs returns the `certs` command: a development CA and one certificate per service
// for internal mTLS (see package devcerts). `make run` and the compose file's one-shot
// certificate step run it; it keeps what is still valid, so running it again is safe.
func Certs(stdout io.Writer) Command {
	return Command{
		Name:    "certs",
		Args:    "[--dir DIR] [--service NAME]... [--host NAME]... [--force] [--secret NAME [--namespace NS]]",
		Summary: "write a development CA and per-service certificates for internal mTLS",
		Run: func(_ context.Context, args []string) error {
			if stdout == nil {
				stdout = os.Stdout
			}
			fs := flag.NewFlagSet("certs", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			dir := fs.String("dir", "certs", "directory to write ca.crt, ca.key, <service>.crt and <service>.key into")
			var services, hosts listFlag
			fs.Var(&services, "service", "service to issue a certificate for (repeatable; default router,api,wallet,broker)")
			fs.Var(&hosts, "host", `extra DNS name or IP on every certificate; "{service}" becomes the service name (repeatable)`)
			force := fs.Bool("force", false, "start over with a new CA (rotation)")
			validity := fs.Duration("validity", devcerts.DefaultValidity, "lifetime of the service certificates")
			secret := fs.String("secret", "", "also write <dir>/<NAME>.yaml, a Kubernetes Secret for the chart's internalTls.existingSecret")
			namespace := fs.String("namespace", "", "namespace of that Secret")
			if err := fs.Parse(args); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					fs.SetOutput(stdout)
					fs.PrintDefaults()
					return nil
				}
				return Usagef("certs: %v", err)
			}
			if fs.NArg() > 0 {
				return Usagef("certs: unexpected argument %q", fs.Arg(0))
			}
			res, err := devcerts.Ensure(devcerts.Options{
				Dir: *dir, Services: services, Hosts: hosts, Force: *force, Validity: *validity,
			})
			if err != nil {
				return err
			}
			state := "kept"
			if res.CAIssued {
				state = "new"
			}
			fmt.Fprintf(stdout, "certs: CA %s (%s, expires %s)\n", filepath.Join(res.Dir, devcerts.CAFile), state, res.CAExpires.Format(time.DateOnly))
			if len(res.Issued) > 0 {
				fmt.Fprintf(stdout, "certs: issued %s\n", strings.Join(res.Issued, ", "))
			}
			if len(res.Kept) > 0 {
				fmt.Fprintf(stdout, "certs: kept %s\n", strings.Join(res.Kept, ", "))
			}
			fmt.Fprintf(stdout, "certs: service certificates valid until %s\n", res.NotAfter.Format(time.DateOnly))
			if *secret != "" {
				m, err := devcerts.SecretManifest(res.Dir, *secret, *namespace, res.Services)
				if err != nil {
					return err
				}
				path := filepath.Join(res.Dir, *secret+".yaml")
				if err := os.WriteFile(path, m, 0o600); err != nil {
					return fmt.Errorf("certs: write %s: %w", path, err)
				}
				fmt.Fprintf(stdout, "certs: Kubernetes Secret %s written to %s\n", *secret, path)
			}
			return nil
		},
	}
}
