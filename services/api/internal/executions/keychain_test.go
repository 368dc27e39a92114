package executions

import "context"
import "encoding/json"
import "net/http"
import "reflect"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/testkit"

const keychainPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: kc, path: tests/kc}
workload:
  env: prod
keychain:
  - name: eu_db
    provider: vault
    region: eu-central-1
    residency: strict
    allowed_regions: [eu-west-1]
    no_broker_fallback: true
    map:
      password: "{{ env }}/db#password"
      user: "{{ workload.env }}/db#user"
      plain: static/path#k
  - name: bare/token
    provider: aws
  - name: broken
    provider: gcp
    map:
      a: "{{ env }}"
      b: "{{ 1 + }}"
  - name: pg
    kind: credential
    credential: "  pg_{{ env }}  "
  - name: pg_broken
    credential: "{{ 1 + }}"
  - name: no_source
    kind: secrets
workflow:
  - step: start
    tool: {kind: noop}
`

func TestKeychainDefinition(t *testing.T) {
	t.Parallel()
	const token = "kc-token"
	env := apitest.NewEnv(t, token)
	NewKeychain(env.Pool, catalog.NewCache(4)).RegisterInternal(env.Engine.Group("/internal"))
	ctx := context.Background()

	catalogID, _ := env.Gen.Next()
	testkit.InsertCatalog(t, env.Schema, catalogID, "tests/kc", keychainPlaybook)
	// One execution with an engine snapshot; one known only by its start event (written
	// through the projector), whose workload overrides the playbook's.
	withRow, _ := env.Gen.Next()
	if _, err := env.Pool.Exec(ctx, `INSERT INTO execution (execution_id, catalog_id, path, state)
		VALUES ($1, $2, 'tests/kc', '{"workload":{"env":"prod"}}')`, withRow, catalogID); err != nil {
		t.Fatal(err)
	}
	eventOnly, _ := env.Gen.Next()
	eventID, _ := env.Gen.Next()
	if _, err := env.Pool.Exec(ctx, `INSERT INTO event (execution_id, catalog_id, event_id, event_type, context)
		VALUES ($1, $2, $3, 'playbook.initialized', '{"workload":{"env":"staging"}}')`, eventOnly, catalogID, eventID); err != nil {
		t.Fatal(err)
	}

	get := func(t *testing.T, path string, want int) internalapi.KeychainDefinition {
		t.Helper()
		w := env.Do("GET", path, "", token)
		if w.Code != want {
			t.Fatalf("GET %s = %d %s, want %d", path, w.Code, w.Body, want)
		}
		var def internalapi.KeychainDefinition
		if want == http.StatusOK {
			if err := json.Unmarshal(w.Body.Bytes(), &def); err != nil {
				t.Fatal(err)
			}
		}
		return def
	}

	t.Run("rendered against the snapshot workload", func(t *testing.T) {
		def := get(t, internalapi.KeychainPath(withRow, "eu_db"), 200)
		want := internalapi.KeychainDefinition{
			ExecutionID: 0, CatalogID: 0, // compared below
			Entry: internalapi.KeychainEntry{
				Name: "eu_db", Provider: "vault", Region: "eu-central-1", Residency: "strict",
				AllowedRegions: []string{"eu-west-1"}, NoBrokerFallback: true,
				Map: map[string]string{"password": "prod/db#password", "user": "prod/db#user", "plain": "static/path#k"},
			},
		}
		if int64(def.ExecutionID) != withRow || int64(def.CatalogID) != catalogID {
			t.Errorf("ids = %d/%d, want %d/%d", def.ExecutionID, def.CatalogID, withRow, catalogID)
		}
		def.ExecutionID, def.CatalogID = 0, 0
		if !reflect.DeepEqual(def, want) {
			t.Errorf("definition = %+v\nwant %+v", def, want)
		}
	})
	t.Run("rendered against the start event workload", func(t *testing.T) {
		def := get(t, internalapi.KeychainPath(eventOnly, "eu_db"), 200)
		if def.Entry.Map["password"] != "staging/db#password" || int64(def.CatalogID) != catalogID {
			t.Errorf("definition = %+v", def)
		}
	})
	t.Run("an alias with a slash, no map", func(t *testing.T) {
		def := get(t, internalapi.KeychainPath(withRow, "bare/token"), 200)
		if def.Entry.Name != "bare/token" || def.Entry.Provider != "aws" || def.Entry.Map != nil || def.Entry.Residency != "" {
			t.Errorf("definition = %+v", def)
		}
	})
	t.Run("template error is reported, not a map", func(t *testing.T) {
		def := get(t, internalapi.KeychainPath(withRow, "broken"), 200)
		if def.Entry.Map != nil || !strings.Contains(def.TemplateError, "map key 'b'") {
			t.Errorf("definition = %+v, want a template error naming key b", def)
		}
	})
	t.Run("credential indirection rendered and trimmed", func(t *testing.T) {
		def := get(t, internalapi.KeychainPath(eventOnly, "pg"), 200)
		if def.Entry.Credential != "pg_staging" || def.Entry.Provider != "" || def.Entry.Map != nil || def.TemplateError != "" {
			t.Errorf("definition = %+v", def)
		}
		def = get(t, internalapi.KeychainPath(withRow, "pg_broken"), 200)
		if def.Entry.Credential != "" || !strings.Contains(def.TemplateError, "keychain 'pg_broken': credential:") {
			t.Errorf("definition = %+v, want a template error naming the credential", def)
		}
		// Neither provider nor credential: the wallet answers not found.
		def = get(t, internalapi.KeychainPath(withRow, "no_source"), 200)
		if def.Entry.Credential != "" || def.Entry.Provider != "" || def.TemplateError != "" {
			t.Errorf("definition = %+v", def)
		}
		// A provider entry never carries a credential.
		if def := get(t, internalapi.KeychainPath(withRow, "bare/token"), 200); def.Entry.Credential != "" {
			t.Errorf("definition = %+v", def)
		}
	})
	t.Run("not found", func(t *testing.T) {
		get(t, internalapi.KeychainPath(withRow, "nope"), 404)
		get(t, internalapi.KeychainPath(12345, "eu_db"), 404)
		get(t, "/internal/executions/abc/keychain/eu_db", 400)
	})
	t.Run("token required", func(t *testing.T) {
		if w := env.Do("GET", internalapi.KeychainPath(withRow, "eu_db"), "", ""); w.Code != 401 {
			t.Errorf("without token = %d", w.Code)
		}
	})
}
