// Package timeouts reads the timeouts a playbook writes: a step's `spec.timeout` and a
// tool's generic `timeout`. The control plane validates them when a playbook is
// registered or executed, and the worker reads them again from the command, so both
// sides accept exactly the same spellings.
package timeouts

import "fmt"
import "math"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/jsonx"

// Format says what a timeout may be, for error messages and docs.
const Format = `a positive number of seconds (30, 2.5) or a duration such as "30s", "5m", "1h30m"`

// max is the largest bound a time.Duration holds, in seconds.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// Parse reads a timeout: a YAML/JSON number of seconds, the same number as text ("30"),
// or a Go duration string ("250ms", "30s", "5m", "1h30m"). It must be positive.
func Parse(v any) (time.Duration, error) {
	var secs float64
	switch t := v.(type) {
	case int64:
		secs = float64(t)
	case int:
		secs = float64(t)
	case float64:
		secs = t
	case string:
		s := strings.TrimSpace(t)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			secs = f
			break
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("must be %s, got %q", Format, t)
		}
		if d <= 0 {
			return 0, fmt.Errorf("must be positive, got %q", t)
		}
		return d, nil
	default:
		return 0, fmt.Errorf("must be %s, got %s", Format, kinds.Of(v))
	}
	switch {
	case math.IsNaN(secs) || math.IsInf(secs, 0):
		return 0, fmt.Errorf("must be %s, got %v", Format, v)
	case secs <= 0:
		return 0, fmt.Errorf("must be positive, got %v", v)
	case secs >= maxSeconds:
		return 0, fmt.Errorf("is too large: %v seconds", v)
	}
	d := time.Duration(secs * float64(time.Second))
	if d <= 0 {
		return 0, fmt.Errorf("must be at least a nanosecond, got %v", v)
	}
	return d, nil
}

// Seconds is d as the number of seconds a command carries: an integer when d is whole
// seconds (the usual case, and what an older worker reading it as an integer expects),
// a fraction otherwise.
func Seconds(d time.Duration) any {
	if d%time.Second == 0 {
		return int64(d / time.Second)
	}
	return d.Seconds()
}

// kinds names what a timeout may not be, in the words of the playbook parser's errors;
// any other value is named by its Go type.
var kinds = jsonx.KindNames{Null: "null", Bool: "a boolean", Array: "a list", Object: "a mapping"}
