// Command noetl-wallet serves credentials, the keychain, sealed delivery, KEK rotation and
// the secret audit.
package main

import (
	"github.com/noetl/controlplane/services/wallet/internal/app"
	"github.com/noetl/controlplane/shared/cli"
)

func main() {
	cli.Main(cli.Program{
		Name:    "noetl-wallet",
		Summary: "credentials, keychain, sealed delivery, KEK rotation and the secret audit",
		Commands: []cli.Command{
			cli.Serve("the wallet", app.LoadConfig, app.Run),
			cli.Healthcheck(app.DefaultPort, nil),
		},
	})
}
