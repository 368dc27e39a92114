package app

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/noetl/controlplane/shared/access"
	"github.com/noetl/controlplane/shared/config"
	"github.com/noetl/controlplane/shared/service"
	"github.com/noetl/controlplane/shared/testkit"
)

// TestEveryRouteHasAnAccessClass compares the routes the broker serves with
// shared/access.Table in both directions.
func TestEveryRouteHasAnAccessClass(t *testing.T) {
	t.Parallel()
	ready := make(chan net.Addr, 1)
	routes := make(chan gin.RoutesInfo, 1)
	cfg := Config{
		Common:    config.Common{Host: "127.0.0.1", Port: 0, MaxBodyBytes: 1 << 20, ShutdownGrace: 5 * time.Second},
		WalletURL: "http://127.0.0.1:1",
		Hooks:     service.Hooks{LogOutput: io.Discard, Ready: ready, Routes: func(r gin.RoutesInfo) { routes <- r }},
	}
	testkit.StartRun(t, func(ctx context.Context) error { return Run(ctx, cfg) }, ready)
	unclassed, unserved := access.Coverage("broker", <-routes)
	if len(unclassed) > 0 {
		t.Errorf("routes without an access class: %v", unclassed)
	}
	if len(unserved) > 0 {
		t.Errorf("access.Table classes broker routes the broker does not serve: %v", unserved)
	}
}
