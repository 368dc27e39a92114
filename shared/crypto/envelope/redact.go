package envelope

import "encoding/json"
import "fmt"
import "io"
import "log/slog"

// redacted is the text every key-holding type prints instead of its contents.
// fmt prints unexported fields through reflection, and slog/JSON handlers
// would serialise exported ones, so each such type routes all of fmt, JSON and
// slog through its String method with the helpers below; none of them can reach
// key bytes.
const redacted = "[redacted]"

// formatRedacted implements fmt.Formatter for every verb with the given
// description, so %x, %d or %#v cannot bypass String().
func formatRedacted(f fmt.State, desc string) {
	_, _ = io.WriteString(f, desc)
}

func logRedacted(desc string) slog.Value { return slog.StringValue(desc) }

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
