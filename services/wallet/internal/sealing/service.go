// Package sealing delivers credentials sealed to one X25519 public key (docs/wallet.md,
// section 5): GET /api/credentials/{identifier}/sealed seals to the key a worker pool
// registered (looked up from the api), and POST /internal/wallet/seal seals to a key the
// caller supplies (the cross-region broker serving a peer's worker). The plaintext is the
// exact JSON GET /api/credentials/{identifier}?include_data=true answers.
package sealing

import "context"
import "crypto/ecdh"
import "errors"
import "fmt"
import "net/http"

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/credentials"
import "github.com/noetl/controlplane/services/wallet/internal/crossregion"
import "github.com/noetl/controlplane/services/wallet/internal/residency"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/promx"
import "github.com/noetl/controlplane/shared/wire"

// Statuses of noetl_credentials_sealed_total (the wallet README's metrics table).
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
	m := &Metrics{sealed: promx.CounterVec(reg, "noetl_credentials_sealed_total",
		"GET /api/credentials/{id}/sealed calls by outcome status.",
		"status")}
	promx.Zero(m.sealed, statuses)
	return m
}

func (m *Metrics) inc(status string) {
	if m != nil {
		m.sealed.WithLabelValues(status).Inc()
	}
}

// WorkerKeys finds a worker pool's registered sealing key (apiclient.Client).
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

// Broker forwards a residency-denied sealed fetch to the broker of the secret's home
// region (crossregion.Client).
type Broker interface {
	Has(region string) bool
	Forward(ctx context.Context, region string, req internalapi.CrossRegionRequest) (sealed.Envelope, error)
}

// Service seals credentials.
type Service struct {
	keys    WorkerKeys
	creds   Resolver
	audit   Auditor
	metrics *Metrics
	broker  Broker
}

// NewService wires the service. broker may be nil (no cross-region fallback).
func NewService(keys WorkerKeys, creds Resolver, aud Auditor, m *Metrics, broker Broker) *Service {
	return &Service{keys: keys, creds: creds, audit: aud, metrics: m, broker: broker}
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
	var denied *residency.Violation
	if errors.As(err, &denied) {
		return s.viaBroker(ctx, req, keyB64, denied, ev, err)
	}
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

// viaBroker is the cross-region fallback of a strict residency denial: unless the entry
// opts out (no_broker_fallback) or no broker serves its region, the broker of the
// entry's home region resolves the credential there and seals it to the worker's key,
// and its envelope is answered unchanged. The cleartext never enters this region.
func (s *Service) viaBroker(ctx context.Context, req WorkerRequest, keyB64 string, v *residency.Violation, ev audit.Event, denial error) (sealed.Envelope, error) {
	if v.Entry.NoBrokerFallback || s.broker == nil || !s.broker.Has(v.EntryRegion) {
		s.metrics.inc(StatusResidencyViolation)
		return sealed.Envelope{}, denial
	}
	env, err := s.broker.Forward(ctx, v.EntryRegion, internalapi.CrossRegionRequest{
		Alias: req.Identifier, WorkerPublicKeyB64: keyB64, WorkerID: req.WorkerID,
		ExecutionID: wireID(req.ExecutionID), ParentExecutionID: wireID(req.ParentExecutionID),
		KeychainEntry: &v.Entry,
	})
	ev.BrokerRegion = audit.Str(v.EntryRegion)
	if err != nil {
		s.metrics.inc(StatusResidencyViolation)
		switch o := crossregion.OutcomeOf(err); o {
		case internalapi.BrokerWrongRegion:
			ev.Outcome = audit.OutcomeWrongRegion
		case internalapi.BrokerUnreachable:
			ev.Outcome = audit.OutcomeBrokerUnreachable
		default:
			ev.Outcome, ev.Notes = audit.OutcomeError, audit.Str("cross-region broker outcome "+o)
		}
		_ = s.audit.Record(ctx, ev)
		return sealed.Envelope{}, err
	}
	ev.Outcome, ev.Notes = audit.OutcomeOK, audit.Str("sealed by the cross-region broker of "+v.EntryRegion)
	_ = s.audit.Record(ctx, ev) // the value never passed through here: nothing to withhold
	s.metrics.inc(StatusOKViaBroker)
	return env, nil
}

func wireID(id *int64) *wire.ID {
	if id == nil {
		return nil
	}
	v := wire.ID(*id)
	return &v
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
// worker). It is the cross-region resolve request, passed on by the broker; identifier
// is accepted for alias. A keychain_entry from the peer is resolved as given when the
// alias is not a stored credential here.
type KeyRequest struct {
	internalapi.CrossRegionRequest
	Identifier string `json:"identifier"`
}

// ToKey seals a credential to the supplied key and records a cross_region_broker_serve
// audit row. The region check and broker metrics belong to the broker service in front.
func (s *Service) ToKey(ctx context.Context, req KeyRequest) (sealed.Envelope, error) {
	alias := req.Alias
	if alias == "" {
		alias = req.Identifier
	}
	switch {
	case req.Alias != "" && req.Identifier != "" && req.Alias != req.Identifier:
		// Two names for one credential: which is released must not depend on which
		// field the code happens to prefer.
		return sealed.Envelope{}, httpx.Validation(`fields "alias" and "identifier" name different credentials; send one`)
	case alias == "":
		return sealed.Envelope{}, httpx.Validation(`field "alias" is required`)
	case req.KeychainEntry != nil && req.KeychainEntry.Name != alias:
		// The entry is the alias's own (the api finds it by that exact name); another
		// one would release what it names under the alias in the audit trail.
		return sealed.Envelope{}, httpx.Validation(`field "keychain_entry": its name is not the alias`)
	case req.WorkerPublicKeyB64 == "":
		return sealed.Envelope{}, httpx.Validation(`field "worker_public_key_b64" is required`)
	case req.WorkerID == "":
		return sealed.Envelope{}, httpx.Validation(`field "worker_id" is required`)
	}
	pub, err := sealed.ParseSuppliedKey(req.WorkerPublicKeyB64)
	if err != nil {
		return sealed.Envelope{}, httpx.BadRequest("cross-region: %v", err)
	}
	cred, err := s.creds.Resolve(ctx, credentials.ResolveRequest{
		Identifier: alias, Operation: audit.OpCrossRegionBroker, WorkerID: req.WorkerID,
		ExecutionID: optID(req.ExecutionID), ParentExecutionID: optID(req.ParentExecutionID), BrokerRegion: req.BrokerRegion,
		Entry: req.KeychainEntry,
	})
	if err != nil {
		return sealed.Envelope{}, err
	}
	return seal(pub, cred, "cross-region seal")
}

func optID(id *wire.ID) *int64 {
	if id == nil {
		return nil
	}
	v := int64(*id)
	return &v
}
