package app

import "context"
import "io"
import "net"
import "testing"
import "time"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/api/internal/database"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/natsx"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/testkit"

// TestEveryRouteHasAnAccessClass starts the api and compares the routes it serves with
// shared/access.Table: a route added without a class stops the binary at startup (and
// this test), and a table entry the api no longer serves is stale.
func TestEveryRouteHasAnAccessClass(t *testing.T) {
	t.Parallel()
	schema := testkit.NewSchema(t, migrations.Set)
	ready := make(chan net.Addr, 1)
	routes := make(chan gin.RoutesInfo, 1)
	cfg := Config{
		Common: config.Common{
			Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second,
			InternalToken: "t", ServerName: "api-test",
		},
		DB:               schema.Config,
		IDs:              ids.Config{MachineID: config.OptionalUint{Value: 3, Set: true}},
		SweepIntervalSec: 30, OfflineSeconds: 60, EventWriters: 1,
		Commands: natsx.Commands{Prefix: "noetl", Stream: "NOETL_COMMANDS", MaxAge: time.Hour},
		SQL:      database.SQLConfig{StatementTimeout: time.Second, MaxRows: 10, MaxConns: 1},
		Hooks:    service.Hooks{LogOutput: io.Discard, Ready: ready, Routes: func(r gin.RoutesInfo) { routes <- r }},
	}
	testkit.StartRun(t, func(ctx context.Context) error { return Run(ctx, cfg) }, ready)
	if err := access.CheckCoverage("api", <-routes); err != nil {
		t.Error(err)
	}
}
