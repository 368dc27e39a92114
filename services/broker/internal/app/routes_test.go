package app

import "context"
import "io"
import "net"
import "testing"
import "time"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/service"
import "github.com/noetl/controlplane/shared/testkit"

// TestEveryRouteHasAnAccessClass compares the routes the broker serves with
// shared/access.Table in both directions.
func TestEveryRouteHasAnAccessClass(t *testing.T) {
	t.Parallel()
	ready := make(chan net.Addr, 1)
	routes := make(chan gin.RoutesInfo, 1)
	cfg := Config{
		Common:    config.Common{Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second},
		WalletURL: "http://127.0.0.1:1", WalletTimeout: time.Second,
		Hooks: service.Hooks{LogOutput: io.Discard, Ready: ready, Routes: func(r gin.RoutesInfo) { routes <- r }},
	}
	testkit.StartRun(t, func(ctx context.Context) error { return Run(ctx, cfg) }, ready)
	if err := access.CheckCoverage("broker", <-routes); err != nil {
		t.Error(err)
	}
}
