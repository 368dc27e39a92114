package events

import "github.com/noetl/controlplane/shared/redact"

// Redact and RedactText are the redaction rules (package redact) under the names the
// event paths use.
var (
	Redact     = redact.Value
	RedactText = redact.Text
)
