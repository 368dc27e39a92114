package deploy

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/noetl/controlplane/shared/testkit"
)

// The four services: workload kind and name.
var services = []struct{ component, kind, name string }{
	{"router", "Deployment", "noetl-router"},
	{"api", "StatefulSet", "noetl-api"},
	{"wallet", "StatefulSet", "noetl-wallet"},
	{"broker", "Deployment", "noetl-broker"},
}

// Values profiles the acceptance names.
var (
	// production: replicas, shards, spread, budgets, policies, a digest-pinned image.
	productionValues = map[string]any{
		"image":          map[string]any{"digest": "sha256:" + strings.Repeat("ab", 32)},
		"router":         map[string]any{"replicas": 2, "pdb": map[string]any{"enabled": true}},
		"api":            map[string]any{"replicas": 3, "shardCount": 4, "pdb": map[string]any{"enabled": true}},
		"wallet":         map[string]any{"replicas": 2, "pdb": map[string]any{"enabled": true}},
		"broker":         map[string]any{"replicas": 2},
		"worker":         map[string]any{"image": map[string]any{"digest": "sha256:" + strings.Repeat("cd", 32)}},
		"topologySpread": map[string]any{"enabled": true},
		"networkPolicy":  map[string]any{"enabled": true},
	}
	// gitops: everything secret comes from outside; a plain render must work.
	gitopsValues = map[string]any{
		"secrets":     map[string]any{"existingSecret": "noetl-platform"},
		"internalTls": map[string]any{"mode": "certManager"},
	}
)

// checkInvariants asserts what every profile must hold. (Development values differ in
// one place only: live_update writes into the containers, so their root is writable.)
func checkInvariants(t *testing.T, r rendered, internalTLS bool) {
	t.Helper()
	checkProfile(t, r, internalTLS, true)
}

func checkProfile(t *testing.T, r rendered, internalTLS, readOnlyRoot bool) {
	t.Helper()
	docs := documentedVars(t)
	images := map[string]bool{}
	for _, s := range services {
		m := r.find(s.kind, s.name)
		if m == nil {
			t.Errorf("no %s %s", s.kind, s.name)
			continue
		}
		if r.find("Service", s.name) == nil {
			t.Errorf("no Service %s", s.name)
		}
		ps := podSpec(*m)
		// One ServiceAccount per service, no token unless the wallet reads Secrets.
		if ps.ServiceAccountName != s.name {
			t.Errorf("%s runs as ServiceAccount %q, want its own %q", s.name, ps.ServiceAccountName, s.name)
		}
		if sa := r.find("ServiceAccount", s.name); sa == nil {
			t.Errorf("no ServiceAccount %s", s.name)
		} else if a := sa.Obj.(*corev1.ServiceAccount).AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("ServiceAccount %s mounts its token", s.name)
		}
		if s.component != "wallet" && (ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken) {
			t.Errorf("%s mounts a ServiceAccount token", s.name)
		}
		// Numeric non-root user (a user name with runAsNonRoot never starts).
		if sc := ps.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s pod securityContext %+v: want runAsNonRoot and runAsUser 65532", s.name, ps.SecurityContext)
		}
		if ps.EnableServiceLinks == nil || *ps.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks must be false (service links inject NOETL_PORT=tcp://...)", s.name)
		}
		c := ps.Containers[0]
		images[c.Image] = true
		env := envOf(c)
		// Graceful shutdown: a preStop delay, then NOETL_SHUTDOWN_TIMEOUT, inside the grace period.
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
			t.Errorf("%s has no preStop sleep", s.name)
		} else if g := ps.TerminationGracePeriodSeconds; g == nil || *g <= 30+c.Lifecycle.PreStop.Sleep.Seconds || env["NOETL_SHUTDOWN_TIMEOUT"].Value != "30s" {
			t.Errorf("%s: grace %v must exceed preStop %d + NOETL_SHUTDOWN_TIMEOUT %q", s.name, g, c.Lifecycle.PreStop.Sleep.Seconds, env["NOETL_SHUTDOWN_TIMEOUT"].Value)
		}
		if readOnlyRoot && (c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem) {
			t.Errorf("%s: root filesystem not read-only", s.name)
		}
		if got := strings.Join(c.Command, " "); got != "noetl-"+s.component+" serve" {
			t.Errorf("%s command %q", s.name, got)
		}
		for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			if p == nil {
				t.Errorf("%s lacks a probe", s.name)
			}
		}
		for name := range env {
			if !docs[name] {
				t.Errorf("%s sets %s, which the README does not document", s.name, name)
			}
		}
		// Internal mTLS: every service presents its certificate; api, wallet and broker
		// require one, so kubelet cannot GET their probes: the binary checks itself.
		hasTLS := env["NOETL_INTERNAL_TLS_CERT"].Value != "" && env["NOETL_INTERNAL_TLS_CA"].Value != ""
		listener := env["NOETL_TLS_CLIENT_CA"].Value != ""
		if hasTLS != internalTLS || (s.component != "router" && listener != internalTLS) {
			t.Errorf("%s: internal TLS env = %v, listener mTLS = %v; want %v", s.name, hasTLS, listener, internalTLS)
		}
		if internalTLS && s.component != "router" {
			want := []string{"noetl-" + s.component, "healthcheck"}
			if p := c.ReadinessProbe; p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, want) {
				t.Errorf("%s readiness under mTLS: %+v, want exec %v", s.name, p, want)
			}
			if p := c.LivenessProbe; p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, append(want, "--live")) {
				t.Errorf("%s liveness under mTLS: %+v", s.name, p)
			}
		}
		if !internalTLS && s.component != "router" {
			if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
				t.Errorf("%s readiness without mTLS: %+v, want GET /readyz", s.name, p)
			}
		}
		if internalTLS && !slices.ContainsFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool {
			return v.Name == "internal-tls" && v.MountPath == "/etc/noetl/internal-tls" && v.ReadOnly
		}) {
			t.Errorf("%s does not mount its internal certificate", s.name)
		}
	}
	if len(images) != 1 {
		t.Errorf("services run different images: %v", images)
	}
	scheme := "http"
	if internalTLS {
		scheme = "https"
	}
	router := envOf(container(t, r, "Deployment", "noetl-router", "router"))
	if got := router["NOETL_API_URL"].Value; got != scheme+"://noetl-api:8083" {
		t.Errorf("router NOETL_API_URL = %q", got)
	}
	checkMachineIDs(t, r)
}

// checkMachineIDs is the chart's machine-id collision check: id-minting pods get their
// ordinal plus an offset, and no two workloads' ranges overlap.
func checkMachineIDs(t *testing.T, r rendered) {
	t.Helper()
	type span struct {
		name   string
		lo, hi int
	}
	var spans []span
	for _, m := range workloads(r) {
		if m.Kind == "Job" {
			continue
		}
		c := podSpec(m).Containers[0]
		env := envOf(c)
		id, ok := env["NOETL_SERVER_MACHINE_ID"]
		if !ok {
			continue
		}
		if id.ValueFrom == nil || id.ValueFrom.FieldRef == nil || id.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
			t.Errorf("%s machine id is not the pod ordinal: %+v", m.Name, id)
			continue
		}
		var off int
		fmt.Sscan(env["NOETL_SERVER_MACHINE_ID_OFFSET"].Value, &off)
		sts, ok := m.Obj.(*appsv1.StatefulSet)
		if !ok || sts.Spec.Replicas == nil {
			t.Errorf("%s mints ids but is not a StatefulSet with replicas", m.Name)
			continue
		}
		spans = append(spans, span{m.Name, off, off + int(*sts.Spec.Replicas)})
	}
	if len(spans) != 2 {
		t.Errorf("want api and wallet minting ids, got %+v", spans)
	}
	for i := range spans {
		for j := i + 1; j < len(spans); j++ {
			if spans[i].lo < spans[j].hi && spans[j].lo < spans[i].hi {
				t.Errorf("machine ids of %s %v and %s %v overlap", spans[i].name, spans[i], spans[j].name, spans[j])
			}
		}
	}
}

func TestChartProfiles(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		r := install(t, nil)
		checkInvariants(t, r, true)
		for _, kind := range []string{"Role", "RoleBinding", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Ingress", "ServiceMonitor", "PrometheusRule", "ConfigMap"} {
			if len(r.kinds(kind)) > 0 {
				t.Errorf("default render has a %s: optional objects must be off by default", kind)
			}
		}
		if len(podSpec(*r.find("StatefulSet", "noetl-api")).InitContainers) != 0 {
			t.Errorf("migrations run in a hook Job by default, not in init containers")
		}
	})
	t.Run("production-like", func(t *testing.T) {
		t.Parallel()
		r := install(t, productionValues)
		checkInvariants(t, r, true)
		api := get[*appsv1.StatefulSet](t, r, "StatefulSet", "noetl-api")
		if *api.Spec.Replicas != 3 {
			t.Errorf("api replicas %d", *api.Spec.Replicas)
		}
		env := envOf(api.Spec.Template.Spec.Containers[0])
		if env["NOETL_SHARD_COUNT"].Value != "4" || env["NOETL_SHARD_INDEX"].ValueFrom == nil {
			t.Errorf("sharding env: %+v %+v", env["NOETL_SHARD_COUNT"], env["NOETL_SHARD_INDEX"])
		}
		if w := get[*appsv1.StatefulSet](t, r, "StatefulSet", "noetl-wallet"); *w.Spec.Replicas != 2 {
			t.Errorf("wallet replicas %d", *w.Spec.Replicas)
		}
		if b := get[*appsv1.Deployment](t, r, "Deployment", "noetl-broker"); *b.Spec.Replicas != 2 {
			t.Errorf("broker replicas %d", *b.Spec.Replicas)
		}
		// The worker's own image is pinned by worker.image.digest (production values pin both).
		if img := container(t, r, "Deployment", "noetl-worker", "worker").Image; img != "noetl-controlplane-worker@sha256:"+strings.Repeat("cd", 32) {
			t.Errorf("worker image %q not pinned by worker.image.digest", img)
		}
		for _, s := range services {
			ps := podSpec(*r.find(s.kind, s.name))
			if !strings.HasSuffix(ps.Containers[0].Image, "@sha256:"+strings.Repeat("ab", 32)) {
				t.Errorf("%s image %q not pinned by digest", s.name, ps.Containers[0].Image)
			}
			if len(ps.TopologySpreadConstraints) != 2 {
				t.Errorf("%s topology spread: %+v", s.name, ps.TopologySpreadConstraints)
			}
		}
		if n := len(r.kinds("PodDisruptionBudget")); n != 3 {
			t.Errorf("%d PodDisruptionBudgets, want router, api, wallet", n)
		}
		checkNetworkPolicies(t, r)
	})
	t.Run("gitops", func(t *testing.T) {
		t.Parallel()
		// helm template / Argo CD / Flux: no cluster to look up.
		r := mustRender(t, gitopsValues, nil)
		checkInvariants(t, r, true)
		for _, m := range r.kinds("Secret") {
			t.Errorf("a GitOps render made Secret %s: nothing secret may come from a render", m.Name)
		}
		ref := envOf(container(t, r, "StatefulSet", "noetl-wallet", "wallet"))["NOETL_ENCRYPTION_KEY"].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "noetl-platform" || ref.SecretKeyRef.Key != "encryption-key" || ref.SecretKeyRef.Optional != nil {
			t.Errorf("wallet key from %+v, want the required noetl-platform/encryption-key", ref)
		}
		job := get[*batchv1.Job](t, r, "Job", "noetl-migrate")
		pw := envOf(job.Spec.Template.Spec.Containers[0])["POSTGRES_PASSWORD"].ValueFrom.SecretKeyRef
		if pw.Name != "noetl-platform" {
			t.Errorf("migration job reads the password from %s, want the existing Secret", pw.Name)
		}
		if n := len(r.kinds("Certificate")); n != 5 {
			t.Errorf("%d cert-manager Certificates, want a CA and one per service", n)
		}
	})
}

// TestChartNeverInventsKeys: a render that cannot see the cluster fails with a message
// for GitOps users instead of generating an encryption key (or CA) nobody will see again.
func TestChartNeverInventsKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"defaults", nil, "secrets.encryptionKey"},
		{"key given, token not", map[string]any{"secrets": map[string]any{"encryptionKey": strings.Repeat("A", 43) + "="}}, "secrets.internalApiToken"},
		{"internal token given, client token not", map[string]any{"secrets": map[string]any{"encryptionKey": strings.Repeat("A", 43) + "=", "internalApiToken": "t"}}, "secrets.apiToken"},
		{"client token given, worker token not", map[string]any{"secrets": map[string]any{"encryptionKey": strings.Repeat("A", 43) + "=", "internalApiToken": "t", "apiToken": "a"}}, "secrets.workerToken"},
		{"secrets given, certificates not", map[string]any{"secrets": map[string]any{"existingSecret": "mine"}}, "internalTls (mode helm)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			renderFails(t, tc.values, nil, tc.want, "existingSecret", "cannot look up the cluster")
		})
	}
	// With the values supplied explicitly a plain render is fine (development values).
	if _, err := renderChart(t, map[string]any{
		"secrets":     map[string]any{"encryptionKey": strings.Repeat("A", 43) + "=", "internalApiToken": "t", "apiToken": "a", "workerToken": "w"},
		"internalTls": map[string]any{"enabled": false},
	}, nil); err != nil {
		t.Errorf("explicit values: %v", err)
	}
}

// TestChartKeepsKeysAcrossUpgrades: the install generates the key, token and
// certificates once; an upgrade (the same render against the cluster that now holds
// them) keeps every byte.
func TestChartKeepsKeysAcrossUpgrades(t *testing.T) {
	t.Parallel()
	api := newKubeAPI(t)
	first := mustRender(t, nil, api)
	platform := get[*corev1.Secret](t, first, "Secret", "noetl-secrets")
	certs := get[*corev1.Secret](t, first, "Secret", "noetl-internal-tls")
	if !isBase64Of32(string(platform.Data["encryption-key"])) {
		t.Errorf("generated encryption key is not base64 of 32 bytes")
	}
	for _, k := range []string{"internal-api-token", "api-token", "worker-token"} {
		if len(platform.Data[k]) < 32 {
			t.Errorf("generated %s too short", k)
		}
	}
	for _, s := range []*corev1.Secret{platform, certs} {
		if s.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("Secret %s is deleted with the release: losing it loses every credential or the CA", s.Name)
		}
		s.Namespace = releaseNS
		api.put(*s)
	}
	second := mustRender(t, nil, api)
	for _, name := range []string{"noetl-secrets", "noetl-internal-tls"} {
		a, b := get[*corev1.Secret](t, first, "Secret", name), get[*corev1.Secret](t, second, "Secret", name)
		for k, v := range a.Data {
			if string(b.Data[k]) != string(v) {
				t.Errorf("upgrade changed %s/%s", name, k)
			}
		}
	}
}

// TestChartPublicAuth: the api and wallet get both public-surface tokens from the Secret
// by default (authentication on); publicAuth=false leaves them unset (open, as upstream).
// The router and broker serve no public class and get neither.
func TestChartPublicAuth(t *testing.T) {
	t.Parallel()
	want := map[string]string{"NOETL_API_TOKEN": "api-token", "NOETL_WORKER_TOKEN": "worker-token"}
	r := install(t, nil)
	for _, svc := range services {
		env := envOf(container(t, r, svc.kind, svc.name, svc.component))
		for v, key := range want {
			switch {
			case svc.component == "api" || svc.component == "wallet":
				ref := env[v].ValueFrom
				if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Key != key {
					t.Errorf("%s: %s is not read from secret key %s: %+v", svc.name, v, key, env[v])
					continue
				}
				// An existing Secret without worker-token must not keep api and wallet
				// from starting: the worker class then takes api-token (docs/security.md),
				// as the worker's own reference is optional. api-token stays required, so
				// publicAuth never leaves the surface open by a missing key.
				if optional := ref.SecretKeyRef.Optional != nil && *ref.SecretKeyRef.Optional; optional != (key == "worker-token") {
					t.Errorf("%s: %s from %s optional=%v, want %v", svc.name, v, key, optional, key == "worker-token")
				}
			case env[v].Name != "":
				t.Errorf("%s sets %s, which it does not use", svc.name, v)
			}
		}
	}
	r = install(t, map[string]any{"publicAuth": false})
	for _, name := range []string{"api", "wallet"} {
		env := envOf(container(t, r, "StatefulSet", "noetl-"+name, name))
		for v := range want {
			if env[v].Name != "" {
				t.Errorf("publicAuth=false: noetl-%s still sets %s", name, v)
			}
		}
	}
}

// TestChartSQLRoute: the api gets the SQL route's limits, and its restricted-role URL
// from the Secret key the values name (none by default).
func TestChartSQLRoute(t *testing.T) {
	t.Parallel()
	env := envOf(container(t, install(t, nil), "StatefulSet", "noetl-api", "api"))
	for v, want := range map[string]string{"NOETL_SQL_STATEMENT_TIMEOUT": "30s", "NOETL_SQL_MAX_ROWS": "10000", "NOETL_SQL_MAX_CONNECTIONS": "2"} {
		if got := env[v].Value; got != want {
			t.Errorf("%s = %q, want %s", v, got, want)
		}
	}
	if env["NOETL_SQL_DATABASE_URL"].Name != "" {
		t.Error("NOETL_SQL_DATABASE_URL set without a secret key")
	}
	env = envOf(container(t, install(t, map[string]any{"api": map[string]any{"sql": map[string]any{"databaseUrlSecretKey": "sql-url"}}}), "StatefulSet", "noetl-api", "api"))
	if ref := env["NOETL_SQL_DATABASE_URL"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Key != "sql-url" {
		t.Errorf("NOETL_SQL_DATABASE_URL = %+v, want secret key sql-url", env["NOETL_SQL_DATABASE_URL"])
	}
	// With the chart's own Secret the URL comes from values (it had no way in but a
	// kubectl edit of the Secret), and stays on an upgrade that does not repeat it.
	const url = "postgres://noetl_sql@db:5432/noetl"
	api := newKubeAPI(t)
	first := mustRender(t, map[string]any{"secrets": map[string]any{"sqlDatabaseUrl": url}}, api)
	sec := get[*corev1.Secret](t, first, "Secret", "noetl-secrets")
	if string(sec.Data["sql-database-url"]) != url {
		t.Errorf("Secret sql-database-url = %q", sec.Data["sql-database-url"])
	}
	sec.Namespace = releaseNS
	api.put(*sec)
	for name, r := range map[string]rendered{"install": first, "upgrade": mustRender(t, nil, api)} {
		ref := envOf(container(t, r, "StatefulSet", "noetl-api", "api"))["NOETL_SQL_DATABASE_URL"].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "noetl-secrets" || ref.SecretKeyRef.Key != "sql-database-url" {
			t.Errorf("%s: NOETL_SQL_DATABASE_URL from %+v, want noetl-secrets/sql-database-url", name, ref)
		}
		if s := get[*corev1.Secret](t, r, "Secret", "noetl-secrets"); string(s.Data["sql-database-url"]) != url {
			t.Errorf("%s: the Secret lost sql-database-url", name)
		}
	}
	renderFails(t, map[string]any{"secrets": map[string]any{"existingSecret": "x", "sqlDatabaseUrl": url}}, newKubeAPI(t), "secrets.sqlDatabaseUrl")
}

// TestChartInternalTLSModes checks each certificate source and the explicit opt-out.
func TestChartInternalTLSModes(t *testing.T) {
	t.Parallel()
	t.Run("helm generates a CA and one certificate per service", func(t *testing.T) {
		t.Parallel()
		r := install(t, nil)
		s := get[*corev1.Secret](t, r, "Secret", "noetl-internal-tls")
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(s.Data["ca.crt"]) {
			t.Fatal("no CA in the Secret")
		}
		for _, svc := range services {
			block, _ := pem.Decode(s.Data[svc.component+".crt"])
			if block == nil || len(s.Data[svc.component+".key"]) == 0 {
				t.Fatalf("no certificate or key for %s", svc.component)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, host := range []string{svc.name, svc.name + ".noetl.svc", svc.name + ".noetl.svc.cluster.local"} {
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
					t.Errorf("%s certificate for %s: %v", svc.component, host, err)
				}
			}
			// Each pod mounts its own pair only.
			vol := podSpec(*r.find(svc.kind, svc.name)).Volumes
			i := slices.IndexFunc(vol, func(v corev1.Volume) bool { return v.Name == "internal-tls" })
			if i < 0 || vol[i].Secret == nil || vol[i].Secret.SecretName != "noetl-internal-tls" {
				t.Fatalf("%s volume: %+v", svc.name, vol)
			}
			var keys []string
			for _, it := range vol[i].Secret.Items {
				keys = append(keys, it.Key+"->"+it.Path)
			}
			want := []string{"ca.crt->ca.crt", svc.component + ".crt->tls.crt", svc.component + ".key->tls.key"}
			if !slices.Equal(keys, want) {
				t.Errorf("%s mounts %v, want %v", svc.name, keys, want)
			}
		}
	})
	t.Run("certManager issues per-service Secrets", func(t *testing.T) {
		t.Parallel()
		r := mustRender(t, map[string]any{"internalTls": map[string]any{"mode": "certManager"}, "secrets": map[string]any{"existingSecret": "x"}}, nil)
		for _, svc := range services {
			c := get[*certManagerCertificate](t, r, "Certificate", svc.name+"-internal-tls")
			if c.Spec.SecretName != svc.name+"-internal-tls" || !slices.Contains(c.Spec.DNSNames, svc.name) ||
				!slices.Contains(c.Spec.Usages, "client auth") || !slices.Contains(c.Spec.Usages, "server auth") || c.Spec.IssuerRef.Name != "noetl-internal-ca" {
				t.Errorf("%s certificate: %+v", svc.name, c.Spec)
			}
			vol := podSpec(*r.find(svc.kind, svc.name)).Volumes
			if !slices.ContainsFunc(vol, func(v corev1.Volume) bool {
				return v.Name == "internal-tls" && v.Secret != nil && v.Secret.SecretName == svc.name+"-internal-tls"
			}) {
				t.Errorf("%s does not mount its cert-manager Secret", svc.name)
			}
		}
		if r.find("Issuer", "noetl-selfsigned") == nil || r.find("Issuer", "noetl-internal-ca") == nil {
			t.Error("no issuer chain of the release")
		}
		// A given issuer replaces the chart's own chain.
		r = mustRender(t, map[string]any{"internalTls": map[string]any{"mode": "certManager", "certManager": map[string]any{"issuerRef": map[string]any{"name": "corp-ca", "kind": "ClusterIssuer"}}}, "secrets": map[string]any{"existingSecret": "x"}}, nil)
		if len(r.kinds("Issuer")) != 0 || get[*certManagerCertificate](t, r, "Certificate", "noetl-api-internal-tls").Spec.IssuerRef.Kind != "ClusterIssuer" {
			t.Error("issuerRef not used")
		}
	})
	t.Run("existingSecret", func(t *testing.T) {
		t.Parallel()
		r := mustRender(t, map[string]any{"internalTls": map[string]any{"mode": "existingSecret", "existingSecret": "my-certs"}, "secrets": map[string]any{"existingSecret": "x"}}, nil)
		vol := podSpec(*r.find("Deployment", "noetl-broker")).Volumes
		if !slices.ContainsFunc(vol, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == "my-certs" }) {
			t.Errorf("broker volumes %+v", vol)
		}
		renderFails(t, map[string]any{"internalTls": map[string]any{"mode": "existingSecret"}, "secrets": map[string]any{"existingSecret": "x"}}, nil, "internalTls.existingSecret")
	})
	t.Run("plain HTTP only by an explicit setting", func(t *testing.T) {
		t.Parallel()
		r := install(t, map[string]any{"internalTls": map[string]any{"enabled": false}})
		checkInvariants(t, r, false)
		if r.find("Secret", "noetl-internal-tls") != nil {
			t.Error("certificates generated with internal TLS off")
		}
	})
}

func checkNetworkPolicies(t *testing.T, r rendered) {
	t.Helper()
	callers := map[string][]string{"noetl-router": nil, "noetl-api": {"router", "wallet"}, "noetl-wallet": {"router", "broker"}, "noetl-broker": {"router"}}
	for name, want := range callers {
		np := get[*networkingv1.NetworkPolicy](t, r, "NetworkPolicy", name)
		if len(np.Spec.Ingress) != 1 {
			t.Fatalf("%s: %d ingress rules", name, len(np.Spec.Ingress))
		}
		var got []string
		for _, p := range np.Spec.Ingress[0].From {
			if p.PodSelector == nil || p.NamespaceSelector != nil || p.PodSelector.MatchLabels["app.kubernetes.io/instance"] != "noetl" {
				t.Errorf("%s admits %+v, which is not a pod of this release", name, p)
				continue
			}
			got = append(got, p.PodSelector.MatchLabels["app.kubernetes.io/component"])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s is reachable from %v, want %v (only the router from outside)", name, got, want)
		}
	}
}

// TestChartRBAC: the Secrets Role exists only with the Kubernetes secret provider, only
// for the wallet, and only in the release namespace.
func TestChartRBAC(t *testing.T) {
	t.Parallel()
	r := install(t, map[string]any{"wallet": map[string]any{"kubernetesSecrets": map[string]any{"enabled": true}}})
	role := get[*rbacv1.Role](t, r, "Role", "noetl-wallet-secrets-reader")
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"secrets"}) || !slices.Equal(role.Rules[0].Verbs, []string{"get", "list"}) {
		t.Errorf("role rules %+v", role.Rules)
	}
	rb := get[*rbacv1.RoleBinding](t, r, "RoleBinding", "noetl-wallet-secrets-reader")
	if len(rb.Subjects) != 1 || rb.Subjects[0].Name != "noetl-wallet" || rb.Subjects[0].Namespace != releaseNS || rb.RoleRef.Name != role.Name {
		t.Errorf("binding %+v", rb)
	}
	for _, s := range services {
		a := podSpec(*r.find(s.kind, s.name)).AutomountServiceAccountToken
		if mounted := a != nil && *a; mounted != (s.component == "wallet") {
			t.Errorf("%s token mounted = %v", s.name, mounted)
		}
	}
	r = install(t, map[string]any{"wallet": map[string]any{"kubernetesSecrets": map[string]any{"enabled": true, "resourceNames": []any{"db-creds"}}}})
	role = get[*rbacv1.Role](t, r, "Role", "noetl-wallet-secrets-reader")
	if !slices.Equal(role.Rules[0].ResourceNames, []string{"db-creds"}) || !slices.Equal(role.Rules[0].Verbs, []string{"get"}) {
		t.Errorf("restricted role %+v", role.Rules)
	}
}

// TestChartPublicTLS: the router's own listener in HTTPS and mTLS.
func TestChartPublicTLS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		tls   map[string]any
		probe string // httpGet scheme, or "tcp"
		ca    bool
	}{
		{"https", map[string]any{"enabled": true, "secretName": "noetl-tls"}, "HTTPS", false},
		{"mtls", map[string]any{"enabled": true, "mtls": true, "secretName": "noetl-tls"}, "tcp", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := install(t, map[string]any{"tls": c.tls})
			router := container(t, r, "Deployment", "noetl-router", "router")
			env := envOf(router)
			if env["NOETL_TLS_CERT"].Value != "/etc/noetl/tls/tls.crt" || env["NOETL_TLS_KEY"].Value == "" {
				t.Fatalf("router TLS env %+v", env)
			}
			if (env["NOETL_TLS_CLIENT_CA"].Value != "") != c.ca {
				t.Errorf("NOETL_TLS_CLIENT_CA present = %v, want %v", env["NOETL_TLS_CLIENT_CA"].Value != "", c.ca)
			}
			// Workers call back on the api's public server URL (every command notification
			// carries it) and on their own server URL: both must speak the router's scheme.
			public := envOf(container(t, r, "StatefulSet", "noetl-api", "api"))["NOETL_PUBLIC_SERVER_URL"].Value
			server := envOf(container(t, r, "Deployment", "noetl-worker", "worker"))["NOETL_SERVER_URL"].Value
			if public != "https://noetl-router:8082" || server != public {
				t.Errorf("NOETL_PUBLIC_SERVER_URL = %q, worker NOETL_SERVER_URL = %q; want both https://noetl-router:8082", public, server)
			}
			switch c.probe {
			case "tcp":
				if router.ReadinessProbe.TCPSocket == nil || router.LivenessProbe.TCPSocket == nil {
					t.Errorf("public mTLS needs tcpSocket probes (kubelet has no client certificate): %+v", router.ReadinessProbe)
				}
			default:
				if router.ReadinessProbe.HTTPGet == nil || string(router.ReadinessProbe.HTTPGet.Scheme) != c.probe {
					t.Errorf("probe %+v", router.ReadinessProbe)
				}
			}
		})
	}
	renderFails(t, map[string]any{"tls": map[string]any{"enabled": true}}, newKubeAPI(t), "tls.secretName")
}

// TestChartOptionalObjects turns every optional object on.
func TestChartOptionalObjects(t *testing.T) {
	t.Parallel()
	auto := map[string]any{"enabled": true, "minReplicas": 2, "maxReplicas": 4}
	r := install(t, map[string]any{
		"router":         map[string]any{"autoscaling": auto, "pdb": map[string]any{"enabled": true}},
		"broker":         map[string]any{"autoscaling": auto},
		"api":            map[string]any{"autoscaling": auto},
		"networkPolicy":  map[string]any{"enabled": true},
		"ingress":        map[string]any{"enabled": true, "className": "nginx"},
		"metrics":        map[string]any{"serviceMonitor": map[string]any{"enabled": true}, "prometheusRule": map[string]any{"enabled": true}, "grafanaDashboard": map[string]any{"enabled": true}},
		"topologySpread": map[string]any{"enabled": true},
	})
	for _, s := range []struct{ name, kind string }{{"noetl-router", "Deployment"}, {"noetl-broker", "Deployment"}, {"noetl-api", "StatefulSet"}} {
		hpa := get[*autoscalingv2.HorizontalPodAutoscaler](t, r, "HorizontalPodAutoscaler", s.name)
		if hpa.Spec.ScaleTargetRef.Kind != s.kind || hpa.Spec.ScaleTargetRef.Name != s.name || hpa.Spec.MaxReplicas != 4 {
			t.Errorf("HPA %s: %+v", s.name, hpa.Spec)
		}
	}
	if d := get[*appsv1.Deployment](t, r, "Deployment", "noetl-router"); d.Spec.Replicas != nil {
		t.Errorf("an autoscaled Deployment must leave replicas to the HPA")
	}
	checkNetworkPolicies(t, r)
	ing := get[*networkingv1.Ingress](t, r, "Ingress", "noetl-router")
	if *ing.Spec.IngressClassName != "nginx" || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "noetl-router" {
		t.Errorf("ingress %+v", ing.Spec)
	}
	sm := r.find("ServiceMonitor", "noetl")
	if sm == nil || !strings.Contains(fmt.Sprint(sm.Map["spec"]), "component:router") {
		t.Errorf("ServiceMonitor must scrape the router (which carries every service's metrics): %v", sm)
	}
	// The samples' noetl_service clashes with no target label: nothing to honor, and
	// honoring would let a scraped sample override namespace, job or pod.
	if sm != nil && strings.Contains(fmt.Sprint(sm.Map["spec"]), "honorLabels") {
		t.Errorf("ServiceMonitor honors the samples' labels over the target's: %v", sm.Map["spec"])
	}
	rule := r.find("PrometheusRule", "noetl")
	if rule == nil {
		t.Fatal("no PrometheusRule")
	}
	exprs := fmt.Sprint(rule.Map["spec"])
	for _, metric := range []string{"noetl_outbox_depth", "noetl_outbox_publish_failures_total", "noetl_orchestrator_pass_duration_seconds_bucket", "noetl_router_upstream_up"} {
		if !strings.Contains(exprs, metric) {
			t.Errorf("PrometheusRule has no alert on %s", metric)
		}
	}
	cm := get[*corev1.ConfigMap](t, r, "ConfigMap", "noetl-dashboard")
	if cm.Labels["grafana_dashboard"] != "1" || !strings.Contains(cm.Data["noetl.json"], "noetl_outbox_depth") {
		t.Errorf("dashboard ConfigMap labels %v", cm.Labels)
	}
}

// TestChartRefusesBadConfigs: settings that would start but misbehave fail the render.
func TestChartRefusesBadConfigs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"machine id ranges overlap", map[string]any{"api": map[string]any{"replicas": 3}, "wallet": map[string]any{"machineIdOffset": 2}}, "overlap"},
		{"machine ids past 1023", map[string]any{"wallet": map[string]any{"machineIdOffset": 1023, "replicas": 2}}, "1024"},
		{"more api pods than shards", map[string]any{"api": map[string]any{"replicas": 4, "shardCount": 2}}, "shardCount"},
		{"autoscaling past the shards", map[string]any{"api": map[string]any{"shardCount": 2, "autoscaling": map[string]any{"enabled": true, "maxReplicas": 3}}}, "shardCount"},
		{"unknown migrate mode", map[string]any{"migrate": map[string]any{"mode": "sometimes"}}, "migrate.mode"},
		{"unknown certificate mode", map[string]any{"internalTls": map[string]any{"mode": "vault"}}, "internalTls.mode"},
		{"existing secret plus values", map[string]any{"secrets": map[string]any{"existingSecret": "x", "encryptionKey": "y"}}, "secrets.existingSecret"},
		// Every secrets.* value is ignored beside an existing Secret, the public tokens too.
		{"existing secret plus api token", map[string]any{"secrets": map[string]any{"existingSecret": "x", "apiToken": "a"}}, "secrets.apiToken"},
		{"existing secret plus worker token", map[string]any{"secrets": map[string]any{"existingSecret": "x", "workerToken": "w"}}, "secrets.workerToken"},
		{"existing secret plus previous keys", map[string]any{"secrets": map[string]any{"existingSecret": "x", "previousEncryptionKeys": "v0=AAAA"}}, "secrets.previousEncryptionKeys"},
		{"existing secret plus azure secret", map[string]any{"secrets": map[string]any{"existingSecret": "x", "azureClientSecret": "s"}}, "secrets.azureClientSecret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			renderFails(t, tc.values, newKubeAPI(t), tc.want)
		})
	}
}

// renderFails asserts that the chart refuses values with an error saying every want.
func renderFails(t *testing.T, values map[string]any, api *kubeAPI, want ...string) {
	t.Helper()
	_, err := renderChart(t, values, api)
	if err == nil {
		t.Fatalf("the chart rendered %v; want it refused", values)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("render error lacks %q: %v", w, err)
		}
	}
}

// TestChartMigrationModes: a pre-install/pre-upgrade Job by default, init containers or
// nothing on request.
func TestChartMigrationModes(t *testing.T) {
	t.Parallel()
	r := install(t, nil)
	job := get[*batchv1.Job](t, r, "Job", "noetl-migrate")
	if job.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
		t.Errorf("job hook %q", job.Annotations["helm.sh/hook"])
	}
	// Each service that owns tables applies its own history.
	var commands []string
	for _, c := range job.Spec.Template.Spec.Containers {
		commands = append(commands, strings.Join(c.Command, " "))
	}
	if strings.Join(commands, "; ") != "noetl-api migrate up; noetl-wallet migrate up" {
		t.Errorf("job commands %v", commands)
	}
	c := job.Spec.Template.Spec.Containers[0]
	// The chart's Secret does not exist yet when a pre-install hook runs: the password
	// comes from a hook Secret created just before the Job.
	ref := envOf(c)["POSTGRES_PASSWORD"].ValueFrom.SecretKeyRef
	hook := get[*corev1.Secret](t, r, "Secret", ref.Name)
	if hook.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" || hook.Annotations["helm.sh/hook-weight"] != "-5" || !strings.Contains(hook.Annotations["helm.sh/hook-delete-policy"], "hook-succeeded") {
		t.Errorf("password Secret %s annotations %v", hook.Name, hook.Annotations)
	}
	if a := job.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Error("the migration job mounts a token")
	}

	r = install(t, map[string]any{"migrate": map[string]any{"mode": "initContainer"}})
	if r.find("Job", "noetl-migrate") != nil {
		t.Error("a Job with mode initContainer")
	}
	for _, name := range []string{"noetl-api", "noetl-wallet"} {
		ic := podSpec(*r.find("StatefulSet", name)).InitContainers
		if len(ic) != 1 || strings.Join(ic[0].Command, " ") != name+" migrate" {
			t.Errorf("%s init containers %+v", name, ic)
		}
	}
	r = install(t, map[string]any{"migrate": map[string]any{"mode": "none"}})
	if r.find("Job", "noetl-migrate") != nil || len(podSpec(*r.find("StatefulSet", "noetl-api")).InitContainers) != 0 {
		t.Error("mode none still migrates")
	}
}

func TestChartLints(t *testing.T) {
	t.Parallel()
	kv := &chartutil.KubeVersion{Version: "v1.31.0", Major: "1", Minor: "31"}
	// helm lint --strict: warnings count. Lint renders without a cluster, where `fail`
	// only logs, so the defaults lint although a plain render of them refuses to run.
	for _, values := range []map[string]any{{}, gitopsValues, productionValues} {
		linter := lint.AllWithKubeVersion(chartDir(t), values, releaseNS, kv)
		for _, m := range linter.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint: %s", m)
			}
		}
	}
}

// TestValuesDocumented: every key of values.yaml has a comment (on its line or just
// above), except the inside of requests/limits and list items.
func TestValuesDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^(\s*)([A-Za-z][A-Za-z0-9]*):`)
	lines := strings.Split(string(b), "\n")
	exempt := -1 // indentation below which keys are exempt
	for i, line := range lines {
		m := key.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		if exempt >= 0 && indent > exempt {
			continue
		}
		exempt = -1
		if m[2] == "resources" || m[2] == "hosts" {
			exempt = indent
		}
		prev := ""
		if i > 0 {
			prev = strings.TrimSpace(lines[i-1])
		}
		if !strings.Contains(line, " # ") && !strings.HasPrefix(prev, "#") {
			t.Errorf("values.yaml:%d: %s has no comment", i+1, strings.TrimSpace(line))
		}
	}
}

func TestChartDevValues(t *testing.T) {
	t.Parallel()
	vals, err := chartutil.ReadValuesFile(filepath.Join(testkit.RepoRoot(t), "deploy", "dev", "values-dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Tilt renders with `helm template`: the development values must not need a cluster.
	r := mustRender(t, vals.AsMap(), nil)
	checkProfile(t, r, true, false)
	sec := get[*corev1.Secret](t, r, "Secret", "noetl-secrets")
	if !isBase64Of32(string(sec.Data["encryption-key"])) {
		t.Errorf("dev encryption key is not base64 of 32 bytes")
	}
	// The Tilt section tells developers the client token: the one these values set.
	doc, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs", "deployment.md"))
	if err != nil {
		t.Fatal(err)
	}
	if tok := string(sec.Data["api-token"]); tok == "" || !strings.Contains(string(doc), "NOETL_API_TOKEN="+tok+" ") {
		t.Errorf("docs/deployment.md does not give Tilt's client token %q", tok)
	}
}

// The worker: its own Deployment on the worker image, probes on its port, a pod grace
// period longer than the time it lets commands finish, the router as its control plane,
// the worker token (optional until the Secret carries one), never the internal token in
// the shared pool, and a ServiceAccount without a token.
func TestChartWorker(t *testing.T) {
	t.Parallel()
	r := install(t, nil)
	d := get[*appsv1.Deployment](t, r, "Deployment", "noetl-worker")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v", d.Spec.Replicas)
	}
	ps := d.Spec.Template.Spec
	c := container(t, r, "Deployment", "noetl-worker", "worker")
	if !strings.HasPrefix(c.Image, "noetl-controlplane-worker:") || strings.Join(c.Command, " ") != "noetl-worker serve" {
		t.Errorf("worker image %q command %v", c.Image, c.Command)
	}
	env := envOf(c)
	docs := documentedVars(t)
	for name := range env {
		if !docs[name] {
			t.Errorf("the worker sets %s, which the README does not document", name)
		}
	}
	if env["NOETL_SERVER_URL"].Value != "http://noetl-router:8082" {
		t.Errorf("NOETL_SERVER_URL = %+v", env["NOETL_SERVER_URL"])
	}
	if ref := env["NOETL_WORKER_TOKEN"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional {
		t.Errorf("NOETL_WORKER_TOKEN = %+v", env["NOETL_WORKER_TOKEN"])
	}
	if _, ok := env["NOETL_INTERNAL_API_TOKEN"]; ok {
		t.Errorf("the shared pool must not hold the internal token")
	}
	if env["NOETL_NATS_SUBJECT_PREFIX"].Value != "noetl" || env["NOETL_SHUTDOWN_TIMEOUT"].Value != "60s" {
		t.Errorf("prefix %+v, shutdown %+v", env["NOETL_NATS_SUBJECT_PREFIX"], env["NOETL_SHUTDOWN_TIMEOUT"])
	}
	if g := ps.TerminationGracePeriodSeconds; g == nil || *g != 75 {
		t.Errorf("terminationGracePeriodSeconds = %v, want the shutdown timeout plus 15", g)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.StrVal != "http" {
		t.Errorf("readiness %+v", c.ReadinessProbe)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness %+v", c.LivenessProbe)
	}
	if ps.ServiceAccountName != "noetl-worker" || ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		t.Errorf("service account %q, automount %v", ps.ServiceAccountName, ps.AutomountServiceAccountToken)
	}
	if sc := ps.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("pod securityContext %+v", ps.SecurityContext)
	}
	if api := envOf(container(t, r, "StatefulSet", "noetl-api", "api")); api["NOETL_NATS_SUBJECT_PREFIX"].Value != "noetl" {
		t.Errorf("the api publishes under prefix %+v", api["NOETL_NATS_SUBJECT_PREFIX"])
	}
	sys := envOf(container(t, install(t, map[string]any{"worker": map[string]any{"segment": "system"}}), "Deployment", "noetl-worker", "worker"))
	if _, ok := sys["NOETL_INTERNAL_API_TOKEN"]; !ok || sys["WORKER_POOL_SEGMENT"].Value != "system" {
		t.Errorf("a system pool gets the internal token")
	}
	if install(t, map[string]any{"worker": map[string]any{"enabled": false}}).find("Deployment", "noetl-worker") != nil {
		t.Errorf("worker.enabled=false still renders a worker")
	}
	// A router closed to all but routerFrom still admits the release's workers; the
	// workers are scraped by a PodMonitor of their own.
	np := get[*networkingv1.NetworkPolicy](t, install(t, map[string]any{"networkPolicy": map[string]any{"enabled": true,
		"routerFrom": []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "clients"}}}}}}), "NetworkPolicy", "noetl-router")
	if !slices.ContainsFunc(np.Spec.Ingress[0].From, func(p networkingv1.NetworkPolicyPeer) bool {
		return p.PodSelector != nil && p.PodSelector.MatchLabels["app.kubernetes.io/component"] == "worker"
	}) {
		t.Errorf("the router's policy shuts out the workers: %+v", np.Spec.Ingress[0].From)
	}
	mon := install(t, map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}})
	if mon.find("PodMonitor", "noetl-worker") == nil {
		t.Fatalf("no PodMonitor for the workers")
	}
	// The dashboard splits by noetl_service, which the router's samples carry and the
	// workers' own do not: the PodMonitor sets it on every worker target.
	pm := get[*monitoringv1.PodMonitor](t, mon, "PodMonitor", "noetl-worker")
	for _, ep := range pm.Spec.PodMetricsEndpoints {
		if !slices.ContainsFunc(ep.RelabelConfigs, func(rc monitoringv1.RelabelConfig) bool {
			return rc.TargetLabel == "noetl_service" && rc.Replacement != nil && *rc.Replacement == "worker" &&
				(rc.Action == "" || strings.EqualFold(rc.Action, "replace"))
		}) {
			t.Errorf("a PodMonitor endpoint does not label its samples noetl_service=worker: %+v", ep.RelabelConfigs)
		}
	}
}

// TestChartDynamicProviders: the wallet gets the dynamic providers' settings from
// wallet.dynamicProviders, and AZURE_CLIENT_SECRET only from the chart's Secret (optional,
// so a release without azure_oauth starts).
func TestChartDynamicProviders(t *testing.T) {
	t.Parallel()
	env := envOf(container(t, install(t, nil), "StatefulSet", "noetl-wallet", "wallet"))
	for k, want := range map[string]string{"NOETL_AWS_STS_DURATION_SECS": "3600", "NOETL_GCP_IAM_LIFETIME_SECS": "3600",
		"NOETL_AZURE_OAUTH_SCOPE": "https://graph.microsoft.com/.default", "KEYCHAIN_CACHE_REFRESH_WINDOW_SECS": "60",
		"KEYCHAIN_CACHE_DYNAMIC_SAFETY_MARGIN_SECS": "60"} {
		if env[k].Value != want {
			t.Errorf("default %s = %q, want %q", k, env[k].Value, want)
		}
	}
	for _, k := range []string{"NOETL_GCP_IMPERSONATE_SA", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AWS_ROLE_ARN"} {
		if _, ok := env[k]; ok {
			t.Errorf("default render sets %s", k)
		}
	}
	r := install(t, map[string]any{
		"secrets": map[string]any{"azureClientSecret": "chart-azure-secret"},
		"wallet": map[string]any{"dynamicProviders": map[string]any{"awsStsDurationSecs": 900, "gcpImpersonateSa": "etl@p.iam.gserviceaccount.com",
			"azureTenantId": "contoso.onmicrosoft.com", "azureClientId": "00000000-aaaa-bbbb-cccc-000000000001", "refreshWindowSecs": 0}},
	})
	env = envOf(container(t, r, "StatefulSet", "noetl-wallet", "wallet"))
	for k, want := range map[string]string{"NOETL_AWS_STS_DURATION_SECS": "900", "NOETL_GCP_IMPERSONATE_SA": "etl@p.iam.gserviceaccount.com", "KEYCHAIN_CACHE_REFRESH_WINDOW_SECS": "0",
		"AZURE_TENANT_ID": "contoso.onmicrosoft.com", "AZURE_CLIENT_ID": "00000000-aaaa-bbbb-cccc-000000000001"} {
		if env[k].Value != want {
			t.Errorf("%s = %q, want %q", k, env[k].Value, want)
		}
	}
	ref := env["AZURE_CLIENT_SECRET"].ValueFrom
	if env["AZURE_CLIENT_SECRET"].Value != "" || ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Key != "azure-client-secret" ||
		ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional {
		t.Errorf("AZURE_CLIENT_SECRET = %+v, want an optional reference to the Secret's azure-client-secret", env["AZURE_CLIENT_SECRET"])
	}
	if sec := get[*corev1.Secret](t, r, "Secret", "noetl-secrets"); string(sec.Data["azure-client-secret"]) != "chart-azure-secret" {
		t.Errorf("Secret azure-client-secret = %q", sec.Data["azure-client-secret"])
	}
}

// TestChartVaultKubernetesAuth: wallet.vaultKubernetesAuth.role sets the Vault
// Kubernetes auth variables and mounts the wallet's ServiceAccount token it logs in with;
// without a role neither happens (the token stays unmounted).
func TestChartVaultKubernetesAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		values map[string]any
		env    map[string]string // "" : not set
		mount  bool
	}{
		{"default", nil, map[string]string{"NOETL_VAULT_K8S_ROLE": "", "NOETL_VAULT_K8S_MOUNT": ""}, false},
		{"a role", map[string]any{"wallet": map[string]any{"vaultKubernetesAuth": map[string]any{"role": "noetl-wallet"}}},
			map[string]string{"NOETL_VAULT_K8S_ROLE": "noetl-wallet", "NOETL_VAULT_K8S_MOUNT": "kubernetes"}, true},
		{"a role on another mount", map[string]any{"wallet": map[string]any{"vaultKubernetesAuth": map[string]any{"role": "etl", "mount": "k8s-eu"}}},
			map[string]string{"NOETL_VAULT_K8S_ROLE": "etl", "NOETL_VAULT_K8S_MOUNT": "k8s-eu"}, true},
		{"kubernetes secrets only", map[string]any{"wallet": map[string]any{"kubernetesSecrets": map[string]any{"enabled": true}}},
			map[string]string{"NOETL_VAULT_K8S_ROLE": ""}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := install(t, tc.values)
			env := envOf(container(t, r, "StatefulSet", "noetl-wallet", "wallet"))
			for k, want := range tc.env {
				if got, ok := env[k]; got.Value != want || ok != (want != "") {
					t.Errorf("%s = %q (set %v), want %q", k, got.Value, ok, want)
				}
			}
			ps := podSpec(*r.find("StatefulSet", "noetl-wallet"))
			if a := ps.AutomountServiceAccountToken; a == nil || *a != tc.mount {
				t.Errorf("automountServiceAccountToken = %v, want %v", a, tc.mount)
			}
		})
	}
}

// TestChartExtraVolumes: every workload takes extra volumes and mounts: the files a
// <NAME>_FILE variable names (a CSI secret-store mount) and the worker's CA bundle for
// an HTTPS router, which values.yaml tells users to mount.
func TestChartExtraVolumes(t *testing.T) {
	t.Parallel()
	extra := func(name string) map[string]any {
		return map[string]any{
			"extraVolumes":      []any{map[string]any{"name": name, "secret": map[string]any{"secretName": name}}},
			"extraVolumeMounts": []any{map[string]any{"name": name, "mountPath": "/var/secrets/" + name, "readOnly": true}},
		}
	}
	values := map[string]any{}
	workloads := append(services[:len(services):len(services)], struct{ component, kind, name string }{"worker", "Deployment", "noetl-worker"})
	for _, s := range workloads {
		values[s.component] = extra("extra-" + s.component)
	}
	r := install(t, values)
	for _, s := range workloads {
		t.Run(s.component, func(t *testing.T) {
			ps := podSpec(*r.find(s.kind, s.name))
			name := "extra-" + s.component
			if !slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool { return v.Name == name && v.Secret != nil && v.Secret.SecretName == name }) {
				t.Errorf("no volume %s: %+v", name, ps.Volumes)
			}
			c := container(t, r, s.kind, s.name, s.component)
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == name && m.MountPath == "/var/secrets/"+name }) {
				t.Errorf("no mount of %s: %+v", name, c.VolumeMounts)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "tmp" }) {
				t.Errorf("the extra mounts replaced the chart's own: %+v", c.VolumeMounts)
			}
		})
	}
}

// TestChartPodSecurityRestricted: every pod of every profile (migration Job and init
// containers included) passes the Pod Security Standard "restricted", which GKE
// Autopilot and namespaces labelled pod-security.kubernetes.io/enforce=restricted
// require: a pod that fails it is never created.
func TestChartPodSecurityRestricted(t *testing.T) {
	t.Parallel()
	profiles := map[string]map[string]any{
		"default":         nil,
		"production":      productionValues,
		"init migrations": {"migrate": map[string]any{"mode": "initContainer"}, "worker": map[string]any{"segment": "system"}},
		"k8s provider":    {"wallet": map[string]any{"kubernetesSecrets": map[string]any{"enabled": true}}},
	}
	for name, values := range profiles {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := install(t, values)
			for _, m := range workloads(r) {
				ps := podSpec(m)
				if ps.HostNetwork || ps.HostPID || ps.HostIPC {
					t.Errorf("%s %s shares a host namespace", m.Kind, m.Name)
				}
				for _, v := range ps.Volumes {
					if v.HostPath != nil {
						t.Errorf("%s %s mounts hostPath %s", m.Kind, m.Name, v.HostPath.Path)
					}
				}
				psc := ps.SecurityContext
				if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
					t.Errorf("%s %s: pod runAsNonRoot not set", m.Kind, m.Name)
				}
				podSeccomp := psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
				for _, c := range append(ps.InitContainers, ps.Containers...) {
					sc := c.SecurityContext
					if sc == nil {
						t.Errorf("%s %s/%s has no securityContext", m.Kind, m.Name, c.Name)
						continue
					}
					if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
						t.Errorf("%s %s/%s allows privilege escalation", m.Kind, m.Name, c.Name)
					}
					if sc.Privileged != nil && *sc.Privileged {
						t.Errorf("%s %s/%s is privileged", m.Kind, m.Name, c.Name)
					}
					if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
						t.Errorf("%s %s/%s capabilities %+v: want drop ALL, add none", m.Kind, m.Name, c.Name, sc.Capabilities)
					}
					if !podSeccomp && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
						t.Errorf("%s %s/%s has no RuntimeDefault seccomp profile", m.Kind, m.Name, c.Name)
					}
					for _, p := range c.Ports {
						if p.HostPort != 0 {
							t.Errorf("%s %s/%s takes host port %d", m.Kind, m.Name, c.Name, p.HostPort)
						}
					}
				}
			}
		})
	}
}

// renderNotes renders the chart's NOTES.txt, which `helm install` prints.
func renderNotes(t *testing.T, values map[string]any) string {
	t.Helper()
	ch := loadChart(t)
	caps := chartutil.DefaultCapabilities.Copy()
	vals, err := chartutil.ToRenderValues(ch, values,
		chartutil.ReleaseOptions{Name: "noetl", Namespace: releaseNS, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.RenderWithClient(ch, vals, newKubeAPI(t).config())
	if err != nil {
		t.Fatal(err)
	}
	return files["noetl/templates/NOTES.txt"]
}

// TestChartNotes: what `helm install` prints gets a user to a first authenticated call:
// where the client token is, and the router's scheme.
func TestChartNotes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values map[string]any
		want   []string
		not    []string
	}{
		{"default", nil, []string{"curl -s http://localhost:8082/readyz", "get secret noetl-secrets -o jsonpath='{.data.api-token}'", "Authorization: Bearer $NOETL_API_TOKEN"}, []string{"WARNING"}},
		{"existing secret, https", map[string]any{"secrets": map[string]any{"existingSecret": "mine"}, "tls": map[string]any{"enabled": true, "secretName": "t"}},
			[]string{"https://localhost:8082/readyz", "get secret mine -o jsonpath='{.data.api-token}'", "NOETL_URL=https://localhost:8082"}, nil},
		{"open", map[string]any{"publicAuth": false}, []string{"WARNING: publicAuth=false"}, []string{"api-token"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			notes := renderNotes(t, tc.values)
			for _, w := range tc.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES lack %q:\n%s", w, notes)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(notes, n) {
					t.Errorf("NOTES hold %q:\n%s", n, notes)
				}
			}
		})
	}
}

// TestChartRouterAliases: router.service.aliases adds Services on the router pods under
// other names (upstream's workers call http://noetl.<namespace>.svc:8082).
func TestChartRouterAliases(t *testing.T) {
	t.Parallel()
	r := install(t, map[string]any{"router": map[string]any{"service": map[string]any{"aliases": []any{"noetl"}}}})
	alias := get[*corev1.Service](t, r, "Service", "noetl")
	router := get[*corev1.Service](t, r, "Service", "noetl-router")
	if fmt.Sprint(alias.Spec.Selector) != fmt.Sprint(router.Spec.Selector) {
		t.Errorf("alias selects %v, the router Service %v", alias.Spec.Selector, router.Spec.Selector)
	}
	if len(alias.Spec.Ports) != 1 || alias.Spec.Ports[0].Port != 8082 || alias.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("alias ports %+v", alias.Spec.Ports)
	}
	if n := len(install(t, nil).kinds("Service")); n != len(r.kinds("Service"))-1 {
		t.Errorf("the default render has %d Services, the aliased one %d: want exactly one more", n, len(r.kinds("Service")))
	}
}

// TestChartPostgresExtraEnv: postgres.extraEnv (PGSSLMODE for a server that requires
// TLS) reaches every container that connects to PostgreSQL, the migrations included:
// a setting only the services got would leave the hook Job unable to connect.
func TestChartPostgresExtraEnv(t *testing.T) {
	t.Parallel()
	pg := map[string]any{"extraEnv": []any{map[string]any{"name": "PGSSLMODE", "value": "require"}}}
	for _, mode := range []string{"hook", "initContainer"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := install(t, map[string]any{"postgres": pg, "migrate": map[string]any{"mode": mode}})
			n := 0
			for _, m := range workloads(r) {
				ps := podSpec(m)
				for _, c := range append(ps.InitContainers, ps.Containers...) {
					env := envOf(c)
					if _, db := env["POSTGRES_HOST"]; !db {
						continue
					}
					n++
					if env["PGSSLMODE"].Value != "require" {
						t.Errorf("%s %s/%s connects to PostgreSQL without postgres.extraEnv", m.Kind, m.Name, c.Name)
					}
				}
			}
			if n < 4 {
				t.Errorf("only %d containers connect to PostgreSQL: want api, wallet and both migrations", n)
			}
		})
	}
}

// TestChartServiceMonitorTLS: with the router on HTTPS the ServiceMonitor scrapes https
// and carries metrics.serviceMonitor.tlsConfig (the pod IP Prometheus scrapes is on no
// certificate, so without a serverName every scrape failed verification).
func TestChartServiceMonitorTLS(t *testing.T) {
	t.Parallel()
	r := install(t, map[string]any{
		"tls": map[string]any{"enabled": true, "secretName": "noetl-tls"},
		"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true,
			"tlsConfig": map[string]any{"serverName": "noetl.example.com"}}},
	})
	sm := get[*monitoringv1.ServiceMonitor](t, r, "ServiceMonitor", "noetl")
	ep := sm.Spec.Endpoints[0]
	if ep.Scheme == nil || !strings.EqualFold(string(*ep.Scheme), "https") {
		t.Errorf("scheme %v, want https", ep.Scheme)
	}
	if ep.TLSConfig == nil || ep.TLSConfig.ServerName == nil || *ep.TLSConfig.ServerName != "noetl.example.com" {
		t.Errorf("tlsConfig %+v, want serverName noetl.example.com", ep.TLSConfig)
	}
	// Plain HTTP needs none.
	plain := get[*monitoringv1.ServiceMonitor](t, install(t, map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true,
		"tlsConfig": map[string]any{"serverName": "noetl.example.com"}}}}), "ServiceMonitor", "noetl")
	if plain.Spec.Endpoints[0].TLSConfig != nil {
		t.Errorf("an HTTP scrape carries a tlsConfig")
	}
}
