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
)

// pendingRoutes are classed before the broker serves them: the cross-region resolve
// route lands with the secret-provider work and is gated from its first commit.
var pendingRoutes = map[string]bool{"POST /api/internal/cross-region/resolve": true}

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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("broker did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("broker did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker did not start in time")
	}
	unclassed, unserved := access.Coverage("broker", <-routes)
	if len(unclassed) > 0 {
		t.Errorf("routes without an access class: %v", unclassed)
	}
	for _, r := range unserved {
		if !pendingRoutes[r] {
			t.Errorf("access.Table classes a broker route the broker does not serve: %s", r)
		}
	}
}
