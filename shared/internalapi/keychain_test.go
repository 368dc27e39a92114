package internalapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/noetl/controlplane/shared/wire"
)

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
	api, err := New(Config{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	def, found, err := api.KeychainEntry(ctx, 42, "db/main")
	want := KeychainDefinition{ExecutionID: 42, CatalogID: 7, Entry: KeychainEntry{
		Name: "db/main", Provider: "vault", Map: map[string]string{"password": "app/db#password"},
		Region: "eu-central-1", Residency: "strict", AllowedRegions: []string{"eu-west-1"}, NoBrokerFallback: true,
	}}
	if err != nil || !found || !reflect.DeepEqual(def, want) {
		t.Fatalf("KeychainEntry = %+v, %v, %v; want %+v", def, found, err, want)
	}
	if _, found, err := api.KeychainEntry(ctx, 42, "missing"); found || err != nil {
		t.Errorf("missing entry: found=%v err=%v, want not found and no error", found, err)
	}
	var se *StatusError
	if _, _, err := api.KeychainEntry(ctx, 42, "broken"); !errors.As(err, &se) || se.Status != 500 || !strings.Contains(err.Error(), "database down") {
		t.Errorf("broken: err = %v, want the 500 StatusError", err)
	}
}

func TestPostJSON(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var in CrossRegionRequest
		if err := json.Unmarshal(body, &in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if in.ExpectedEntryRegion != "eu" {
			w.Header().Set(BrokerOutcomeHeader, "wrong_region")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"this server is in region 'us'","status":403}`))
			return
		}
		_, _ = w.Write([]byte(`{"alias":"` + in.Alias + `","exec":` + string(mustJSON(t, in.ExecutionID)) + `}`))
	}))
	t.Cleanup(srv.Close)
	broker, err := New(Config{BaseURL: srv.URL, Token: "tok", Service: "broker", Var: "NOETL_SECRET_BROKER_REGISTRY"})
	if err != nil {
		t.Fatal(err)
	}
	exec := wire.ID(9007199254740993) // above 2^53: must survive the round trip exactly
	var out struct {
		Alias string `json:"alias"`
		Exec  int64  `json:"exec"`
	}
	if err := broker.PostJSON(context.Background(), CrossRegionPath, CrossRegionRequest{Alias: "a", ExecutionID: &exec, ExpectedEntryRegion: "eu"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Alias != "a" || out.Exec != int64(exec) {
		t.Errorf("answer = %+v", out)
	}
	err = broker.PostJSON(context.Background(), CrossRegionPath, CrossRegionRequest{Alias: "a", ExpectedEntryRegion: "us"}, &out)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 403 || se.Header.Get(BrokerOutcomeHeader) != "wrong_region" ||
		!strings.HasPrefix(err.Error(), "broker answered HTTP 403: this server is in region") {
		t.Errorf("err = %v, want the broker's 403 with its outcome header", err)
	}
	if _, err := New(Config{BaseURL: "ftp://x", Var: "NOETL_SECRET_BROKER_REGISTRY"}); err == nil || !strings.Contains(err.Error(), "NOETL_SECRET_BROKER_REGISTRY") {
		t.Errorf("bad URL error = %v, want one naming the variable", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
