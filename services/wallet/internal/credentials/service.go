// Package credentials serves /api/credentials: stored credentials encrypted at rest in
// stored envelopes, listed and read without their data unless include_data=true, and
// resolved (decrypted and audited) through one method, Resolve, that every surface
// releasing a value goes through: the plain GET, sealed delivery and the broker seal.
package credentials

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/residency"
import "github.com/noetl/controlplane/services/wallet/internal/resolve"
import "github.com/noetl/controlplane/services/wallet/internal/strictjson"
import "github.com/noetl/controlplane/shared/credauth"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// Envelopes encrypts and decrypts stored values (keyring.Ring).
type Envelopes interface {
	Seal(ctx context.Context, plaintext []byte) (string, error)
	Open(ctx context.Context, stored string) ([]byte, error)
}

// IDSource mints credential ids.
type IDSource interface {
	Next() (int64, error)
}

// Keychain resolves an alias the store does not hold through a playbook keychain entry
// and its secret provider (resolve.Resolver).
type Keychain interface {
	ForExecution(ctx context.Context, alias string, executionID int64) (resolve.Result, error)
	ForEntry(ctx context.Context, e internalapi.KeychainEntry) (resolve.Result, error)
}

// Response is upstream's CredentialResponse, field order included. Optional fields are
// omitted, never null; tags is omitted only when NULL (an empty list stays []).
type Response struct {
	ID          wire.StringID   `json:"id"`
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Meta        json.RawMessage `json:"meta,omitempty"`
	Tags        []string        `json:"tags,omitzero"`
	Description *string         `json:"description,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	CreatedAt   wire.Time       `json:"created_at"`
	UpdatedAt   wire.Time       `json:"updated_at"`
}

func toResponse(r Row) Response {
	return Response{
		ID: wire.StringID(r.ID), Name: r.Name, Type: r.Type, Meta: r.Meta, Tags: r.Tags,
		Description: r.Description, CreatedAt: wire.Time(r.CreatedAt), UpdatedAt: wire.Time(r.UpdatedAt),
	}
}

// Service is the credential logic.
type Service struct {
	store    *Store
	env      Envelopes
	audit    audit.EventRecorder
	ids      IDSource
	keychain Keychain
	now      func() time.Time
}

// NewService wires the service. keychain may be nil: a miss is then always a 404.
func NewService(store *Store, env Envelopes, aud audit.EventRecorder, ids IDSource, keychain Keychain) *Service {
	return &Service{store: store, env: env, audit: aud, ids: ids, keychain: keychain, now: time.Now}
}

// CreateRequest is upstream's CredentialCreateRequest.
type CreateRequest struct {
	Name        *string         `json:"name"`
	Type        *string         `json:"type"`
	Data        json.RawMessage `json:"data"`
	Meta        json.RawMessage `json:"meta"`
	Tags        []string        `json:"tags"`
	Description *string         `json:"description"`
}

// appliedTypes are the credential types (lower case) the worker turns into tool
// settings, reading named fields of data: postgres connections and http auth headers
// (applyCredential in services/worker/internal/credentials/credentials.go).
var appliedTypes = map[string]bool{
	"postgres": true, "postgresql": true,
	"bearer": true, "bearer_token": true, "token": true, "oauth2": true,
	"basic": true, "api_key": true, "apikey": true,
}

// headerTypes are the http credential types whose data must hold the field the worker
// builds the header from (shared/credauth). `token` and `oauth2`, which the worker applies
// as bearer too, are left out: as names they also hold other shapes (an OAuth client's
// id and secret that a step's templates read), which only fail if a step applies them.
var headerTypes = map[string]bool{"bearer": true, "bearer_token": true, "basic": true, "api_key": true, "apikey": true}

// Upsert creates the credential or replaces the one with the same name. The answer never
// carries data.
func (s *Service) Upsert(ctx context.Context, req CreateRequest) (Response, error) {
	switch {
	case req.Name == nil || *req.Name == "":
		return Response{}, httpx.Validation(`field "name" is required`)
	case req.Type == nil || *req.Type == "":
		return Response{}, httpx.Validation(`field "type" is required`)
	case jsonx.Absent(req.Data): // null data would be sealed and delivered as nothing
		return Response{}, httpx.Validation(`field "data" is required`)
	}
	// A step names its credential and the worker matches the type exactly (in any case):
	// " pg" or "bearer " would be stored, listed, and then never found or applied.
	for _, f := range []struct{ field, v string }{{"name", *req.Name}, {"type", *req.Type}} {
		switch strings.TrimSpace(f.v) {
		case f.v:
		case "":
			return Response{}, httpx.Validation("field %q is blank", f.field)
		default:
			return Response{}, httpx.Validation("field %q must not begin or end with white space", f.field)
		}
	}
	if !jsonx.Absent(req.Meta) && !strictjson.IsObject(req.Meta) {
		// Upstream's request types meta as an object; anything else was stored and
		// served back in a shape no client of the listing expects.
		return Response{}, httpx.Validation(`field "meta" must be an object or null`)
	}
	if appliedTypes[strings.ToLower(*req.Type)] && !strictjson.IsObject(req.Data) {
		// Stored as given, it would fail only when a step runs, with the worker's
		// "needs data.token"; the type and the value are not quoted (the value is a secret).
		return Response{}, httpx.Validation(`field "data" must be an object for this credential type`)
	}
	if headerTypes[strings.ToLower(*req.Type)] {
		// Without the field its header is built from, every step using it would fail.
		var fields map[string]any
		if err := json.Unmarshal(req.Data, &fields); err != nil {
			return Response{}, httpx.Validation(`field "data" is not valid JSON`)
		}
		_, _, err := credauth.HTTPHeader(*req.Type, fields)
		clear(fields)
		if err != nil {
			return Response{}, httpx.Validation(`field "data": %v`, err)
		}
	}
	var plain bytes.Buffer
	if err := json.Compact(&plain, req.Data); err != nil {
		return Response{}, httpx.Validation(`field "data" is not valid JSON`)
	}
	defer clear(plain.Bytes())
	stored, err := s.env.Seal(ctx, plain.Bytes())
	if err != nil {
		return Response{}, err
	}
	id, err := s.ids.Next()
	if err != nil {
		return Response{}, httpx.Internal("could not mint a credential id", err)
	}
	row, err := s.store.Upsert(ctx, id, *req.Name, *req.Type, stored, strictjson.NullableText(req.Meta), req.Tags, req.Description)
	if err != nil {
		return Response{}, err
	}
	return toResponse(row), nil
}

// ListResponse is upstream's CredentialListResponse.
type ListResponse struct {
	Items  []Response  `json:"items"`
	Filter *ListFilter `json:"filter,omitempty"`
}

// MarshalJSON of ListFilter omits absent keys.
func (f ListFilter) MarshalJSON() ([]byte, error) {
	m := map[string]string{}
	if f.Type != "" {
		m["type"] = f.Type
	}
	if f.Q != "" {
		m["q"] = f.Q
	}
	return json.Marshal(m)
}

// List returns credentials without data, newest first.
func (s *Service) List(ctx context.Context, f ListFilter) (ListResponse, error) {
	rows, err := s.store.List(ctx, f)
	if err != nil {
		return ListResponse{}, err
	}
	out := ListResponse{Items: make([]Response, 0, len(rows))}
	for _, r := range rows {
		out.Items = append(out.Items, toResponse(r))
	}
	if f.Type != "" || f.Q != "" {
		out.Filter = &f
	}
	return out, nil
}

func notFound(identifier string) error {
	return httpx.NotFound("Credential '%s' not found", identifier)
}

// Get returns a credential without data (no audit: nothing is released).
func (s *Service) Get(ctx context.Context, identifier string) (Response, error) {
	row, err := s.store.Find(ctx, identifier, false)
	if errors.Is(err, ErrNotFound) {
		return Response{}, notFound(identifier)
	}
	if err != nil {
		return Response{}, err
	}
	return toResponse(row), nil
}

// Delete removes a credential and returns its id.
func (s *Service) Delete(ctx context.Context, identifier string) (wire.StringID, error) {
	id, err := s.store.Delete(ctx, identifier)
	if errors.Is(err, ErrNotFound) {
		return 0, notFound(identifier)
	}
	return wire.StringID(id), err
}

// ResolveRequest is one request for a credential's value.
type ResolveRequest struct {
	Identifier        string
	Operation         audit.Operation
	WorkerID          string
	ExecutionID       *int64
	ParentExecutionID *int64
	BrokerRegion      string
	// Entry is a keychain entry a peer region sent with a cross-region request: on a
	// miss it is resolved as given instead of asking this region's api.
	Entry *internalapi.KeychainEntry
}

// Resolve returns the credential with its decrypted data and records the resolution in
// the secret audit. Every path that releases a value goes through here. In strict audit
// mode the audit row is written before the value is returned, and a failed write fails
// the call.
//
// An alias the store does not hold is resolved through the keychain when the request
// names an execution (or carries a peer's entry): the execution's playbook keychain
// entry, the residency gate, the entry's secret provider (package resolve).
func (s *Service) Resolve(ctx context.Context, req ResolveRequest) (Response, error) {
	ev := audit.Event{
		Credential: req.Identifier, Operation: req.Operation, WorkerID: audit.Str(req.WorkerID),
		ExecutionID: req.ExecutionID, ParentExecutionID: req.ParentExecutionID,
		BrokerRegion: audit.Str(req.BrokerRegion),
	}
	row, err := s.store.Find(ctx, req.Identifier, true)
	if errors.Is(err, ErrNotFound) {
		if s.keychain != nil && (req.Entry != nil || req.ExecutionID != nil) {
			return s.resolveKeychain(ctx, req, ev)
		}
		ev.Outcome = audit.OutcomeNotFound
		_ = s.audit.Record(ctx, ev) // nothing is released: a failed strict write changes nothing
		return Response{}, notFound(req.Identifier)
	}
	if err != nil {
		return Response{}, err
	}
	// The row names the credential by its name whatever the caller asked with, so that
	// an auditor finds every release of one credential under one name.
	ev.Credential, ev.Notes = row.Name, audit.Str(byIDNote(req.Identifier, row))
	ev.KEKVersion = audit.Str(envelope.KeyVersionLabel(row.DataEncrypted))
	data, err := s.env.Open(ctx, row.DataEncrypted)
	if err != nil {
		ev.Outcome, ev.Notes = audit.OutcomeError, audit.Str(joinNotes("stored value could not be decrypted", byIDNote(req.Identifier, row)))
		_ = s.audit.Record(ctx, ev)
		return Response{}, err
	}
	if err := audit.RecordRelease(ctx, s.audit, ev, data); err != nil {
		return Response{}, err
	}
	resp := toResponse(row)
	resp.Data = data
	return resp, nil
}

// byIDNote is the audit note of a credential found by its id rather than its name
// (the identifier is an id first, then a name): the row is recorded under the name, and
// the note keeps the id the caller used. Empty when the name matched.
func byIDNote(identifier string, row Row) string {
	if identifier == row.Name || identifier != strconv.FormatInt(row.ID, 10) {
		return ""
	}
	return "requested by id " + identifier
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var parts []string
	for _, n := range notes {
		if n != "" {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "; ")
}

// indirect reads the stored credential a provider-less keychain entry names (its
// `credential:`), by id or name, for the alias. The stored credential itself is never
// resolved through the keychain again: one indirection, no loops. ev gets the outcome
// of a failure, and the notes and key version of a success.
func (s *Service) indirect(ctx context.Context, alias, name string, ev *audit.Event) ([]byte, error) {
	ev.Notes = audit.Str("keychain credential indirection to '" + name + "'")
	row, err := s.store.Find(ctx, name, true)
	if errors.Is(err, ErrNotFound) {
		ev.Outcome = audit.OutcomeNotFound
		_ = s.audit.Record(ctx, *ev)
		return nil, httpx.NotFound("keychain '%s': credential '%s' not found", alias, name)
	}
	if err != nil {
		return nil, err
	}
	// As for a direct read, the target is named by its name; an id the playbook used
	// stays in the note.
	note := joinNotes("keychain credential indirection to '"+row.Name+"'", byIDNote(name, row))
	ev.Notes = audit.Str(note)
	ev.KEKVersion = audit.Str(envelope.KeyVersionLabel(row.DataEncrypted))
	data, err := s.env.Open(ctx, row.DataEncrypted)
	if err != nil {
		ev.Outcome, ev.Notes = audit.OutcomeError, audit.Str(note+": stored value could not be decrypted")
		_ = s.audit.Record(ctx, *ev)
		return nil, err
	}
	return data, nil
}

// keychainDescription is the description of a value resolved from a keychain provider
// (upstream's synthetic credential).
const keychainDescription = "resolved from keychain provider"

// resolveKeychain answers a store miss from the keychain, in upstream's synthetic
// credential shape: id "0", type "keychain", data a JSON string or an object of strings
// (a provider entry) or the named stored credential's data (a `credential:` entry).
func (s *Service) resolveKeychain(ctx context.Context, req ResolveRequest, ev audit.Event) (Response, error) {
	var res resolve.Result
	var err error
	if req.Entry != nil {
		res, err = s.keychain.ForEntry(ctx, *req.Entry)
	} else {
		res, err = s.keychain.ForExecution(ctx, req.Identifier, *req.ExecutionID)
	}
	if errors.Is(err, resolve.ErrNoEntry) {
		ev.Outcome = audit.OutcomeNotFound
		_ = s.audit.Record(ctx, ev)
		return Response{}, notFound(req.Identifier)
	}
	if err != nil {
		var v *residency.Violation
		switch {
		case errors.As(err, &v):
			ev.Outcome, ev.Notes = audit.OutcomeResidency, audit.Str("region-locked to "+v.EntryRegion)
		case errors.Is(err, resolve.ErrTemplate):
			ev.Outcome = audit.OutcomeTemplateError
		default:
			ev.Outcome, ev.Notes = audit.OutcomeProviderFetchError, audit.Str("keychain provider fetch failed")
		}
		_ = s.audit.Record(ctx, ev)
		return Response{}, err
	}
	if res.Credential != "" {
		if res.Data, err = s.indirect(ctx, req.Identifier, res.Credential, &ev); err != nil {
			return Response{}, err
		}
	} else {
		note := "keychain provider " + res.Provider
		if res.Region != "" {
			note += " region " + res.Region
		}
		if res.Cached {
			note += " (keychain cache)"
		}
		ev.Notes = audit.Str(note)
	}
	if err := audit.RecordRelease(ctx, s.audit, ev, res.Data); err != nil {
		return Response{}, err
	}
	now := wire.Time(s.now().UTC())
	desc := keychainDescription
	return Response{ID: 0, Name: req.Identifier, Type: "keychain", Description: &desc, Data: res.Data, CreatedAt: now, UpdatedAt: now}, nil
}
