package app

import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/testkit"

// TestEveryRouteHasAnAccessClass compares the routes the wallet serves with
// shared/access.Table in both directions.
func TestEveryRouteHasAnAccessClass(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testkit.NewSchema(t, migrations.Set), newFakeAPI(t).URL)
	routes := make(chan gin.RoutesInfo, 1)
	cfg.Hooks.Routes = func(r gin.RoutesInfo) { routes <- r }
	startWallet(t, cfg)
	if err := access.CheckCoverage("wallet", <-routes); err != nil {
		t.Error(err)
	}
}
