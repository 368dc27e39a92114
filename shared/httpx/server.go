package httpx

import "context"
import "errors"
import "fmt"
import "log/slog"
import "net"
import "net/http"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/tlsx"

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
	// Timeouts bound how long one client may hold a connection; zero fields take
	// DefaultTimeouts.
	Timeouts Timeouts
}

// Timeouts are the connection limits of a listener. Without them a client that sends
// its headers or body one byte at a time holds a connection (and a goroutine) forever.
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers.
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included. It is generous because the
	// result store accepts bodies of NOETL_MAX_RESULT_BYTES (64 MiB by default).
	Read time.Duration
	// Idle bounds how long a keep-alive connection waits for its next request.
	Idle time.Duration
}

// DefaultTimeouts are the limits every service listens with.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 2 * time.Minute, Idle: 2 * time.Minute}

// withDefaults fills the zero fields from DefaultTimeouts.
func (t Timeouts) withDefaults() Timeouts {
	if t.ReadHeader <= 0 {
		t.ReadHeader = DefaultTimeouts.ReadHeader
	}
	if t.Read <= 0 {
		t.Read = DefaultTimeouts.Read
	}
	if t.Idle <= 0 {
		t.Idle = DefaultTimeouts.Idle
	}
	return t
}

// Apply sets the limits on srv (the pprof listener uses it too).
func (t Timeouts) Apply(srv *http.Server) {
	t = t.withDefaults()
	srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout = t.ReadHeader, t.Read, t.Idle
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
		Handler:  s.Handler,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	s.Timeouts.Apply(srv)
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
