// Package keychain serves /api/keychain: the per-catalog cache of resolved secrets,
// encrypted at rest like credentials, keyed by upstream's cache-key rules. An entry
// written without an expiry never expires (upstream failed such a write with a 500).
package keychain

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "strconv"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/strictjson"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// Scopes of an entry; the table's CHECK constraint allows exactly these.
const (
	ScopeLocal  = "local"
	ScopeGlobal = "global"
	ScopeShared = "shared"
)

// ParseScope validates scope_type ("" is the default, global). Upstream collapsed unknown
// scopes to the global key on reads and failed writes with a 500 from the CHECK
// constraint; here a body's unknown scope is a 422 (the query of GET and DELETE answers
// 400 before it gets here, as every query filter does).
func ParseScope(s string) (string, error) {
	switch s {
	case "":
		return ScopeGlobal, nil
	case ScopeLocal, ScopeGlobal, ScopeShared:
		return s, nil
	default:
		return "", httpx.Validation("scope_type %q is not one of local, global, shared", s)
	}
}

// CacheKey is upstream's build_cache_key.
func CacheKey(name string, catalogID int64, scope string, executionID *int64) string {
	cat := strconv.FormatInt(catalogID, 10)
	switch scope {
	case ScopeLocal:
		if executionID != nil {
			return name + ":" + cat + ":" + strconv.FormatInt(*executionID, 10)
		}
		return name + ":" + cat + ":local"
	case ScopeShared:
		if executionID != nil {
			return name + ":" + cat + ":shared:" + strconv.FormatInt(*executionID, 10)
		}
		return name + ":" + cat + ":shared"
	default:
		return name + ":" + cat + ":global"
	}
}

// Envelopes encrypts and decrypts stored values (keyring.Ring).
type Envelopes interface {
	Seal(ctx context.Context, plaintext []byte) (string, error)
	Open(ctx context.Context, stored string) ([]byte, error)
}

// Catalog says whether a catalog entry exists (the api answers; the catalog is its table).
type Catalog interface {
	CatalogExists(ctx context.Context, catalogID int64) (bool, error)
}

// Service is the keychain logic.
type Service struct {
	store   *Store
	env     Envelopes
	audit   audit.EventRecorder
	catalog Catalog
	now     func() time.Time
}

// NewService wires the service.
func NewService(store *Store, env Envelopes, aud audit.EventRecorder, catalog Catalog) *Service {
	return &Service{store: store, env: env, audit: aud, catalog: catalog, now: time.Now}
}

// Key addresses one entry.
type Key struct {
	CatalogID   int64
	Name        string
	Scope       string // validated
	ExecutionID *int64
}

func (k Key) cacheKey() string { return CacheKey(k.Name, k.CatalogID, k.Scope, k.ExecutionID) }

// ExecutionScoped reports whether the entry belongs to one execution: local or shared
// with an execution id. The resolver caches provider secrets in such an entry, and a
// running execution reads it, so only the worker token may write one (docs/security.md,
// "Keychain writes into an execution").
func (k Key) ExecutionScoped() bool { return k.Scope != ScopeGlobal && k.ExecutionID != nil }

// GetResponse is upstream's keychain GET answer; fields are omitted when null.
type GetResponse struct {
	Status      string          `json:"status"`
	Data        json.RawMessage `json:"data,omitempty"`
	ExpiresAt   *wire.Time      `json:"expires_at,omitempty"`
	AutoRenew   *bool           `json:"auto_renew,omitempty"`
	AccessCount *int64          `json:"access_count,omitempty"`
}

// Get resolves an entry: not_found, expired (not decrypted, not deleted) or found with its
// data. A found entry is audited (resolve_keychain) before the value is released, and only
// then counted as an access.
func (s *Service) Get(ctx context.Context, k Key) (GetResponse, error) {
	key := k.cacheKey()
	ev := audit.Event{
		Credential: k.Name, Operation: audit.OpResolveKeychain, ExecutionID: k.ExecutionID,
		Notes: audit.Str(fmt.Sprintf("catalog_id=%d scope_type=%s", k.CatalogID, k.Scope)),
	}
	e, err := s.store.Read(ctx, key)
	if errors.Is(err, ErrNotFound) {
		ev.Outcome = audit.OutcomeNotFound
		_ = s.audit.Record(ctx, ev)
		return GetResponse{Status: "not_found"}, nil
	}
	if err != nil {
		return GetResponse{}, err
	}
	ev.KEKVersion = audit.Str(envelope.KeyVersionLabel(e.DataEncrypted))
	if e.Expired {
		ev.Outcome = audit.OutcomeNotFound
		ev.Notes = audit.Str(*ev.Notes + " expired")
		_ = s.audit.Record(ctx, ev)
		return GetResponse{Status: "expired", ExpiresAt: wire.TimePtr(e.ExpiresAt), AutoRenew: &e.AutoRenew, AccessCount: &e.AccessCount}, nil
	}
	data, err := s.env.Open(ctx, e.DataEncrypted)
	if err != nil {
		ev.Outcome = audit.OutcomeError
		ev.Notes = audit.Str(*ev.Notes + " stored value could not be decrypted")
		_ = s.audit.Record(ctx, ev)
		return GetResponse{}, err
	}
	if err := audit.RecordRelease(ctx, s.audit, ev, data); err != nil {
		return GetResponse{}, err
	}
	count, err := s.store.Touch(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		count = e.AccessCount + 1 // deleted since the read; the value was still read
	case err != nil:
		clear(data)
		return GetResponse{}, err
	}
	return GetResponse{Status: "found", Data: data, ExpiresAt: wire.TimePtr(e.ExpiresAt), AutoRenew: &e.AutoRenew, AccessCount: &count}, nil
}

// MaxExpiresIn bounds expires_in (100 years, in seconds). A negative value is refused:
// upstream accepted it and wrote an entry that was already expired, a write that could
// never be read back.
const MaxExpiresIn = 100 * 365 * 24 * 3600

// SetRequest is upstream's KeychainSetRequest. Scope and execution id come from the body
// on POST (the query on GET and DELETE).
type SetRequest struct {
	Data        json.RawMessage `json:"data"`
	ScopeType   *string         `json:"scope_type"`
	ExecutionID json.RawMessage `json:"execution_id"` // number or decimal string
	ExpiresAt   json.RawMessage `json:"expires_at"`   // RFC 3339 with an offset
	ExpiresIn   *int64          `json:"expires_in"`
	AutoRenew   *bool           `json:"auto_renew"`
	RenewConfig json.RawMessage `json:"renew_config"`
}

// SetResponse is upstream's answer to a write.
type SetResponse struct {
	Status    string     `json:"status"`
	CacheKey  string     `json:"cache_key"`
	ExpiresAt *wire.Time `json:"expires_at,omitempty"`
}

// Target is the entry a write addresses: scope_type and execution_id come from the body.
func (r SetRequest) Target(catalogID int64, name string) (Key, error) {
	scopeIn := ""
	if r.ScopeType != nil {
		scopeIn = *r.ScopeType
	}
	scope, err := ParseScope(scopeIn)
	if err != nil {
		return Key{}, err
	}
	execID, err := parseID(r.ExecutionID)
	if err != nil {
		return Key{}, err
	}
	return Key{CatalogID: catalogID, Name: name, Scope: scope, ExecutionID: execID}, nil
}

// Set writes an entry. expires_at wins over expires_in; with neither the entry never
// expires.
func (s *Service) Set(ctx context.Context, catalogID int64, name string, req SetRequest) (SetResponse, error) {
	if jsonx.Absent(req.Data) { // null data would be stored and delivered as nothing
		return SetResponse{}, httpx.Validation(`field "data" is required`)
	}
	k, err := req.Target(catalogID, name)
	if err != nil {
		return SetResponse{}, err
	}
	scope, execID := k.Scope, k.ExecutionID
	expires, err := parseTime(req.ExpiresAt)
	if err != nil {
		return SetResponse{}, err
	}
	switch {
	case expires != nil:
	case req.ExpiresIn != nil:
		// Seconds beyond the bound overflow time.Duration (about 292 years), which turned
		// 9223372036854775807 into "expired now".
		if n := *req.ExpiresIn; n > MaxExpiresIn || n < 0 {
			return SetResponse{}, httpx.Validation(`field "expires_in" must be between 0 and %d seconds (100 years)`, MaxExpiresIn)
		}
		t := s.now().UTC().Add(time.Duration(*req.ExpiresIn) * time.Second).Truncate(time.Microsecond)
		expires = &t
	}
	if !jsonx.Absent(req.RenewConfig) && !strictjson.IsObject(req.RenewConfig) {
		// Upstream's request types renew_config as an object; anything else was stored
		// as given.
		return SetResponse{}, httpx.Validation(`field "renew_config" must be an object or null`)
	}
	var plain bytes.Buffer
	if err := json.Compact(&plain, req.Data); err != nil {
		return SetResponse{}, httpx.Validation(`field "data" is not valid JSON`)
	}
	defer clear(plain.Bytes())
	// An entry for a playbook the catalog does not hold could never be read by a run.
	switch found, err := s.catalog.CatalogExists(ctx, catalogID); {
	case err != nil:
		return SetResponse{}, httpx.Unavailable("cannot check catalog entry %d with the api: %v", catalogID, err)
	case !found:
		return SetResponse{}, httpx.NotFound("catalog entry %d not found", catalogID)
	}
	stored, err := s.env.Seal(ctx, plain.Bytes())
	if err != nil {
		return SetResponse{}, err
	}
	e := Entry{
		CacheKey: k.cacheKey(), Name: name, CatalogID: catalogID, ScopeType: scope, ExecutionID: rowExecutionID(scope, execID),
		DataEncrypted: stored, ExpiresAt: expires, AutoRenew: req.AutoRenew != nil && *req.AutoRenew,
	}
	if err := s.store.Upsert(ctx, e, strictjson.NullableText(req.RenewConfig)); err != nil {
		return SetResponse{}, err
	}
	return SetResponse{Status: "success", CacheKey: e.CacheKey, ExpiresAt: wire.TimePtr(expires)}, nil
}

// rowExecutionID is the execution a row belongs to. A global entry belongs to none: its
// cache key leaves the execution out, so every execution of the catalog entry reads and
// overwrites the same row, and the id of whichever wrote it first (or last) would
// attribute a shared value to one run (docs/wallet.md, "Keychain scopes"). Local and
// shared keys carry the execution id they were written with, or none.
func rowExecutionID(scope string, executionID *int64) *int64 {
	if scope == ScopeGlobal {
		return nil
	}
	return executionID
}

// DeleteResponse is {"status":"deleted","cache_key"} or {"status":"not_found"}.
type DeleteResponse struct {
	Status   string `json:"status"`
	CacheKey string `json:"cache_key,omitempty"`
}

// Delete removes an entry.
func (s *Service) Delete(ctx context.Context, k Key) (DeleteResponse, error) {
	key := k.cacheKey()
	ok, err := s.store.Delete(ctx, key)
	if err != nil {
		return DeleteResponse{}, err
	}
	if !ok {
		return DeleteResponse{Status: "not_found"}, nil
	}
	return DeleteResponse{Status: "deleted", CacheKey: key}, nil
}

// ListEntry is one entry of the catalog listing (no data).
type ListEntry struct {
	KeychainName string         `json:"keychain_name"`
	ScopeType    string         `json:"scope_type"`
	ExecutionID  *wire.StringID `json:"execution_id,omitempty"`
	ExpiresAt    *wire.Time     `json:"expires_at,omitempty"`
	Expired      bool           `json:"expired"`
	AccessCount  int64          `json:"access_count"`
	AccessedAt   *wire.Time     `json:"accessed_at,omitempty"`
	CreatedAt    wire.Time      `json:"created_at"`
}

// ListResponse is the catalog listing.
type ListResponse struct {
	CatalogID wire.StringID `json:"catalog_id"`
	Entries   []ListEntry   `json:"entries"`
}

// List returns a catalog's entries.
func (s *Service) List(ctx context.Context, catalogID int64) (ListResponse, error) {
	rows, err := s.store.ListCatalog(ctx, catalogID)
	if err != nil {
		return ListResponse{}, err
	}
	out := ListResponse{CatalogID: wire.StringID(catalogID), Entries: make([]ListEntry, 0, len(rows))}
	for _, e := range rows {
		le := ListEntry{
			KeychainName: e.Name, ScopeType: e.ScopeType, ExpiresAt: wire.TimePtr(e.ExpiresAt), Expired: e.Expired,
			AccessCount: e.AccessCount, AccessedAt: wire.TimePtr(e.AccessedAt), CreatedAt: wire.Time(e.CreatedAt),
		}
		if e.ExecutionID != nil {
			id := wire.StringID(*e.ExecutionID)
			le.ExecutionID = &id
		}
		out.Entries = append(out.Entries, le)
	}
	return out, nil
}

// parseID reads an optional id given as a JSON number or decimal string. Unlike
// wire.ID's, its error does not quote the input: this body carries secret values, and a
// misplaced one must not come back in an error.
func parseID(raw json.RawMessage) (*int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	v, err := wire.ParseIDJSON(raw)
	if err != nil {
		return nil, httpx.Validation(`field "execution_id": expected an integer or a decimal string`)
	}
	if v < 1 {
		// Execution ids are positive snowflakes: 0 or -7 would key a row no run reads.
		return nil, httpx.Validation(`field "execution_id": expected a positive integer`)
	}
	return &v, nil
}

// parseTime reads an optional RFC 3339 timestamp without quoting the input.
func parseTime(raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, httpx.Validation(`field "expires_at": expected an RFC 3339 timestamp string`)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, httpx.Validation(`field "expires_at": not an RFC 3339 timestamp with an offset`)
	}
	t = t.UTC()
	// The offset can carry a time past year 9999 (or before year 1), which is stored
	// but answered as a five-digit (or zero) year that is no RFC 3339 timestamp.
	if y := t.Year(); y < 1 || y > 9999 {
		return nil, httpx.Validation(`field "expires_at": must be within years 1 to 9999 in UTC`)
	}
	return &t, nil
}
