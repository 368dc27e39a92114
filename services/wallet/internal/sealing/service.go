// Package sealing delivers credentials sealed to one X25519 public key (reference/
// wallet.md §3): GET /api/credentials/{identifier}/sealed seals to the key a worker pool
// registered (looked up from the api), and POST /internal/wallet/seal seals to a key the
// caller supplies (the cross-region broker serving a peer's worker). The plaintext is the
// exact JSON GET /api/credentials/{identifier}?include_data=true answers.
package sealing

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noetl/controlplane/services/wallet/internal/audit"
	"github.com/noetl/controlplane/services/wallet/internal/credentials"
	"github.com/noetl/controlplane/shared/crypto/sealed"
	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/jsonx"
	"github.com/noetl/controlplane/shared/wire"
)

// Statuses of noetl_credentials_sealed_total (reference/wallet.md §8).
const (
	StatusOK                 = "ok"
	StatusOKViaBroker        = "ok_via_broker"
	StatusNoPubkey           = "no_pubkey"
	StatusWorkerNotFound     = "worker_not_found"
	StatusResidencyViolation = "residency_violation"
	StatusCredentialError    = "credential_error"
	StatusSealError          = "seal_error"
)

var statuses = []string{StatusOK, StatusOKViaBroker, StatusNoPubkey, StatusWorkerNotFound,
	StatusResidencyViolation, StatusCredentialError, StatusSealError}

// Metrics is noetl_credentials_sealed_total.
type Metrics struct{ sealed *prometheus.CounterVec }

// NewMetrics registers the counter with every status at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{sealed: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "noetl_credentials_sealed_total",
		Help: "GET /api/credentials/{id}/sealed calls by outcome status.",
	}, []string{"status"})}
	reg.MustRegister(m.sealed)
	for _, s := range statuses {
		m.sealed.WithLabelValues(s)
	}
	return m
}

func (m *Metrics) inc(status string) {
	if m != nil {
		m.sealed.WithLabelValues(status).Inc()
	}
}

// WorkerKeys finds a worker pool's registered sealing key (internalapi.API).
type WorkerKeys interface {
	WorkerPublicKey(ctx context.Context, worker string) (key string, found bool, err error)
}

// Resolver resolves and audits a credential (credentials.Service).
type Resolver interface {
	Resolve(ctx context.Context, req credentials.ResolveRequest) (credentials.Response, error)
}

// Auditor records resolutions that end before the credential is looked up.
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Service seals credentials.
type Service struct {
	keys    WorkerKeys
	creds   Resolver
	audit   Auditor
	metrics *Metrics
}

// NewService wires the service.
func NewService(keys WorkerKeys, creds Resolver, aud Auditor, m *Metrics) *Service {
	return &Service{keys: keys, creds: creds, audit: aud, metrics: m}
}

// WorkerRequest is one sealed fetch by a worker.
type WorkerRequest struct {
	Identifier        string
	WorkerID          string
	ExecutionID       *int64
	ParentExecutionID *int64
}

// ForWorker seals the credential to the worker's registered key, in upstream's order: key
// lookup, credential resolution, serialisation, sealing; each failure has upstream's
// message and metric status.
func (s *Service) ForWorker(ctx context.Context, req WorkerRequest) (sealed.Envelope, error) {
	ev := audit.Event{
		Credential: req.Identifier, Operation: audit.OpGetSealed, WorkerID: audit.Str(req.WorkerID),
		ExecutionID: req.ExecutionID, ParentExecutionID: req.ParentExecutionID,
	}
	keyB64, found, err := s.keys.WorkerPublicKey(ctx, req.WorkerID)
	if err != nil {
		s.metrics.inc(StatusWorkerNotFound)
		ev.Outcome, ev.Notes = audit.OutcomeError, audit.Str("worker key lookup failed")
		_ = s.audit.Record(ctx, ev)
		return sealed.Envelope{}, &httpx.Error{Status: http.StatusBadGateway,
			Msg: fmt.Sprintf("could not look up worker '%s' sealing pubkey from the api: %v", req.WorkerID, err), Err: err}
	}
	if !found {
		s.metrics.inc(StatusNoPubkey)
		ev.Outcome = audit.OutcomeNoPubkey
		_ = s.audit.Record(ctx, ev)
		return sealed.Envelope{}, httpx.BadRequest("worker '%s' did not register a sealing pubkey (worker_public_key missing from the noetl.runtime row, or the worker_pool row doesn't exist)", req.WorkerID)
	}
	pub, err := sealed.ParsePublicKey(keyB64)
	if err != nil {
		// Upstream counts a malformed registered key as worker_not_found.
		s.metrics.inc(StatusWorkerNotFound)
		ev.Outcome, ev.Notes = audit.OutcomeNoPubkey, audit.Str("registered worker_public_key is malformed")
		_ = s.audit.Record(ctx, ev)
		return sealed.Envelope{}, httpx.BadRequest("worker '%s' worker_public_key %v", req.WorkerID, err)
	}
	cred, err := s.creds.Resolve(ctx, credentials.ResolveRequest{
		Identifier: req.Identifier, Operation: audit.OpGetSealed, WorkerID: req.WorkerID,
		ExecutionID: req.ExecutionID, ParentExecutionID: req.ParentExecutionID,
	})
	if err != nil {
		s.metrics.inc(StatusCredentialError)
		return sealed.Envelope{}, err
	}
	env, err := seal(pub, cred, "sealed get")
	if err != nil {
		s.metrics.inc(StatusSealError)
		return sealed.Envelope{}, err
	}
	s.metrics.inc(StatusOK)
	return env, nil
}

// seal serialises the credential exactly as GET answers it and seals it to pub.
func seal(pub *ecdh.PublicKey, cred credentials.Response, prefix string) (sealed.Envelope, error) {
	plain, err := jsonx.Marshal(cred)
	clear(cred.Data)
	if err != nil {
		return sealed.Envelope{}, httpx.Internal(prefix+": serialize credential", err)
	}
	defer clear(plain)
	env, err := sealed.Seal(pub, plain)
	if err != nil {
		// sealed errors never quote plaintext or keys.
		return sealed.Envelope{}, httpx.Internal(fmt.Sprintf("%s: %v", prefix, err), err)
	}
	return env, nil
}

// KeyRequest is the body of POST /internal/wallet/seal: resolve a credential here and seal
// it to a public key the caller supplies (the cross-region broker serving a peer's
// worker). Field names follow upstream's cross-region resolve request; identifier is
// accepted for alias.
type KeyRequest struct {
	Alias               string   `json:"alias"`
	Identifier          string   `json:"identifier"`
	WorkerPublicKeyB64  string   `json:"worker_public_key_b64"`
	WorkerID            string   `json:"worker_id"`
	ExecutionID         *wire.ID `json:"execution_id"`
	ParentExecutionID   *wire.ID `json:"parent_execution_id"`
	BrokerRegion        string   `json:"broker_region"`
	RequestingRegion    string   `json:"requesting_region"`
	ExpectedEntryRegion string   `json:"expected_entry_region"`
}

// ErrBadPubkey marks an unusable worker_public_key_b64.
var ErrBadPubkey = errors.New("invalid worker_public_key_b64")

// ToKey seals a credential to the supplied key and records a cross_region_broker_serve
// audit row. The region check and broker metrics belong to the broker service in front.
func (s *Service) ToKey(ctx context.Context, req KeyRequest) (sealed.Envelope, error) {
	alias := req.Alias
	if alias == "" {
		alias = req.Identifier
	}
	switch {
	case alias == "":
		return sealed.Envelope{}, httpx.Validation(`field "alias" is required`)
	case req.WorkerPublicKeyB64 == "":
		return sealed.Envelope{}, httpx.Validation(`field "worker_public_key_b64" is required`)
	case req.WorkerID == "":
		return sealed.Envelope{}, httpx.Validation(`field "worker_id" is required`)
	}
	pub, err := parseSuppliedKey(req.WorkerPublicKeyB64)
	if err != nil {
		return sealed.Envelope{}, httpx.BadRequest("cross-region: %v", err)
	}
	cred, err := s.creds.Resolve(ctx, credentials.ResolveRequest{
		Identifier: alias, Operation: audit.OpCrossRegionBroker, WorkerID: req.WorkerID,
		ExecutionID: optID(req.ExecutionID), ParentExecutionID: optID(req.ParentExecutionID), BrokerRegion: req.BrokerRegion,
	})
	if err != nil {
		return sealed.Envelope{}, err
	}
	return seal(pub, cred, "cross-region seal")
}

// parseSuppliedKey is upstream's broker-side check: the key is trimmed, then must be
// standard base64 of 32 bytes. Messages follow upstream's wording.
func parseSuppliedKey(b64 string) (*ecdh.PublicKey, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: base64 decode: %v", ErrBadPubkey, err)
	}
	if len(raw) != sealed.KeySize {
		return nil, fmt.Errorf("%w: expected %d bytes, got %d", ErrBadPubkey, sealed.KeySize, len(raw))
	}
	return sealed.ParsePublicKey(base64.StdEncoding.EncodeToString(raw))
}

func optID(id *wire.ID) *int64 {
	if id == nil {
		return nil
	}
	v := int64(*id)
	return &v
}
