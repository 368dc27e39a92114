// Package rotation re-wraps every stored envelope under the current key-encryption key
// (POST /api/internal/wallet/rotate-kek) and reports how many rows each key version holds
// (GET /api/internal/wallet/key-status), so that an operator can retire an old key once
// nothing depends on it (docs/wallet.md, section 4). Only the DEK wrapping changes; data is never
// decrypted.
package rotation

import "context"
import "fmt"
import "log/slog"
import "net/http"
import "strconv"
import "strings"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/promx"

// Statuses of noetl_wallet_rotate_total. failed is upstream's catch-all (never produced
// here); failed_write is a compare-and-set batch that could not be committed.
const (
	StatusFailed      = "failed"
	StatusFailedWrite = "failed_write"
)

var statuses = []string{
	string(envelope.RewrapSkipped), string(envelope.RewrapRewrapped), string(envelope.RewrapFailedUnwrap),
	string(envelope.RewrapFailedWrap), string(envelope.RewrapParseError), StatusFailed, StatusFailedWrite,
}

// Metrics is noetl_wallet_rotate_total.
type Metrics struct{ rotate *prometheus.CounterVec }

// NewMetrics registers the counter with every (table, status) at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{rotate: promx.CounterVec(reg, "noetl_wallet_rotate_total",
		"Wallet KEK-rotation pass outcomes per table (Phase 7a).",
		"table", "status")}
	promx.Zero(m.rotate, promx.Strings(Tables), statuses)
	return m
}

func (m *Metrics) add(t Table, status string, n int) {
	if m != nil && n > 0 {
		m.rotate.WithLabelValues(string(t), status).Add(float64(n))
	}
}

// Rewrapper re-wraps one stored value (keyring.Ring).
type Rewrapper interface {
	Ready() error
	CurrentKeyVersion() string
	Rewrap(ctx context.Context, stored string) (envelope.RewrapOutcome, error)
}

// Service runs rotations and key-status.
type Service struct {
	store   *Store
	ring    Rewrapper
	metrics *Metrics
	log     *slog.Logger
}

// NewService wires the service.
func NewService(store *Store, ring Rewrapper, m *Metrics, log *slog.Logger) *Service {
	return &Service{store: store, ring: ring, metrics: m, log: log}
}

// Limits of a request.
const (
	DefaultBatchSize  = 100
	DefaultMaxBatches = 1000
	MaxBatchSize      = 10000
	// MaxMaxBatches keeps the batch count an int on every platform.
	MaxMaxBatches = 1 << 30
)

// Position is where a pass starts or stopped: the table, and the last key done in it
// (nil: the table's start).
type Position struct {
	Table    Table
	AfterID  *int64
	AfterKey *string
}

// String is the cursor a response carries and a request accepts:
// "credential:<id>", "credential:" (start), "keychain:<cache_key>" or "keychain:".
func (p Position) String() string {
	switch {
	case p.Table == TableCredential && p.AfterID != nil:
		return "credential:" + strconv.FormatInt(*p.AfterID, 10)
	case p.Table == TableKeychain && p.AfterKey != nil:
		return "keychain:" + *p.AfterKey
	default:
		return string(p.Table) + ":"
	}
}

// ParseCursor reads a cursor String produced.
func ParseCursor(s string) (Position, error) {
	t, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok:
	case Table(t) == TableCredential && rest == "":
		return Position{Table: TableCredential}, nil
	case Table(t) == TableCredential:
		id, err := strconv.ParseInt(rest, 10, 64)
		if err == nil {
			return Position{Table: TableCredential, AfterID: &id}, nil
		}
	case Table(t) == TableKeychain && rest == "":
		return Position{Table: TableKeychain}, nil
	case Table(t) == TableKeychain:
		return Position{Table: TableKeychain, AfterKey: &rest}, nil
	}
	return Position{}, httpx.Validation("cursor %q is not one rotate-kek returned (credential:<id> or keychain:<cache_key>)", s)
}

// Summary is upstream's RotateSummary plus the resume fields. failed is the sum of
// failures, which failures breaks down by status. last_id is the credential id cursor
// (0 for the keychain, which has no id); last_cache_key is the keychain's.
type Summary struct {
	Processed    int64            `json:"processed"`
	Rewrapped    int64            `json:"rewrapped"`
	Skipped      int64            `json:"skipped"`
	Failed       int64            `json:"failed"`
	LastID       int64            `json:"last_id"`
	LastCacheKey *string          `json:"last_cache_key,omitempty"`
	Failures     map[string]int64 `json:"failures"`
	Done         bool             `json:"done"`
}

func newSummary() Summary {
	return Summary{Failures: map[string]int64{
		string(envelope.RewrapParseError): 0, string(envelope.RewrapFailedUnwrap): 0,
		string(envelope.RewrapFailedWrap): 0, StatusFailedWrite: 0,
	}}
}

// Response answers POST /api/internal/wallet/rotate-kek. cursor is null when done.
type Response struct {
	Credential Summary `json:"credential"`
	Keychain   Summary `json:"keychain"`
	KeyVersion string  `json:"key_version"`
	Done       bool    `json:"done"`
	Cursor     *string `json:"cursor"`
}

// Rotate re-wraps up to maxBatches batches of batchSize rows from start on, credential
// then keychain. Each batch's writes commit in one transaction; rows that fail to re-wrap
// are counted and passed over. The response says where to resume when maxBatches ran out.
func (s *Service) Rotate(ctx context.Context, start Position, batchSize, maxBatches int) (Response, error) {
	if err := s.ring.Ready(); err != nil {
		return Response{}, err
	}
	resp := Response{Credential: newSummary(), Keychain: newSummary(), KeyVersion: s.ring.CurrentKeyVersion()}
	if start.Table == TableKeychain {
		resp.Credential.Done = true
	}
	pos := start
	batches := 0
	for {
		sum := &resp.Credential
		if pos.Table == TableKeychain {
			sum = &resp.Keychain
		}
		if batches == maxBatches {
			c := pos.String()
			resp.Cursor = &c
			break
		}
		batches++
		n, err := s.batch(ctx, &pos, sum, batchSize)
		if err != nil {
			return resp, &httpx.Error{Status: http.StatusInternalServerError, Err: err,
				Msg: fmt.Sprintf("rotation stopped on the %s table (%v); rows before it are done: resume with cursor %q", pos.Table, err, pos.String())}
		}
		if n < batchSize {
			sum.Done = true
			if pos.Table == TableKeychain {
				resp.Done = true
				break
			}
			pos = Position{Table: TableKeychain}
		}
	}
	s.log.Info("wallet KEK rotation pass", slog.String("key_version", resp.KeyVersion), slog.Bool("done", resp.Done),
		slog.Int64("credential_rewrapped", resp.Credential.Rewrapped), slog.Int64("credential_failed", resp.Credential.Failed),
		slog.Int64("keychain_rewrapped", resp.Keychain.Rewrapped), slog.Int64("keychain_failed", resp.Keychain.Failed))
	return resp, nil
}

// batch re-wraps one batch after pos, advances pos past it and returns the batch's size.
func (s *Service) batch(ctx context.Context, pos *Position, sum *Summary, size int) (int, error) {
	rows, err := s.store.Batch(ctx, pos.Table, pos.AfterID, pos.AfterKey, size)
	if err != nil {
		return 0, err
	}
	var ups []update
	counts := map[string]int{}
	for _, r := range rows {
		out, err := s.ring.Rewrap(ctx, r.Data)
		st := string(out.Status)
		switch out.Status {
		case envelope.RewrapSkipped:
			sum.Skipped++
		case envelope.RewrapRewrapped:
			ups = append(ups, update{row: r, New: out.Stored})
			continue // counted once written
		default:
			sum.Failed++
			sum.Failures[st]++
			s.log.Warn("wallet KEK rotation: row not re-wrapped", slog.String("table", string(pos.Table)),
				slog.String("row", rowName(r)), slog.String("status", st), slog.Any("error", err))
		}
		counts[st]++
	}
	sum.Processed += int64(len(rows))
	written, err := s.store.Apply(ctx, pos.Table, ups)
	if err != nil {
		counts[StatusFailedWrite] += len(ups)
		sum.Failed += int64(len(ups))
		sum.Failures[StatusFailedWrite] += int64(len(ups))
		for st, n := range counts {
			s.metrics.add(pos.Table, st, n)
		}
		return 0, err
	}
	// A row rewritten since the scan already holds a fresh envelope under the current key.
	counts[string(envelope.RewrapRewrapped)] += written
	counts[string(envelope.RewrapSkipped)] += len(ups) - written
	sum.Rewrapped += int64(written)
	sum.Skipped += int64(len(ups) - written)
	for st, n := range counts {
		s.metrics.add(pos.Table, st, n)
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		if pos.Table == TableCredential {
			pos.AfterID, sum.LastID = &last.ID, last.ID
		} else {
			key := last.CacheKey
			pos.AfterKey, sum.LastCacheKey = &key, &key
		}
	}
	return len(rows), nil
}

func rowName(r row) string {
	if r.CacheKey != "" {
		return r.CacheKey
	}
	return strconv.FormatInt(r.ID, 10)
}

// KeyStatus counts each table's rows per dek.kv; a value that is not a well-formed stored
// envelope (legacy plaintext, truncation, not JSON at all) counts as "invalid" instead of
// failing the whole call as upstream's SQL cast did.
func (s *Service) KeyStatus(ctx context.Context) (map[string]any, error) {
	out := map[string]any{}
	for _, t := range Tables {
		counts := map[string]int64{}
		err := s.store.EachValue(ctx, t, func(stored string) {
			counts[envelope.KeyVersionLabel(stored)]++
		})
		if err != nil {
			return nil, err
		}
		out[string(t)] = counts
	}
	if v := s.ring.CurrentKeyVersion(); v != "" {
		out["current_key_version"] = v
	}
	return out, nil
}
