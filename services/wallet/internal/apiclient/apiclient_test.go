package apiclient

import "context"
import "encoding/json"
import "errors"
import "net/http"
import "net/http/httptest"
import "reflect"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/internalapi"

func TestWorkerPublicKey(t *testing.T) {
	t.Parallel()
	const token = "tok-123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid token","status":401}`))
			return
		}
		if r.URL.Path != "/internal/runtime/worker-key" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		name := r.URL.Query().Get("name")
		w.Header().Set("Content-Type", "application/json")
		switch name {
		case "keyed", "a b&c":
			_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "worker_public_key": "KEY=" + name})
		case "nokey":
			_, _ = w.Write([]byte(`{"name":"nokey","worker_public_key":null}`))
		case "empty":
			_, _ = w.Write([]byte(`{"name":"empty","worker_public_key":""}`))
		case "broken":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"database down","status":500}`))
		case "garbage":
			_, _ = w.Write([]byte(`not json`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no row","status":404}`))
		}
	}))
	t.Cleanup(srv.Close)

	api, err := New(internalapi.Config{BaseURL: srv.URL + "/", Token: config.Secret(token)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		worker    string
		wantKey   string
		wantFound bool
		wantErr   string
	}{
		{"keyed", "KEY=keyed", true, ""},
		{"a b&c", "KEY=a b&c", true, ""}, // the name is query-escaped
		{"nokey", "", false, ""},
		{"empty", "", false, ""},
		{"missing", "", false, ""},
		{"broken", "", false, "HTTP 500: database down"},
		{"garbage", "", false, "decode api answer"},
	}
	for _, tc := range tests {
		t.Run(tc.worker, func(t *testing.T) {
			t.Parallel()
			key, found, err := api.WorkerPublicKey(context.Background(), tc.worker)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || key != tc.wantKey || found != tc.wantFound {
				t.Fatalf("= %q, %v, %v; want %q, %v", key, found, err, tc.wantKey, tc.wantFound)
			}
		})
	}

	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		bad, err := New(internalapi.Config{BaseURL: srv.URL, Token: "nope"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = bad.WorkerPublicKey(context.Background(), "keyed")
		var se *internalapi.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
			t.Fatalf("err = %v, want a 401 StatusError", err)
		}
		if strings.Contains(err.Error(), "nope") {
			t.Errorf("error %q quotes the token", err)
		}
	})
}

func TestWorkerPublicKeyUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	api, err := New(internalapi.Config{BaseURL: base, Token: "secret-token-value"})
	if err != nil {
		t.Fatal(err)
	}
	_, found, err := api.WorkerPublicKey(context.Background(), "w")
	if err == nil || found {
		t.Fatalf("found=%v err=%v, want a transport error", found, err)
	}
	if strings.Contains(err.Error(), "secret-token-value") {
		t.Errorf("error %q quotes the token", err)
	}
}

func TestKeychainEntry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.EscapedPath() {
		case "/internal/executions/42/keychain/db%2Fmain":
			_, _ = w.Write([]byte(`{"execution_id":"42","catalog_id":"7","entry":{"name":"db/main","provider":"vault",
				"map":{"password":"app/db#password"},"region":"eu-central-1","residency":"strict",
				"allowed_regions":["eu-west-1"],"no_broker_fallback":true}}`))
		case "/internal/executions/42/keychain/broken":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"database down","status":500}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no such entry","status":404}`))
		}
	}))
	t.Cleanup(srv.Close)
	api, err := New(internalapi.Config{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	def, found, err := api.KeychainEntry(ctx, 42, "db/main")
	want := internalapi.KeychainDefinition{ExecutionID: 42, CatalogID: 7, Entry: internalapi.KeychainEntry{
		Name: "db/main", Provider: "vault", Map: map[string]string{"password": "app/db#password"},
		Region: "eu-central-1", Residency: "strict", AllowedRegions: []string{"eu-west-1"}, NoBrokerFallback: true,
	}}
	if err != nil || !found || !reflect.DeepEqual(def, want) {
		t.Fatalf("KeychainEntry = %+v, %v, %v; want %+v", def, found, err, want)
	}
	if _, found, err := api.KeychainEntry(ctx, 42, "missing"); found || err != nil {
		t.Errorf("missing entry: found=%v err=%v, want not found and no error", found, err)
	}
	var se *internalapi.StatusError
	if _, _, err := api.KeychainEntry(ctx, 42, "broken"); !errors.As(err, &se) || se.Status != 500 || !strings.Contains(err.Error(), "database down") {
		t.Errorf("broken: err = %v, want the 500 StatusError", err)
	}
}
