package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/noetl/controlplane/shared/config"
	"github.com/noetl/controlplane/shared/tlsx"
)

// Server serves a handler on an address with the configured transport security.
type Server struct {
	Addr    string
	Handler http.Handler
	TLS     config.ServerTLS
	// Grace bounds how long shutdown waits for in-flight requests.
	Grace  time.Duration
	Logger *slog.Logger
	// Ready, when set, receives the bound address once the listener is open (tests
	// listen on port 0).
	Ready chan<- net.Addr
}

// Run listens and serves until ctx is cancelled, then stops accepting connections and
// waits up to Grace for in-flight requests before returning.
func (s Server) Run(ctx context.Context) error {
	tlsCfg, err := tlsx.Server(s.TLS)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	return s.Serve(ctx, ln, tlsCfg != nil)
}

// Serve is Run on an existing listener.
func (s Server) Serve(ctx context.Context, ln net.Listener, useTLS bool) error {
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	if useTLS {
		cfg, err := tlsx.Server(s.TLS)
		if err != nil {
			_ = ln.Close()
			return err
		}
		srv.TLSConfig = cfg
	}
	mode := "http"
	switch {
	case useTLS && s.TLS.ClientCAFile != "":
		mode = "mtls"
	case useTLS:
		mode = "https"
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("transport", mode))
	if s.Ready != nil {
		s.Ready <- ln.Addr()
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if useTLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	grace := s.Grace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	logger.Info("shutting down: draining in-flight requests", slog.Duration("grace", grace))
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	<-errc
	logger.Info("server shutdown complete")
	return nil
}
