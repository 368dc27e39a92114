package wire

import "errors"
import "fmt"
import "unicode"
import "unicode/utf8"

// MaxWorkerIDBytes bounds a worker id. Worker ids are indexed (command.worker_id,
// runtime.name) and PostgreSQL refuses an index entry of more than about 2.7 KB, which
// would surface as a server error halfway through a request.
const MaxWorkerIDBytes = 255

// CheckWorkerID validates a worker id (a worker pool's runtime name) wherever one is
// accepted: events, claims, the pool registry, sealed delivery, the secret audit. It must
// be 1 to MaxWorkerIDBytes bytes of UTF-8 without control characters, so that it can be
// stored, indexed, compared and written to an audit row and a log line as it was sent.
func CheckWorkerID(id string) error {
	switch {
	case id == "":
		return errors.New("must not be empty")
	case len(id) > MaxWorkerIDBytes:
		return fmt.Errorf("must be at most %d bytes (got %d)", MaxWorkerIDBytes, len(id))
	case !utf8.ValidString(id):
		return errors.New("must be valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("must not contain control characters (found U+%04X)", r)
		}
	}
	return nil
}

// MaxNameBytes bounds a name a client chooses and the server indexes: a catalog path, a
// credential name or type, a variable or result name. Longer ones would fail PostgreSQL's
// index-entry limit (about 2.7 KB) as a server error.
const MaxNameBytes = 1024

// CheckName validates such a name's length (the edge already refuses invalid UTF-8 and
// NUL).
func CheckName(name string) error {
	if len(name) > MaxNameBytes {
		return fmt.Errorf("must be at most %d bytes (got %d)", MaxNameBytes, len(name))
	}
	return nil
}
