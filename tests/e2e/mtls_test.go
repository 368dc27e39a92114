package e2e

import "context"
import "crypto/tls"
import "encoding/json"
import "fmt"
import "net/http"
import "strings"
import "syscall"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/tests/e2e/scripted"

// TestInternalMTLS runs the suite as it is deployed (internal mTLS with generated
// certificates): an execution and a credential go through the router end to end, while a
// direct call to api, wallet or broker without a client certificate of the suite's CA is
// refused.
func TestInternalMTLS(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	if s.Certs == nil || !strings.HasPrefix(s.APIURL, "https://") {
		t.Fatalf("the suite did not start with internal mTLS: %s", s.APIURL)
	}

	t.Run("router reaches every service", func(t *testing.T) {
		code, checks := chaosReadyz(s.Client, s.URL)
		if code != http.StatusOK || checks["api"] != "ok" || checks["wallet"] != "ok" || checks["broker"] != "ok" {
			t.Fatalf("router /readyz = %d %v", code, checks)
		}
	})

	t.Run("an execution runs to completion", func(t *testing.T) {
		c := newRTClient(s)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := c.register(ctx, chaosLinearPlaybook); err != nil {
			t.Fatal(err)
		}
		id, err := c.execute(ctx, chaosLinearPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := scripted.New(scripted.Config{BaseURL: s.URL, NATSURL: testkit.NATSURL(), Discovery: scripted.DiscoverLog, Logf: t.Logf})
		if err := w.Serve(ctx, id); err != nil {
			t.Fatalf("worker: %v", err)
		}
		if st := c.statuses(ctx, id, chaosLinearPath); len(st.Errs) > 0 || st.Detail != "COMPLETED" {
			t.Fatalf("statuses %+v, want COMPLETED", st)
		}
	})

	t.Run("a credential is stored and read back through the wallet", func(t *testing.T) {
		resp, body := s.Do(t, http.MethodPost, "/api/credentials", "application/json",
			`{"name":"mtls-db","type":"postgres","data":{"password":"mtls-s3cret"}}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Get(t, "/api/credentials/mtls-db?include_data=true")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "mtls-s3cret") {
			t.Fatalf("read: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("direct calls need a client certificate", func(t *testing.T) {
		other := testkit.GenerateCerts(t)
		noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: s.Certs.ClientTLS(t, false)}}
		foreign := &tls.Config{RootCAs: s.Certs.CAPool, Certificates: other.ClientTLS(t, true).Certificates, MinVersion: tls.VersionTLS12}
		foreignCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: foreign}}
		for name, base := range map[string]string{"api": s.APIURL, "wallet": s.WalletURL, "broker": s.BrokerURL} {
			for label, c := range map[string]*http.Client{"no certificate": noCert, "certificate of another CA": foreignCert} {
				if resp, err := c.Get(base + "/healthz"); err == nil {
					resp.Body.Close()
					t.Errorf("%s with %s: HTTP %d, want the handshake refused", name, label, resp.StatusCode)
				}
			}
			plain := strings.Replace(base, "https://", "http://", 1)
			if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(plain + "/api/catalog/list"); err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s over plain HTTP: %d, want 400 (TLS required)", name, resp.StatusCode)
				}
			}
			// And the suite's own certificate is accepted.
			resp, err := s.Client.Get(base + "/healthz")
			if err != nil {
				t.Fatalf("%s with the suite's certificate: %v", name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s with the suite's certificate: %d", name, resp.StatusCode)
			}
		}
	})
}

// TestReadinessFollowsTheAPI: the router stays ready while the wallet is down (listing
// it), the broker that depends on the wallet does not, and an api on an unmigrated schema
// says which command fixes it.
func TestReadinessFollowsTheAPI(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	if err := s.Wallet.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("stop wallet: %v", err)
	}
	var body string
	if !eventually(15*time.Second, func() bool {
		resp, b := s.Get(t, "/readyz")
		body = b
		return resp.StatusCode == http.StatusOK && strings.Contains(b, `"degraded":["wallet"`)
	}) {
		t.Fatalf("router /readyz with the wallet down: %s, want 200 listing the wallet as degraded", body)
	}
	var ready struct{ Checks map[string]string }
	_ = json.Unmarshal([]byte(body), &ready)
	// The router's /readyz is open: it names the upstream, and its log says what to check.
	if w := ready.Checks["wallet"]; w == "ok" || strings.Contains(w, "NOETL_WALLET_URL") || strings.Contains(w, s.WalletURL) || ready.Checks["api"] != "ok" {
		t.Errorf("checks = %v, want the wallet not ready without its URL or variable", ready.Checks)
	}
	if !eventually(5*time.Second, func() bool { return strings.Contains(s.Router.Output(), "NOETL_WALLET_URL") }) {
		t.Errorf("the router's log does not say to check NOETL_WALLET_URL:\n%s", tail(s.Router.Output(), 20))
	}
	if code, checks := chaosReadyz(s.Client, s.BrokerURL); code != http.StatusServiceUnavailable || checks["wallet"] == "ok" {
		t.Errorf("broker /readyz with its wallet down: %d %v, want 503", code, checks)
	}

	t.Run("unmigrated schema", func(t *testing.T) {
		port := freePort(t)
		start(t, "api", map[string]string{
			"DATABASE_URL": testkit.DatabaseURL(), "NOETL_SCHEMA": testkit.UniqueName("unmigrated_"),
			"NOETL_HOST": "127.0.0.1", "NOETL_PORT": fmt.Sprint(port),
		})
		url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
		var msg string
		if !eventually(20*time.Second, func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var e envelope
			_ = json.NewDecoder(resp.Body).Decode(&e)
			msg = e.Error
			return resp.StatusCode == http.StatusServiceUnavailable && msg != ""
		}) {
			t.Fatalf("api on an unmigrated schema never answered 503")
		}
		if !strings.Contains(msg, "run `noetl-api migrate`") {
			t.Errorf("message %q does not say to run noetl-api migrate", msg)
		}
	})
}
