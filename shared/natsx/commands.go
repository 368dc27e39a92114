package natsx

import "context"
import "errors"
import "fmt"
import "regexp"
import "strconv"
import "strings"
import "time"

import "github.com/nats-io/nats.go/jetstream"

// Commands is where command notifications travel. The api publishes a command of an
// execution to <prefix>.commands.<pool>.<execution_id> (pool "system" for playbooks under
// system/, else "shared") in the JetStream stream Stream; workers consume
// <prefix>.commands.<pool>.>. The default prefix gives upstream's subjects. Two
// deployments on one NATS server stay apart by giving each its own prefix and stream.
type Commands struct {
	Prefix string        `env:"NOETL_NATS_SUBJECT_PREFIX" envDefault:"noetl"`
	Stream string        `env:"NOETL_NATS_STREAM" envDefault:"NOETL_COMMANDS"`
	MaxAge time.Duration `env:"NOETL_NATS_STREAM_MAX_AGE" envDefault:"24h"`
}

// Worker pools, the subject segment after <prefix>.commands.
const (
	PoolShared = "shared"
	PoolSystem = "system"
)

// A prefix is one or more dot-separated subject tokens without wildcards or spaces.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// Validate checks the prefix and stream name.
func (c Commands) Validate() error {
	var errs []error
	if !prefixPattern.MatchString(c.Prefix) {
		errs = append(errs, fmt.Errorf("NOETL_NATS_SUBJECT_PREFIX: %q is not a subject prefix (dot-separated tokens of letters, digits, _ and -)", c.Prefix))
	}
	if c.Stream == "" || strings.ContainsAny(c.Stream, " .*>/\\\t") {
		errs = append(errs, fmt.Errorf("NOETL_NATS_STREAM: %q is not a valid stream name", c.Stream))
	}
	if c.MaxAge < 0 {
		errs = append(errs, errors.New("NOETL_NATS_STREAM_MAX_AGE: must not be negative"))
	}
	return errors.Join(errs...)
}

// DefaultPrefix gives upstream's subjects; a zero Commands uses it.
const DefaultPrefix = "noetl"

// Base is the subject the stream is named after: <prefix>.commands.
func (c Commands) Base() string {
	if c.Prefix == "" {
		return DefaultPrefix + ".commands"
	}
	return c.Prefix + ".commands"
}

// Subjects are the subjects the stream covers.
func (c Commands) Subjects() []string { return []string{c.Base(), c.Base() + ".>"} }

// PoolFor is the pool that runs a playbook's commands.
func PoolFor(playbookPath string) string {
	if strings.HasPrefix(playbookPath, "system/") {
		return PoolSystem
	}
	return PoolShared
}

// Subject is where a command of an execution is published.
func (c Commands) Subject(pool string, executionID int64) string {
	return c.Base() + "." + pool + "." + strconv.FormatInt(executionID, 10)
}

// PoolFilter is the subject filter of a pool's consumer.
func (c Commands) PoolFilter(pool string) string { return c.Base() + "." + pool + ".>" }

// duplicateWindow is how long JetStream remembers a message id to drop a resend.
const duplicateWindow = 2 * time.Minute

// StreamConfig is the stream the api creates (and a worker, when it starts first).
func (c Commands) StreamConfig() jetstream.StreamConfig {
	dup := duplicateWindow
	if c.MaxAge > 0 && c.MaxAge < dup {
		// JetStream refuses a duplicate window longer than the retention: with
		// NOETL_NATS_STREAM_MAX_AGE under two minutes no stream could be created.
		dup = c.MaxAge
	}
	return jetstream.StreamConfig{
		Name:       c.Stream,
		Subjects:   c.Subjects(),
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     c.MaxAge,
		Duplicates: dup,
	}
}

// CoveringStream names the stream that already holds the prefix's command subjects, ""
// when none does. A stream created under another name (by an upstream worker, say) is
// used as it is.
func (c Commands) CoveringStream(ctx context.Context, js jetstream.JetStream) (string, error) {
	name, err := js.StreamNameBySubject(ctx, c.Subject(PoolShared, 0))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up the stream of %s: %w", c.Base(), err)
	}
	return name, nil
}

// CreateStream creates the stream when no stream covers the prefix's subjects yet, and
// names the stream that covers them once it returns (another process may have created
// one meanwhile). A stream of our name that holds other subjects (another deployment
// that kept the default NOETL_NATS_STREAM under another prefix) is left as it is and
// named in the error: updating its subjects to ours would cut that deployment off from
// its own commands.
func (c Commands) CreateStream(ctx context.Context, js jetstream.JetStream) (string, error) {
	_, err := js.CreateStream(ctx, c.StreamConfig())
	if err == nil {
		return c.Stream, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return "", fmt.Errorf("create stream %s: %w", c.Stream, err)
	}
	name, cerr := c.CoveringStream(ctx, js)
	if cerr != nil || name != "" {
		return name, cerr
	}
	var subjects []string
	if s, ierr := js.Stream(ctx, c.Stream); ierr == nil {
		subjects = s.CachedInfo().Config.Subjects
	}
	return "", fmt.Errorf("NOETL_NATS_STREAM: the stream %s already exists for the subjects %s, not %s.>; "+
		"give this deployment a stream of its own (or the prefix that stream serves)",
		c.Stream, strings.Join(subjects, ", "), c.Base())
}
