package config

import "encoding/json"
import "fmt"
import "strconv"
import "strings"

// Port is a TCP port. It refuses the "tcp://10.0.0.1:8082" values that Kubernetes service
// links inject into NOETL_PORT when a Service named "noetl" exists in the namespace, with a
// message that says so, instead of failing with an opaque parse error.
type Port uint16

// UnmarshalText implements encoding.TextUnmarshaler for caarlos0/env.
func (p *Port) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.Contains(s, "://") {
		return fmt.Errorf("%q looks like a Kubernetes service link (a Service named after the variable prefix injects tcp://host:port); set enableServiceLinks: false on the pod or give the port as a number", s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	*p = Port(n)
	return nil
}

// Bool accepts the spellings operators use: true/false, 1/0, yes/no, on/off (any case).
// The deployment specification documents `1`/`yes` for NOETL_SECRET_AUDIT_REQUIRED; accepting them everywhere
// keeps one rule for every flag.
type Bool bool

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Bool) UnmarshalText(b []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "1", "t", "true", "yes", "y", "on":
		*v = true
	case "0", "f", "false", "no", "n", "off", "":
		*v = false
	default:
		return fmt.Errorf("%q is not a boolean (use true or false)", string(b))
	}
	return nil
}

// Secret holds a credential read from the environment. Its String and GoString never
// print the value, so a config struct can be logged or wrapped in an error safely.
type Secret string

// UnmarshalText implements encoding.TextUnmarshaler. Parse errors never echo the value.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString redacts the value for %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON redacts the value too: slog's JSON handler, which every service logs with,
// encodes values with encoding/json rather than fmt, so String alone does not protect a
// config struct passed to slog.Any.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the secret value. Call sites are easy to grep for.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a non-blank value was provided.
func (s Secret) IsSet() bool { return strings.TrimSpace(string(s)) != "" }

// OptionalUint is an unsigned integer that remembers whether it was set, for variables
// whose absence selects another behaviour (NOETL_SERVER_MACHINE_ID unset → hash HOSTNAME).
type OptionalUint struct {
	Value uint64
	Set   bool
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *OptionalUint) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		*o = OptionalUint{}
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a non-negative integer", s)
	}
	*o = OptionalUint{Value: n, Set: true}
	return nil
}
