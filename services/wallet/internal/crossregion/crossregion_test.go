package crossregion

import "context"
import "encoding/json"
import "errors"
import "io"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"

const envJSON = `{"alg":"x25519-hkdf-sha256-chacha20-poly1305","v":1,"eph_pub":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=","ciphertext":"1bomrwHtQsXiIqMcWNMCSQTPP6g2kmEN9bAOrQ=="}`

func TestParseRegistry(t *testing.T) {
	t.Parallel()
	got, err := ParseRegistry(` {"eu-central-1": "https://broker-eu.example.com/", "us-east-1": " http://10.0.0.7:8085 ", "ap": ""} `)
	if err != nil || len(got) != 2 || got["eu-central-1"] != "https://broker-eu.example.com" || got["us-east-1"] != "http://10.0.0.7:8085" {
		t.Errorf("= %v, %v", got, err)
	}
	if got, err := ParseRegistry(""); err != nil || len(got) != 0 {
		t.Errorf("empty = %v, %v", got, err)
	}
	for _, bad := range []string{`nope`, `[]`, `null`, `{"eu": 5}`, `{"eu": "ftp://x"}`, `{"": "https://x"}`, `{"eu": "broker:8085"}`} {
		if _, err := ParseRegistry(bad); err == nil || !strings.Contains(err.Error(), "NOETL_SECRET_BROKER_REGISTRY") {
			t.Errorf("ParseRegistry(%s) err = %v", bad, err)
		}
	}
}

// broker answers as the broker service does, by the alias it is asked for.
func broker(t *testing.T, seen *[]internalapi.CrossRegionRequest) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req internalapi.CrossRegionRequest
		_ = json.Unmarshal(body, &req)
		*seen = append(*seen, req)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != internalapi.CrossRegionPath || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		switch req.Alias {
		case "stale":
			w.Header().Set(internalapi.BrokerOutcomeHeader, internalapi.BrokerWrongRegion)
			w.WriteHeader(403)
			_, _ = w.Write([]byte(`{"error":"cross-region broker: this server is in region 'eu', not 'ap' as the requesting peer expected","status":403}`))
		case "missing":
			w.Header().Set(internalapi.BrokerOutcomeHeader, internalapi.BrokerResolveError)
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"error":"Credential 'missing' not found","status":404}`))
		case "provider-down":
			w.Header().Set(internalapi.BrokerOutcomeHeader, internalapi.BrokerResolveError)
			w.WriteHeader(502)
			_, _ = w.Write([]byte(`{"error":"keychain 'x': vault: HTTP 503","status":502}`))
		case "provider-denied":
			w.Header().Set(internalapi.BrokerOutcomeHeader, internalapi.BrokerResolveError)
			w.WriteHeader(502)
			_, _ = w.Write([]byte(`{"error":"keychain 'x': vault: HTTP 403","status":502,"retryable":false}`))
		case "proxy-error":
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`<html>bad gateway</html>`))
		case "garbage":
			_, _ = w.Write([]byte(`{"alg":"something-else"}`))
		default:
			w.Header().Set(internalapi.BrokerOutcomeHeader, "ok")
			_, _ = w.Write([]byte(envJSON))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestForward(t *testing.T) {
	t.Parallel()
	var seen []internalapi.CrossRegionRequest
	eu := broker(t, &seen)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	reg := prometheus.NewRegistry()
	m := internalapi.NewBrokerMetrics(reg, true, "eu", "ap")
	c, err := New(Options{Registry: map[string]string{"eu": eu.URL, "ap": eu.URL, "down": gone.URL}, OwnRegion: "us",
		Token: "tok", Timeout: 5 * time.Second, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Has("eu") || c.Has("us") || strings.Join(c.Regions(), ",") != "ap,down,eu" {
		t.Fatalf("regions = %v", c.Regions())
	}
	tests := []struct {
		region, alias string
		status        int
		outcome       string
		msg           string
	}{
		{"eu", "eu-db", 200, "ok", ""},
		{"ap", "stale", 403, "wrong_region", "cross-region broker of region 'ap' refused: cross-region broker: this server is in region 'eu'"},
		{"eu", "missing", 404, "resolve_error", "refused: Credential 'missing' not found"},
		{"eu", "provider-down", 502, "resolve_error", "unreachable: broker answered HTTP 502"},
		{"eu", "provider-denied", 502, "resolve_error", "of region 'eu' could not resolve: keychain 'x': vault: HTTP 403"},
		{"eu", "proxy-error", 502, "unreachable", "unreachable: broker answered HTTP 503"},
		{"eu", "garbage", 502, "unreachable", "the answer is not a sealed envelope"},
		{"down", "eu-db", 502, "unreachable", "Cross-region broker " + gone.URL + " unreachable"},
	}
	for _, tc := range tests {
		env, err := c.Forward(context.Background(), tc.region, internalapi.CrossRegionRequest{Alias: tc.alias, WorkerPublicKeyB64: "k", WorkerID: "w"})
		if tc.status == 200 {
			b, _ := json.Marshal(env)
			if err != nil || string(b) != envJSON {
				t.Errorf("%s: %s, %v", tc.alias, b, err)
			}
		} else if httpx.StatusOf(err) != tc.status || OutcomeOf(err) != tc.outcome || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v (status %d, outcome %q), want %d %s %q", tc.alias, err, httpx.StatusOf(err), OutcomeOf(err), tc.status, tc.outcome, tc.msg)
		}
		// Only the peer's permanent failure is answered as one.
		var he *httpx.Error
		if permanent := errors.As(err, &he) && he.Permanent; permanent != (tc.alias == "provider-denied") {
			t.Errorf("%s: permanent = %v", tc.alias, permanent)
		}
		if testutil.ToFloat64(m.Calls.WithLabelValues(tc.region, tc.outcome)) < 1 {
			t.Errorf("%s: broker_call_total{%s,%s} not counted", tc.alias, tc.region, tc.outcome)
		}
	}
	if n := testutil.CollectAndCount(m.Duration); n != 3 {
		t.Errorf("duration series = %d, want one per called region", n)
	}
	// The request names the region it expects and this wallet's own.
	if seen[0].ExpectedEntryRegion != "eu" || seen[0].RequestingRegion != "us" || seen[1].ExpectedEntryRegion != "ap" {
		t.Errorf("requests = %+v", seen[:2])
	}
}
