// Package logx builds the structured JSON logger every binary uses.
package logx

import "io"
import "log/slog"
import "os"

// New returns a JSON slog logger at level ("debug", "info", "warn", "error") writing to w
// (stderr when nil), with the service name on every line.
func New(w io.Writer, level, service string) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})
	return slog.New(h).With(slog.String("service", service))
}
