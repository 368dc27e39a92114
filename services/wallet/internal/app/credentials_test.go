package app

import "context"
import "encoding/json"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/testkit"

// vector10 is the stored_envelope vector (docs/wallet.md, section 7): written as the
// upstream server writes it, under key1 with fixed randomness.
const (
	vector10Stored    = `{"v":1,"alg":"AES-256-GCM","ct":"sLGys7S1tre4ubq7TdhaJuFQv2FAaT/AIU3dReURjrn/O/FDjiXCPfcdL75woDia94AkIOjz5CtKFq6dVYhqlN3i","dek":{"p":"local","kid":"env:NOETL_ENCRYPTION_KEY","kv":"v1","ct":"oKGio6SlpqeoqaqrxjleDmHuJJhKTK34K1fu8UCdayOmgnRbpDccvUOWSz5NG5o6DNTfyEiueOzoTPPC"}}`
	vector10Plaintext = `{"password":"p@ss","username":"admin"}`
)

// TestCredentialVectorServedDecrypted: a credential row holding that stored envelope
// (as the upstream server writes it) is served decrypted, by id and by name.
func TestCredentialVectorServedDecrypted(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	_, err := s.Pool.Exec(context.Background(), `INSERT INTO credential (id, name, type, data_encrypted, tags)
		VALUES (4242, 'vector-10', 'basic', $1, '{a,b}')`, vector10Stored)
	if err != nil {
		t.Fatal(err)
	}
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	for _, ident := range []string{"4242", "vector-10"} {
		out := w.must(200, "GET", "/api/credentials/"+ident+"?include_data=true", nil)
		var got struct {
			ID   string          `json:"id"`
			Name string          `json:"name"`
			Data json.RawMessage `json:"data"`
			Tags []string        `json:"tags"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != "4242" || got.Name != "vector-10" || string(got.Data) != vector10Plaintext || len(got.Tags) != 2 {
			t.Errorf("GET %s = %s", ident, out)
		}
		if !strings.HasPrefix(out, `{"id":"4242","name":"vector-10","type":"basic","tags":["a","b"],"data":`) {
			t.Errorf("field order/types differ from upstream: %s", out)
		}
	}
}

func TestCredentialsCRUD(t *testing.T) {
	t.Parallel()
	const secret = "crud-S3CRET-value-9931"
	s := testkit.NewSchema(t, migrations.Set)
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	ctx := context.Background()

	created := w.mustJSON(200, "POST", "/api/credentials", map[string]any{
		"name": "pg-main", "type": "postgres", "description": "Main <db> & co",
		"data": map[string]any{"password": secret, "port": 5432, "big": json.Number("9007199254740993")},
		"meta": map[string]any{"owner": "ops"}, "tags": []string{},
	})
	id, _ := created["id"].(string)
	if id == "" || created["data"] != nil || created["name"] != "pg-main" {
		t.Fatalf("create answer = %v", created)
	}
	if tags, ok := created["tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("empty tags must stay [] (upstream serialises Some([])): %v", created["tags"])
	}

	// At rest: a stored envelope under v1, no plaintext.
	var stored string
	if err := s.Pool.QueryRow(ctx, `SELECT data_encrypted FROM credential WHERE name = 'pg-main'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, secret) {
		t.Fatal("data_encrypted holds the plaintext")
	}
	if kv, ok := envelope.KeyVersion(stored); !ok || kv != "v1" {
		t.Fatalf("stored value is not a v1 envelope: %q", stored)
	}

	// Without include_data there is no data key; with it, the exact JSON, big ints intact.
	plain := w.must(200, "GET", "/api/credentials/pg-main", nil)
	if strings.Contains(plain, `"data"`) || strings.Contains(plain, secret) {
		t.Errorf("GET without include_data leaks data: %s", plain)
	}
	full := w.must(200, "GET", "/api/credentials/"+id+"?include_data=true", nil)
	if !strings.Contains(full, `"data":{"big":9007199254740993,"password":"`+secret+`","port":5432}`) {
		t.Errorf("GET include_data = %s", full)
	}
	if !strings.Contains(full, `"description":"Main <db> & co"`) || !strings.Contains(full, `"meta":{"owner":"ops"}`) {
		t.Errorf("description/meta not as upstream (no HTML escaping): %s", full)
	}

	// Upsert by name keeps the id; omitted optional fields become absent.
	updated := w.mustJSON(200, "POST", "/api/credentials", map[string]any{"name": "pg-main", "type": "postgres", "data": map[string]any{"password": "x"}})
	if updated["id"] != id {
		t.Errorf("upsert changed the id: %v -> %v", id, updated["id"])
	}
	for _, k := range []string{"meta", "tags", "description"} {
		if _, ok := updated[k]; ok {
			t.Errorf("omitted %s must be cleared and omitted: %v", k, updated)
		}
	}
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "api_key_1", "type": "api_key", "data": map[string]any{"api_key": "tok"}, "description": "50% off"})
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "apixkeyx1", "type": "api_key", "data": map[string]any{"api_key": "tok"}})

	// List: newest first, no data, filter echoed only when given; q is a literal substring.
	list := w.mustJSON(200, "GET", "/api/credentials", nil)
	if _, ok := list["filter"]; ok {
		t.Errorf("filter present without parameters: %v", list)
	}
	if items := list["items"].([]any); len(items) != 3 || items[0].(map[string]any)["name"] != "apixkeyx1" {
		t.Errorf("list = %v", list)
	}
	tests := []struct {
		query string
		names []string
	}{
		{"?type=api_key", []string{"apixkeyx1", "api_key_1"}},
		{"?q=KEY_", []string{"api_key_1"}}, // "_" is not a wildcard
		{"?q=50%25", []string{"api_key_1"}},
		{"?type=postgres&q=main", []string{"pg-main"}},
		{"?type=nope", nil},
	}
	for _, tc := range tests {
		got := w.mustJSON(200, "GET", "/api/credentials"+tc.query, nil)
		var names []string
		for _, it := range got["items"].([]any) {
			m := it.(map[string]any)
			if _, ok := m["data"]; ok {
				t.Errorf("list item carries data: %v", m)
			}
			names = append(names, m["name"].(string))
		}
		if strings.Join(names, ",") != strings.Join(tc.names, ",") {
			t.Errorf("list%s = %v, want %v", tc.query, names, tc.names)
		}
		if _, ok := got["filter"]; !ok {
			t.Errorf("list%s: filter missing", tc.query)
		}
	}

	// A name that looks like an id of another row: the id wins.
	w.must(200, "POST", "/api/credentials", map[string]any{"name": id, "type": "t", "data": 1})
	if got := w.mustJSON(200, "GET", "/api/credentials/"+id, nil); got["name"] != "pg-main" {
		t.Errorf("numeric identifier must match the id first: %v", got)
	}

	// Errors.
	errs := []struct {
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"GET", "/api/credentials/missing", nil, 404, "Credential 'missing' not found"},
		{"GET", "/api/credentials/missing?include_data=true", nil, 404, "Credential 'missing' not found"},
		{"DELETE", "/api/credentials/missing", nil, 404, "Credential 'missing' not found"},
		{"GET", "/api/credentials/pg-main?include_data=1", nil, 400, "include_data must be true or false"},
		{"GET", "/api/credentials/pg-main?include_data=true&execution_id=x", nil, 400, "execution_id"},
		{"POST", "/api/credentials", map[string]any{"type": "t", "data": 1}, 422, `"name" is required`},
		{"POST", "/api/credentials", map[string]any{"name": "n", "data": 1}, 422, `"type" is required`},
		{"POST", "/api/credentials", map[string]any{"name": "n", "type": "t"}, 422, `"data" is required`},
		{"POST", "/api/credentials", `{"name":"n","type":"t","data":{"password":"` + secret + `"`, 400, "malformed JSON"},
		{"POST", "/api/credentials", map[string]any{"name": "n", "type": "t", "data": 1, "tags": "x"}, 422, `"tags"`},
	}
	for _, e := range errs {
		code, out := w.do(e.method, e.path, e.body)
		if code != e.status || !strings.Contains(errText(t, out), e.msg) {
			t.Errorf("%s %s = %d %s, want %d with %q", e.method, e.path, code, out, e.status, e.msg)
		}
	}

	del := w.must(200, "DELETE", "/api/credentials/pg-main", nil)
	if del != `{"id":"`+id+`","message":"Credential deleted successfully"}` {
		t.Errorf("DELETE = %s", del)
	}
	w.must(404, "GET", "/api/credentials/pg-main", nil)
	w.assertNoSecrets(secret)
}

// TestNamesWithSlashes: a credential name, or a keychain alias, may hold "/" (a map-less
// vault entry's alias is its path). Clients send it escaped as %2F (the worker and the
// CLI do); every route taking the name must find it, as upstream's router does, or the
// row could be written but never read, sealed or deleted.
func TestNamesWithSlashes(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	api.register("worker-bob", strp(bobPublicB64))
	w := startWallet(t, testConfig(t, s, api.URL))
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "team/pg", "type": "bearer", "data": map[string]any{"token": "slash-S3CRET"}})
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "team", "type": "bearer", "data": map[string]any{"token": "other"}})

	if got := w.mustJSON(200, "GET", "/api/credentials/team%2Fpg?include_data=true", nil); got["name"] != "team/pg" {
		t.Errorf("GET team%%2Fpg = %v", got)
	}
	body := w.must(200, "GET", "/api/credentials/team%2Fpg/sealed?worker_id=worker-bob&execution_id=7", nil)
	plain, err := sealed.Open(bobKey(t), decodeEnvelope(t, body))
	if err != nil || !strings.Contains(string(plain), `"name":"team/pg"`) {
		t.Errorf("sealed team%%2Fpg = %s %v", plain, err)
	}
	// An unescaped slash is still a path separator: team/pg/sealed is not a route name.
	w.must(404, "GET", "/api/credentials/team/pg?include_data=true", nil)

	w.must(200, "POST", "/api/keychain/4711/app%2Fdb", map[string]any{"data": "v"})
	if got := w.mustJSON(200, "GET", "/api/keychain/4711/app%2Fdb", nil); got["status"] != "found" {
		t.Errorf("keychain GET app%%2Fdb = %v", got)
	}
	w.must(200, "DELETE", "/api/keychain/4711/app%2Fdb", nil)

	w.must(200, "DELETE", "/api/credentials/team%2Fpg", nil)
	w.must(404, "GET", "/api/credentials/team%2Fpg", nil)
	if got := w.mustJSON(200, "GET", "/api/credentials/team", nil); got["name"] != "team" {
		t.Errorf("the other row: %v", got)
	}
}

// TestCredentialShapesTheWorkerApplies: every field name the worker builds a header from
// is accepted at store time, and the types whose data also holds other shapes (token,
// oauth2, generic) are stored without one (TestBadInputIsRefused has the refusals).
func TestCredentialShapesTheWorkerApplies(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	for _, tc := range []struct {
		name, typ string
		data      map[string]any
	}{
		{"bearer token", "bearer", map[string]any{"token": "t"}},
		{"bearer access_token", "Bearer", map[string]any{"access_token": "t"}},
		{"bearer_token bearer_token", "bearer_token", map[string]any{"bearer_token": "t"}},
		{"basic username", "basic", map[string]any{"username": "u", "password": "p"}},
		{"basic user without password", "basic", map[string]any{"user": "u"}},
		{"api_key key", "api_key", map[string]any{"key": "k", "header": "X-Token"}},
		{"apikey value", "apikey", map[string]any{"value": "k"}},
		{"oauth2 client", "oauth2", map[string]any{"client_id": "c", "client_secret": "s"}},
		{"token of another shape", "token", map[string]any{"refresh": "r"}},
		{"name with inner spaces", "generic", map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.must(200, "POST", "/api/credentials", map[string]any{"name": tc.name, "type": tc.typ, "data": tc.data})
		})
	}
}
