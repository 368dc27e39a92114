package cli

import "context"
import "io"
import "os"

import "github.com/noetl/controlplane/shared/pg"

// Migrate is the `migrate [up|status]` command of a service that owns tables: `up` (the
// default) applies the service's own migrations, `status` lists applied and pending ones
// and changes nothing. db picks the database settings out of the service's config.
func Migrate[C any](load func(environ map[string]string) (C, error), db func(C) pg.Config, set pg.MigrationSet, stdout io.Writer) Command {
	if stdout == nil {
		stdout = os.Stdout
	}
	return Command{
		Name:    "migrate",
		Args:    "[up|status]",
		Summary: "apply this service's schema migrations (up, the default) or list applied and pending ones (status)",
		Run: func(ctx context.Context, args []string) error {
			switch {
			case len(args) == 0 || (len(args) == 1 && args[0] == "up"):
				return WithConfig(load, func(ctx context.Context, cfg C) error { return pg.MigrateCommand(ctx, db(cfg), set, stdout) })(ctx)
			case len(args) == 1 && args[0] == "status":
				return WithConfig(load, func(ctx context.Context, cfg C) error { return pg.StatusCommand(ctx, db(cfg), set, stdout) })(ctx)
			default:
				return Usagef("migrate: want `migrate`, `migrate up` or `migrate status`, got %q", args)
			}
		},
	}
}
