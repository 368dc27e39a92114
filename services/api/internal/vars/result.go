package vars

import "crypto/sha256"
import "encoding/hex"
import "encoding/json"
import "errors"
import "fmt"
import "regexp"
import "strconv"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/redact"
import "github.com/noetl/controlplane/shared/wire"

// The result store keeps results too large to inline in an event (the worker offloads
// above ~100 KiB: docs/worker.md, "One command"). Data is stored as canonical JSON: compact,
// object keys sorted, no HTML escaping, integers at full precision. bytes and sha256
// describe those canonical bytes, and resolve returns data in the same canonical form,
// so a client can check the digest over the data it got back.

// Ref formats and parses result references.
const refPrefix = "noetl://execution/"

var refPattern = regexp.MustCompile(`^noetl://execution/(-?[0-9]{1,19})/result/([0-9]{1,19})$`)

// FormatRef is the reference of a stored result.
func FormatRef(executionID, refID int64) string {
	return fmt.Sprintf("%s%d/result/%d", refPrefix, executionID, refID)
}

// ParseRef reads a reference made by FormatRef.
func ParseRef(ref string) (executionID, refID int64, ok bool) {
	m := refPattern.FindStringSubmatch(ref)
	if m == nil {
		return 0, 0, false
	}
	e, err1 := strconv.ParseInt(m[1], 10, 64)
	r, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return e, r, true
}

// ResultMeta describes stored data.
type ResultMeta struct {
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	MediaType   string `json:"media_type"`
	ContentType string `json:"content_type"`
}

// ResultRef is the answer to PUT /api/result/{execution_id}: the reference object the
// worker embeds in its call.done result.
type ResultRef struct {
	Kind  string     `json:"kind"`
	Ref   string     `json:"ref"`
	Store string     `json:"store"`
	Scope string     `json:"scope"`
	Meta  ResultMeta `json:"meta"`
}

// Resolved is the answer to GET /api/result/resolve.
type Resolved struct {
	Ref  string          `json:"ref"`
	Data json.RawMessage `json:"data"`
	Meta ResultMeta      `json:"meta"`
}

// contentType is how stored data is encoded; media_type is the caller's label for what
// the data is (defaulting to the same).
const contentType = "application/json"

func metaOf(r *StoredResult) ResultMeta {
	return ResultMeta{Bytes: r.Bytes, SHA256: r.SHA256, MediaType: r.MediaType, ContentType: contentType}
}

// Canonical encodes data in the result store's canonical JSON and digests it.
func Canonical(data any) (b []byte, sum string, err error) {
	b, err = jsonx.Marshal(data)
	if err != nil {
		return nil, "", err
	}
	d := sha256.Sum256(b)
	return b, hex.EncodeToString(d[:]), nil
}

func (h *Handlers) putResult(c *gin.Context, id int64) (ResultRef, error) {
	body, err := httpx.ReadJSONBody(c)
	if err != nil {
		return ResultRef{}, err
	}
	r, data, err := parsePut(body)
	if err != nil {
		return ResultRef{}, err
	}
	if r.RefID, err = h.ids.Next(); err != nil {
		return ResultRef{}, httpx.Internal("could not mint a result id", err)
	}
	r.ExecutionID = id
	if err := h.store.PutResult(c.Request.Context(), r, data); err != nil {
		return ResultRef{}, apierr.NotFound(err, id)
	}
	return ResultRef{Kind: "result_ref", Ref: FormatRef(id, r.RefID), Store: "postgres", Scope: r.Scope, Meta: metaOf(&r)}, nil
}

// parsePut validates {name, data, scope?, source_step?, media_type?} and canonicalises
// data, redacted: a worker offloads here the step results too large for an event, and
// they must be kept as an event would keep them (package redact). Stored unredacted, a
// large response (a Set-Cookie header, an access_token in a body) was kept in full and
// handed to the engine and to GET /api/result/resolve, while the same result inline in
// an event was redacted.
func parsePut(body []byte) (StoredResult, []byte, error) {
	var r StoredResult
	obj, err := httpx.DecodeObject(body)
	if err != nil {
		return r, nil, err
	}
	str := func(key, def string) (string, error) {
		v, ok := obj[key]
		if !ok || v == nil {
			return def, nil
		}
		s, ok := v.(string)
		if !ok {
			return "", httpx.Validation("field %q must be a string", key)
		}
		if s == "" {
			return def, nil
		}
		return s, nil
	}
	if r.Name, err = str("name", ""); err != nil {
		return r, nil, err
	}
	if r.Name == "" {
		return r, nil, httpx.Validation("field \"name\" is required")
	}
	if err := wire.CheckName(r.Name); err != nil {
		return r, nil, httpx.Validation("field \"name\" %v", err)
	}
	if r.Scope, err = str("scope", "execution"); err != nil {
		return r, nil, err
	}
	if r.MediaType, err = str("media_type", contentType); err != nil {
		return r, nil, err
	}
	step, err := str("source_step", "")
	if err != nil {
		return r, nil, err
	}
	if step != "" {
		r.SourceStep = &step
	}
	data, ok := obj["data"]
	if !ok {
		return r, nil, httpx.Validation("field \"data\" is required")
	}
	b, sum, err := Canonical(redact.Value(data))
	if err != nil {
		return r, nil, httpx.Validation("data: %v", err)
	}
	r.Bytes, r.SHA256 = int64(len(b)), sum
	return r, b, nil
}

func (h *Handlers) resolveResult(c *gin.Context) (Resolved, error) {
	ref, err := httpx.RequiredQuery(c, "ref")
	if err != nil {
		return Resolved{}, err
	}
	execID, refID, ok := ParseRef(ref)
	if !ok {
		return Resolved{}, httpx.BadRequest("Invalid result ref: expected noetl://execution/<execution_id>/result/<ref_id>")
	}
	r, stored, err := h.store.Result(c.Request.Context(), execID, refID)
	if errors.Is(err, ErrNoResult) {
		return Resolved{}, httpx.NotFound("Result not found: %s", ref)
	}
	if err != nil {
		return Resolved{}, err
	}
	// JSONB reorders keys; re-encode so data is byte-identical to what was digested.
	v, err := jsonx.Decode(stored)
	if err != nil {
		return Resolved{}, fmt.Errorf("decode stored result %d: %w", refID, err)
	}
	data, _, err := Canonical(v)
	if err != nil {
		return Resolved{}, fmt.Errorf("encode stored result %d: %w", refID, err)
	}
	// httpx.JSON does not HTML-escape, so data goes out exactly as digested.
	return Resolved{Ref: ref, Data: data, Meta: metaOf(r)}, nil
}
