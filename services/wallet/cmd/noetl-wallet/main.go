// Command noetl-wallet serves credentials, the keychain, sealed delivery, KEK rotation and
// the secret audit. `noetl-wallet migrate` applies the wallet's schema migrations.
package main

import "github.com/noetl/controlplane/services/wallet/internal/app"
import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/cli"
import "github.com/noetl/controlplane/shared/pg"

func main() {
	cli.Main(cli.Service("noetl-wallet", "credentials, keychain, sealed delivery, KEK rotation and the secret audit", app.DefaultPort,
		cli.Serve("the wallet", app.LoadConfig, app.Run),
		cli.Migrate(app.LoadConfig, func(c app.Config) pg.Config { return c.DB }, migrations.Set, nil),
	))
}
