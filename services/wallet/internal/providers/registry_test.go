package providers

import "context"
import "errors"
import "fmt"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/shared/keychainprovider"

type stubProvider struct{ id, region string }

func (s *stubProvider) Fetch(context.Context, string) (Secret, error) {
	return Secret{Value: s.region}, nil
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	builds := map[string]int{}
	failing := true
	build := func(id, region string) (Provider, error) {
		mu.Lock()
		defer mu.Unlock()
		builds[id+"/"+region]++
		if id == keychainprovider.AWS && failing {
			return nil, Errorf(ErrConfig, "aws secret provider: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
		}
		return &stubProvider{id, region}, nil
	}
	reg := prometheus.NewRegistry()
	m := NewRegistryMetrics(reg)
	r := NewRegistry(build, 10*time.Minute, m)
	now := time.Unix(1_700_000_000, 0)
	r.now = func() time.Time { return now }
	count := func(p, region, status string) float64 {
		return testutil.ToFloat64(m.builds.WithLabelValues(p, region, status))
	}

	// One build per (provider, region); concurrent first uses share it.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Get(keychainprovider.Vault, "eu"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	p1, _ := r.Get(keychainprovider.Vault, "eu")
	p2, _ := r.Get(keychainprovider.Vault, "us")
	p3, _ := r.Get(keychainprovider.Vault, "")
	if builds["vault/eu"] != 1 || builds["vault/us"] != 1 || builds["vault/"] != 1 || p1 == p2 || p2 == p3 || r.Len() != 3 {
		t.Fatalf("builds = %v, len %d", builds, r.Len())
	}
	if count(keychainprovider.Vault, "eu", BuildOK) != 1 || count(keychainprovider.Vault, "eu", BuildCacheHit) != 8 || count(keychainprovider.Vault, "-", BuildOK) != 1 {
		t.Errorf("metrics: ok=%v hit=%v empty-region ok=%v", count(keychainprovider.Vault, "eu", BuildOK), count(keychainprovider.Vault, "eu", BuildCacheHit), count(keychainprovider.Vault, "-", BuildOK))
	}

	// A failed build is not cached: the next use builds again.
	for range 2 {
		if _, err := r.Get(keychainprovider.AWS, "eu"); !errors.Is(err, ErrConfig) {
			t.Fatalf("err = %v", err)
		}
	}
	failing = false
	if _, err := r.Get(keychainprovider.AWS, "eu"); err != nil {
		t.Fatal(err)
	}
	if builds["aws/eu"] != 3 || count(keychainprovider.AWS, "eu", BuildError) != 2 || count(keychainprovider.AWS, "eu", BuildOK) != 1 {
		t.Errorf("aws builds = %d, errors counted %v", builds["aws/eu"], count(keychainprovider.AWS, "eu", BuildError))
	}

	// Stale only when strictly older than the TTL.
	now = now.Add(10 * time.Minute)
	if p, _ := r.Get(keychainprovider.Vault, "us"); p != p2 || builds["vault/us"] != 1 {
		t.Error("rebuilt at exactly the TTL")
	}
	now = now.Add(time.Nanosecond)
	if p, _ := r.Get(keychainprovider.Vault, "us"); p == p2 || builds["vault/us"] != 2 {
		t.Error("not rebuilt after the TTL")
	}

	// Without a TTL nothing goes stale.
	forever := NewRegistry(build, 0, nil)
	forever.now = r.now
	first, _ := forever.Get(keychainprovider.GCP, "x")
	now = now.Add(1000 * time.Hour)
	if p, _ := forever.Get(keychainprovider.GCP, "x"); p != first {
		t.Error("an entry went stale without a TTL")
	}
}

func TestCanonical(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"gcp": "gcp", " GCP ": "gcp", "k8s": "k8s", "kubernetes": "k8s", "vault": "vault", "aws": "aws", "aws_sm": "aws",
		"azure": "azure", "azure_kv": "azure", "aws_sts": "aws_sts", "AWS_IAM": "aws_sts", "gcp_iam": "gcp_iam",
		"gcp_iamcredentials": "gcp_iam", "azure_oauth": "azure_oauth", "azure_aad": "azure_oauth",
	} {
		if got, ok := Canonical(in); !ok || got != want {
			t.Errorf("Canonical(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "sts", "1password"} {
		if got, ok := Canonical(in); ok || got != keychainprovider.Unsupported {
			t.Errorf("Canonical(%q) = %q, %v", in, got, ok)
		}
	}
	if err := UnsupportedError("1password"); !errors.Is(err, ErrInvalidRef) {
		t.Errorf("UnsupportedError is %v", err)
	}
}

// Only the three minting providers are dynamic (their cached values are refreshed).
func TestDynamic(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"gcp", "k8s", "vault", "aws", "azure", "aws_sts", "gcp_iam", "azure_oauth", "unsupported", "aws_iam"} {
		want := id == "aws_sts" || id == "gcp_iam" || id == "azure_oauth"
		if got := Dynamic(id); got != want {
			t.Errorf("Dynamic(%q) = %v, want %v", id, got, want)
		}
	}
}

// Regions come from playbooks: past MaxProviders a provider is built for its fetch but
// not kept, and past MaxRegionLabels a region is counted as "other", so that neither the
// registry nor the metric grows with every region a playbook names.
func TestRegistryBounds(t *testing.T) {
	t.Parallel()
	builds := 0
	build := func(id, region string) (Provider, error) {
		builds++
		return &stubProvider{id, region}, nil
	}
	prom := prometheus.NewRegistry()
	m := NewRegistryMetrics(prom)
	r := NewRegistry(build, 0, m)
	region := func(i int) string { return fmt.Sprintf("r-%d", i) }
	for i := range MaxProviders + 10 {
		if p, err := r.Get(keychainprovider.Vault, region(i)); err != nil || p.(*stubProvider).region != region(i) {
			t.Fatalf("Get(%s) = %v, %v", region(i), p, err)
		}
	}
	if r.Len() != MaxProviders || builds != MaxProviders+10 {
		t.Fatalf("len %d, builds %d; want %d, %d", r.Len(), builds, MaxProviders, MaxProviders+10)
	}
	// The kept ones are reused; one past the bound is built again, and still answers.
	_, _ = r.Get(keychainprovider.Vault, region(0))
	if p, err := r.Get(keychainprovider.Vault, region(MaxProviders)); err != nil || p.(*stubProvider).region != region(MaxProviders) || builds != MaxProviders+11 {
		t.Fatalf("past the bound: %v, %v, builds %d", p, err, builds)
	}
	// ok for each labelled region and for other, and the cache hit of region 0.
	if n := testutil.CollectAndCount(m.builds); n != MaxRegionLabels+2 {
		t.Errorf("%d build series, want %d", n, MaxRegionLabels+2)
	}
	if v := testutil.ToFloat64(m.builds.WithLabelValues(keychainprovider.Vault, "other", BuildOK)); v != MaxProviders+11-MaxRegionLabels {
		t.Errorf("other = %v", v)
	}
}

func TestExpandRegion(t *testing.T) {
	t.Parallel()
	if v, err := ExpandRegion("X", "https://vault.{region}.example:8200/{region}", "eu-1"); err != nil || v != "https://vault.eu-1.example:8200/eu-1" {
		t.Errorf("= %q, %v", v, err)
	}
	if v, err := ExpandRegion("X", "https://vault.example", ""); err != nil || v != "https://vault.example" {
		t.Errorf("without placeholder = %q, %v", v, err)
	}
	if _, err := ExpandRegion("VAULT_ADDR", "https://vault.{region}.example", ""); !errors.Is(err, ErrConfig) {
		t.Errorf("no region: %v", err)
	}
	// The region is a keychain entry's: it must not move the host the provider's token
	// goes to, nor the path.
	for _, region := range []string{"evil.example/#", "x@evil.example?", "evil.example", "../..", "eu 1", strings.Repeat("a", 64)} {
		if v, err := ExpandRegion("VAULT_ADDR", "https://vault-{region}.example", region); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("region %q = %q, %v; want ErrInvalidRef", region, v, err)
		}
	}
	if v, err := ExpandRegion("X", "https://{region}.example", strings.Repeat("a", 63)); err != nil || v != "https://"+strings.Repeat("a", 63)+".example" {
		t.Errorf("63 letters = %q, %v", v, err)
	}
}
