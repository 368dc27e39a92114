// Package apierr holds the answers several api route packages give alike, so that a
// message a client may match on is written once: a malformed execution id in a path, an
// execution or command that does not exist, and a playbook that cannot be read or breaks
// a rule. The status mapping itself stays in shared/httpx; these only build its typed
// errors.
package apierr

import "errors"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/httpx"

// notFound is the one table from a concept's not-found sentinel, declared by the
// package that owns the concept's table, to the 404 a client gets (upstream's texts).
var notFound = []struct {
	sentinel error
	format   string // takes the id the client named
}{
	{eventlog.ErrNoExecution, "Execution not found: %d"},
	{eventlog.ErrNoCommand, "command.issued event not found: %d"},
}

// NotFound answers err with its concept's 404 when err is one of the not-found
// sentinels of the table, naming id; any other error (nil included) is returned
// unchanged.
func NotFound(err error, id int64) error {
	if err == nil {
		return nil
	}
	for _, nf := range notFound {
		if errors.Is(err, nf.sentinel) {
			return httpx.NotFound(nf.format, id)
		}
	}
	return err
}

// ExecutionNotFound is the 404 for an execution id with no execution.
func ExecutionNotFound(id int64) error { return NotFound(eventlog.ErrNoExecution, id) }

// ExecutionID is the execution id of a route's path (`:execution_id`); anything but a
// 64-bit integer is a 400.
func ExecutionID(c *gin.Context) (int64, error) {
	return httpx.PathInt64(c, "execution_id", "an execution id")
}

// Playbook maps the playbook package's errors: unreadable YAML, or a value of the wrong
// shape, is a 400 with the line; a broken rule, or a document whose aliases expand past a
// size limit, is a 422 with the message. Any other error is returned unchanged.
func Playbook(err error) error {
	if mapped := playbookAnswer(err); mapped != nil {
		return mapped
	}
	return err
}

// IsPlaybook reports whether err is one of the playbook package's errors.
func IsPlaybook(err error) bool { return playbookAnswer(err) != nil }

func playbookAnswer(err error) error {
	var pe *playbook.ParseError
	var ve *playbook.ValidationError
	var le *playbook.LimitError
	switch {
	case errors.As(err, &le):
		return httpx.Validation("%s", le.Error())
	case errors.As(err, &pe):
		return httpx.BadRequest("%s", pe.Error())
	case errors.As(err, &ve):
		return httpx.Validation("%s", ve.Msg)
	}
	return nil
}
