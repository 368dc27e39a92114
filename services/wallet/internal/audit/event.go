// Package audit records every credential resolution in secret_audit (seed: "Secret-
// resolution audit service") and serves GET /api/internal/secret-audit.
//
// Writes are asynchronous by default: a bounded queue drained by one goroutine, so a slow
// or broken audit table never delays a credential. With NOETL_SECRET_AUDIT_REQUIRED the
// write is synchronous and happens before the value is released; a failed write withholds
// the value. Notes and every other field are bounded strings chosen by code, never the
// value.
package audit

import "slices"
import "time"

import "github.com/noetl/controlplane/shared/wire"

// Operation is what resolved the credential (bounded enum).
type Operation string

const (
	OpGetCredential     Operation = "get_credential"
	OpGetSealed         Operation = "get_sealed"
	OpResolveKeychain   Operation = "resolve_keychain"
	OpCrossRegionBroker Operation = "cross_region_broker_serve"
)

// Operations lists every operation, for metric pre-registration.
var Operations = []Operation{OpGetSealed, OpCrossRegionBroker, OpResolveKeychain, OpGetCredential}

// Outcome is how the resolution ended (bounded enum). OutcomeError is this suite's one
// "other" label: decryption failures and the like.
type Outcome string

const (
	OutcomeOK                 Outcome = "ok"
	OutcomeResidency          Outcome = "residency_violation"
	OutcomeBrokerUnreachable  Outcome = "broker_unreachable"
	OutcomeNotFound           Outcome = "credential_not_found"
	OutcomeNoPubkey           Outcome = "no_pubkey"
	OutcomeWrongRegion        Outcome = "wrong_region"
	OutcomeProviderFetchError Outcome = "provider_fetch_error"
	OutcomeTemplateError      Outcome = "template_error"
	OutcomeError              Outcome = "error"
)

// Outcomes lists every outcome, for metric pre-registration.
var Outcomes = []Outcome{
	OutcomeOK, OutcomeResidency, OutcomeBrokerUnreachable, OutcomeNotFound, OutcomeNoPubkey,
	OutcomeWrongRegion, OutcomeProviderFetchError, OutcomeTemplateError, OutcomeError,
}

func validOperation(o Operation) bool { return slices.Contains(Operations, o) }

func validOutcome(o Outcome) bool { return slices.Contains(Outcomes, o) }

// Event is one audit row: the documented audit fields (docs/wallet.md), field for field.
type Event struct {
	AuditID           int64     `json:"audit_id"`
	OccurredAt        wire.Time `json:"occurred_at"`
	Credential        string    `json:"credential"`
	Operation         Operation `json:"operation"`
	Outcome           Outcome   `json:"outcome"`
	WorkerID          *string   `json:"worker_id,omitempty"`
	ExecutionID       *int64    `json:"execution_id,omitempty"`
	ParentExecutionID *int64    `json:"parent_execution_id,omitempty"`
	ServerRegion      *string   `json:"server_region,omitempty"`
	BrokerRegion      *string   `json:"broker_region,omitempty"`
	KEKVersion        *string   `json:"kek_version,omitempty"`
	Notes             *string   `json:"notes,omitempty"`
}

// Time returns OccurredAt as a time.Time.
func (e Event) Time() time.Time { return time.Time(e.OccurredAt) }

// Str returns a pointer to s, or nil for "" (optional text columns).
func Str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
