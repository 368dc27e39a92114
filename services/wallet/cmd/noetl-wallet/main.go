// Command noetl-wallet serves credentials, the keychain, sealed delivery, KEK rotation and
// the secret audit.
package main

import (
	"context"

	"github.com/noetl/controlplane/services/wallet/internal/app"
	"github.com/noetl/controlplane/shared/cli"
)

func main() {
	cli.Main(cli.Program{
		Name:    "noetl-wallet",
		Summary: "credentials, keychain, sealed delivery, KEK rotation and the secret audit",
		Commands: []cli.Command{
			{Name: "serve", Summary: "serve the wallet", Run: cli.NoArgs("serve", serve)},
			cli.Healthcheck(app.DefaultPort, nil),
		},
	})
}

func serve(ctx context.Context) error {
	cfg, err := app.LoadConfig(nil)
	if err != nil {
		return cli.ConfigError(err)
	}
	return app.Run(ctx, cfg)
}
