package internalapi

import "context"
import "encoding/json"
import "errors"
import "io"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/wire"

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
		if in.Alias == "denied" {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"error":"keychain 'denied': vault: HTTP 403","status":502,"retryable":false}`))
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
	if err := broker.PostJSON(context.Background(), CrossRegionPath, CrossRegionRequest{Alias: "a", ExecutionID: &exec, CrossRegionRoute: CrossRegionRoute{ExpectedEntryRegion: "eu"}}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Alias != "a" || out.Exec != int64(exec) {
		t.Errorf("answer = %+v", out)
	}
	err = broker.PostJSON(context.Background(), CrossRegionPath, CrossRegionRequest{Alias: "a", CrossRegionRoute: CrossRegionRoute{ExpectedEntryRegion: "us"}}, &out)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 403 || se.Header.Get(BrokerOutcomeHeader) != "wrong_region" ||
		!strings.HasPrefix(err.Error(), "broker answered HTTP 403: this server is in region") {
		t.Errorf("err = %v, want the broker's 403 with its outcome header", err)
	}
	if se.Permanent {
		t.Errorf("a 403 without \"retryable\": false is marked permanent")
	}
	err = broker.PostJSON(context.Background(), CrossRegionPath, CrossRegionRequest{Alias: "denied", CrossRegionRoute: CrossRegionRoute{ExpectedEntryRegion: "eu"}}, &out)
	if !errors.As(err, &se) || se.Status != 502 || !se.Permanent {
		t.Errorf("err = %v, want a 502 marked permanent", err)
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
