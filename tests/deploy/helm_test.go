package deploy

import "crypto/x509"
import "encoding/pem"
import "fmt"
import "os"
import "path/filepath"
import "regexp"
import "slices"
import "strings"
import "testing"

import monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
import "helm.sh/helm/v3/pkg/chartutil"
import "helm.sh/helm/v3/pkg/engine"
import "helm.sh/helm/v3/pkg/lint"
import "helm.sh/helm/v3/pkg/lint/support"
import appsv1 "k8s.io/api/apps/v1"
import autoscalingv2 "k8s.io/api/autoscaling/v2"
import batchv1 "k8s.io/api/batch/v1"
import corev1 "k8s.io/api/core/v1"
import networkingv1 "k8s.io/api/networking/v1"
import rbacv1 "k8s.io/api/rbac/v1"
import "k8s.io/apimachinery/pkg/util/validation"

import "github.com/noetl/controlplane/shared/testkit"

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

// TestChartPublicAuth: the api, wallet and router (which answers 401 with them on a
// path it forwards nowhere) get both public-surface tokens from the Secret by default
// (authentication on); publicAuth=false leaves them unset (open, as upstream). The broker
// serves no public class and gets neither.
func TestChartPublicAuth(t *testing.T) {
	t.Parallel()
	want := map[string]string{"NOETL_API_TOKEN": "api-token", "NOETL_WORKER_TOKEN": "worker-token"}
	r := install(t, nil)
	for _, svc := range services {
		env := envOf(container(t, r, svc.kind, svc.name, svc.component))
		for v, key := range want {
			switch {
			case svc.component == "api" || svc.component == "wallet" || svc.component == "router":
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
	for _, svc := range services {
		env := envOf(container(t, r, svc.kind, svc.name, svc.component))
		for v := range want {
			if env[v].Name != "" {
				t.Errorf("publicAuth=false: %s still sets %s", svc.name, v)
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
			values := map[string]any{"tls": c.tls}
			if c.ca {
				values["worker"] = map[string]any{"clientTls": map[string]any{"secretName": "noetl-worker-tls"}}
			}
			r := install(t, values)
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
	// Every pod that runs replicas is spread, the workers too (they had no constraints).
	for _, s := range []struct{ name, kind string }{{"noetl-router", "Deployment"}, {"noetl-broker", "Deployment"}, {"noetl-worker", "Deployment"}} {
		d := get[*appsv1.Deployment](t, r, s.kind, s.name)
		tsc := d.Spec.Template.Spec.TopologySpreadConstraints
		if len(tsc) != 2 || tsc[0].LabelSelector == nil || tsc[0].LabelSelector.MatchLabels["app.kubernetes.io/component"] != strings.TrimPrefix(s.name, "noetl-") {
			t.Errorf("%s: topology spread %+v", s.name, tsc)
		}
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
		{"null: off", map[string]any{"wallet": map[string]any{"vaultKubernetesAuth": nil}},
			map[string]string{"NOETL_VAULT_K8S_ROLE": "", "NOETL_VAULT_K8S_MOUNT": ""}, false},
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
		// A router that requires client certificates answers a bare curl with a handshake error.
		{"mtls", map[string]any{"tls": map[string]any{"enabled": true, "mtls": true, "secretName": "t"}, "worker": map[string]any{"enabled": false}},
			[]string{"curl -sk --cert client.crt --key client.key https://localhost:8082/readyz", "--client-cert/--client-key"}, nil},
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

// TestChartPostgresPasswordOptional: an existing Secret without postgres-password (a role
// that signs in with IAM authentication, as on Cloud SQL, has none) still starts every
// container that connects to PostgreSQL. A required reference kept the migration hook's
// pods from being created, so helm install hung until activeDeadlineSeconds.
func TestChartPostgresPasswordOptional(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"hook", "initContainer"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := install(t, map[string]any{"secrets": map[string]any{"existingSecret": "noetl-platform"}, "migrate": map[string]any{"mode": mode}})
			n := 0
			for _, m := range workloads(r) {
				ps := podSpec(m)
				for _, c := range append(ps.InitContainers, ps.Containers...) {
					pw, ok := envOf(c)["POSTGRES_PASSWORD"]
					if !ok {
						continue
					}
					n++
					if ref := pw.ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Key != "postgres-password" ||
						ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional {
						t.Errorf("%s %s/%s: POSTGRES_PASSWORD %+v, want an optional reference to postgres-password", m.Kind, m.Name, c.Name, pw.ValueFrom)
					}
				}
			}
			if n < 4 {
				t.Errorf("only %d containers read POSTGRES_PASSWORD: want api, wallet and both migrations", n)
			}
		})
	}
}

// TestChartPostgresExtraVolumes: postgres.extraVolumes/extraVolumeMounts (the server's CA
// that PGSSLROOTCERT names for sslmode=verify-full) reach every container that connects
// to PostgreSQL, the migration Job and init containers included, which had no volumes of
// their own: migrations could not verify the server.
func TestChartPostgresExtraVolumes(t *testing.T) {
	t.Parallel()
	pg := map[string]any{
		"extraEnv": []any{map[string]any{"name": "PGSSLMODE", "value": "verify-full"},
			map[string]any{"name": "PGSSLROOTCERT", "value": "/etc/noetl/pg-ca/ca.crt"}},
		"extraVolumes":      []any{map[string]any{"name": "pg-ca", "secret": map[string]any{"secretName": "cloudsql-ca"}}},
		"extraVolumeMounts": []any{map[string]any{"name": "pg-ca", "mountPath": "/etc/noetl/pg-ca", "readOnly": true}},
	}
	for _, mode := range []string{"hook", "initContainer"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := install(t, map[string]any{"postgres": pg, "migrate": map[string]any{"mode": mode}})
			n := 0
			for _, m := range workloads(r) {
				ps := podSpec(m)
				db := false
				for _, c := range append(ps.InitContainers, ps.Containers...) {
					if _, ok := envOf(c)["POSTGRES_HOST"]; !ok {
						continue
					}
					db = true
					n++
					if !slices.ContainsFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.Name == "pg-ca" && v.MountPath == "/etc/noetl/pg-ca" }) {
						t.Errorf("%s %s/%s connects to PostgreSQL without postgres.extraVolumeMounts: %+v", m.Kind, m.Name, c.Name, c.VolumeMounts)
					}
				}
				has := slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool {
					return v.Name == "pg-ca" && v.Secret != nil && v.Secret.SecretName == "cloudsql-ca"
				})
				if has != db {
					t.Errorf("%s %s: volume pg-ca present = %v, connects to PostgreSQL = %v", m.Kind, m.Name, has, db)
				}
			}
			if n < 4 {
				t.Errorf("only %d containers connect to PostgreSQL: want api, wallet and both migrations", n)
			}
		})
	}
}

// TestChartSecretFiles: a secret given as a file (<NAME>_FILE in extraEnv, the file from a
// CSI driver or a volume) replaces the chart's reference to its Secret key. The chart
// kept its own reference, required for most keys, so an existing Secret needed an empty
// key just to let the pod start, and a chart-managed Secret's generated value plus the
// file stopped the binary ("both are set").
func TestChartSecretFiles(t *testing.T) {
	t.Parallel()
	file := func(name string) []any {
		return []any{map[string]any{"name": name + "_FILE", "value": "/var/secrets/" + strings.ToLower(name)}}
	}
	cases := []struct {
		name, variable string
		values         map[string]any
		containers     [][3]string // kind, workload, container
	}{
		{"internal token", "NOETL_INTERNAL_API_TOKEN", map[string]any{"router": map[string]any{"extraEnv": file("NOETL_INTERNAL_API_TOKEN")}},
			[][3]string{{"Deployment", "noetl-router", "router"}}},
		{"system worker's internal token", "NOETL_INTERNAL_API_TOKEN", map[string]any{"worker": map[string]any{"segment": "system", "extraEnv": file("NOETL_INTERNAL_API_TOKEN")}},
			[][3]string{{"Deployment", "noetl-worker", "worker"}}},
		{"api token", "NOETL_API_TOKEN", map[string]any{"api": map[string]any{"extraEnv": file("NOETL_API_TOKEN")}},
			[][3]string{{"StatefulSet", "noetl-api", "api"}}},
		{"worker token", "NOETL_WORKER_TOKEN", map[string]any{"worker": map[string]any{"extraEnv": file("NOETL_WORKER_TOKEN")}},
			[][3]string{{"Deployment", "noetl-worker", "worker"}}},
		{"encryption key", "NOETL_ENCRYPTION_KEY", map[string]any{"wallet": map[string]any{"extraEnv": file("NOETL_ENCRYPTION_KEY")}},
			[][3]string{{"StatefulSet", "noetl-wallet", "wallet"}}},
		{"azure secret", "AZURE_CLIENT_SECRET", map[string]any{"wallet": map[string]any{"extraEnv": file("AZURE_CLIENT_SECRET")}},
			[][3]string{{"StatefulSet", "noetl-wallet", "wallet"}}},
		{"nats password", "NATS_PASSWORD", map[string]any{"nats": map[string]any{"user": "noetl"}, "worker": map[string]any{"extraEnv": file("NATS_PASSWORD")}},
			[][3]string{{"Deployment", "noetl-worker", "worker"}}},
		{"sql url", "NOETL_SQL_DATABASE_URL", map[string]any{"api": map[string]any{"sql": map[string]any{"databaseUrlSecretKey": "sql-url"}, "extraEnv": file("NOETL_SQL_DATABASE_URL")}},
			[][3]string{{"StatefulSet", "noetl-api", "api"}}},
		// postgres.extraEnv reaches the migrations too: none of them keeps the reference.
		{"postgres password", "POSTGRES_PASSWORD", map[string]any{"postgres": map[string]any{"extraEnv": file("POSTGRES_PASSWORD")}},
			[][3]string{{"StatefulSet", "noetl-api", "api"}, {"StatefulSet", "noetl-wallet", "wallet"}, {"Job", "noetl-migrate", "migrate-api"}, {"Job", "noetl-migrate", "migrate-wallet"}}},
		// The variable itself in extraEnv wins too, instead of a duplicate entry.
		{"plain value", "NOETL_API_TOKEN", map[string]any{"wallet": map[string]any{"extraEnv": []any{map[string]any{"name": "NOETL_API_TOKEN", "value": "t"}}}},
			[][3]string{{"StatefulSet", "noetl-wallet", "wallet"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, secrets := range []map[string]any{nil, {"existingSecret": "noetl-platform"}} {
				values := map[string]any{}
				if secrets != nil {
					values["secrets"] = secrets
				}
				for k, v := range tc.values {
					values[k] = v
				}
				r := install(t, values)
				for _, w := range tc.containers {
					c := container(t, r, w[0], w[1], w[2])
					n := 0
					for _, e := range c.Env {
						if e.Name == tc.variable {
							n++
							if e.ValueFrom != nil {
								t.Errorf("%s/%s (secrets %v): %s still references the Secret beside extraEnv: %+v", w[1], w[2], secrets, tc.variable, e.ValueFrom)
							}
						}
					}
					if n > 1 {
						t.Errorf("%s/%s: %s set %d times", w[1], w[2], tc.variable, n)
					}
				}
			}
			// Without extraEnv the reference is there.
			base := map[string]any{"nats": map[string]any{"user": "noetl"}, "worker": map[string]any{"segment": "system"},
				"api": map[string]any{"sql": map[string]any{"databaseUrlSecretKey": "sql-url"}}}
			r := install(t, base)
			for _, w := range tc.containers {
				if e, ok := envOf(container(t, r, w[0], w[1], w[2]))[tc.variable]; !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					t.Errorf("%s/%s: no Secret reference for %s without extraEnv: %+v", w[1], w[2], tc.variable, e)
				}
			}
		})
	}
}

// TestChartWorkerClientTLS: with a router that requires client certificates (tls.mtls)
// the workers present one (worker.clientTls.secretName, mounted, and the worker's
// NOETL_INTERNAL_TLS_* pointing at it). They presented none, so every call they made to
// the router failed its handshake; a release that would still do so fails to render.
func TestChartWorkerClientTLS(t *testing.T) {
	t.Parallel()
	mtls := map[string]any{"enabled": true, "mtls": true, "secretName": "noetl-tls"}
	cases := []struct {
		name    string
		worker  map[string]any
		want    map[string]string // worker env; "" = absent
		mounted bool
	}{
		{"secret", map[string]any{"clientTls": map[string]any{"secretName": "noetl-worker-tls"}},
			map[string]string{"NOETL_INTERNAL_TLS_CERT": "/etc/noetl/worker-tls/tls.crt", "NOETL_INTERNAL_TLS_KEY": "/etc/noetl/worker-tls/tls.key", "NOETL_INTERNAL_TLS_CA": "/etc/noetl/worker-tls/ca.crt"}, true},
		{"system roots", map[string]any{"clientTls": map[string]any{"secretName": "noetl-worker-tls", "caCrt": false}},
			map[string]string{"NOETL_INTERNAL_TLS_CERT": "/etc/noetl/worker-tls/tls.crt", "NOETL_INTERNAL_TLS_CA": ""}, true},
		{"own CA in extraEnv", map[string]any{"clientTls": map[string]any{"secretName": "noetl-worker-tls"},
			"extraEnv": []any{map[string]any{"name": "NOETL_INTERNAL_TLS_CA", "value": "/etc/ca/bundle.pem"}}},
			map[string]string{"NOETL_INTERNAL_TLS_KEY": "/etc/noetl/worker-tls/tls.key", "NOETL_INTERNAL_TLS_CA": "/etc/ca/bundle.pem"}, true},
		{"certificate of its own in extraEnv", map[string]any{"extraEnv": []any{map[string]any{"name": "NOETL_INTERNAL_TLS_CERT", "value": "/c/tls.crt"},
			map[string]any{"name": "NOETL_INTERNAL_TLS_KEY", "value": "/c/tls.key"}}},
			map[string]string{"NOETL_INTERNAL_TLS_CERT": "/c/tls.crt"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := install(t, map[string]any{"tls": mtls, "worker": tc.worker})
			c := container(t, r, "Deployment", "noetl-worker", "worker")
			counts := map[string]int{}
			for _, e := range c.Env {
				counts[e.Name]++
			}
			env := envOf(c)
			for k, want := range tc.want {
				if got, ok := env[k]; (want == "") == ok || got.Value != want {
					t.Errorf("worker %s = %q (set %v), want %q", k, got.Value, ok, want)
				}
			}
			for k, n := range counts {
				if n > 1 {
					t.Errorf("worker sets %s %d times", k, n)
				}
			}
			ps := podSpec(*r.find("Deployment", "noetl-worker"))
			vol := slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool {
				return v.Name == "worker-tls" && v.Secret != nil && v.Secret.SecretName == "noetl-worker-tls"
			})
			mount := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == "worker-tls" && m.MountPath == "/etc/noetl/worker-tls" && m.ReadOnly
			})
			if vol != tc.mounted || mount != tc.mounted {
				t.Errorf("worker-tls volume %v, mount %v; want %v", vol, mount, tc.mounted)
			}
			// The router's own key never reaches the workers, which run playbook code.
			for _, v := range ps.Volumes {
				if v.Secret != nil && v.Secret.SecretName == "noetl-tls" {
					t.Errorf("the workers mount the router's Secret")
				}
			}
		})
	}
	// Workers that would present no certificate to a router requiring one: refused.
	renderFails(t, map[string]any{"tls": mtls}, newKubeAPI(t), "worker.clientTls.secretName")
	// Workers calling elsewhere (serverUrl), or none at all, are the user's choice.
	install(t, map[string]any{"tls": mtls, "worker": map[string]any{"serverUrl": "https://noetl.example.com"}})
	install(t, map[string]any{"tls": mtls, "worker": map[string]any{"enabled": false}})
	// No client certificate without a Secret, as before.
	if env := envOf(container(t, install(t, nil), "Deployment", "noetl-worker", "worker")); env["NOETL_INTERNAL_TLS_CERT"].Value != "" {
		t.Errorf("a default worker presents a certificate: %+v", env["NOETL_INTERNAL_TLS_CERT"])
	}
}

// TestChartIngressBodySize: behind ingress-nginx, whose default body limit (1 MiB) is below
// the router's (2 MiB, 64 MiB for results), the chart raises nginx's limit; an annotation of
// the user's wins, and other controllers get none.
func TestChartIngressBodySize(t *testing.T) {
	t.Parallel()
	const key = "nginx.ingress.kubernetes.io/proxy-body-size"
	cases := []struct {
		name    string
		ingress map[string]any
		want    string // "" = no annotation
	}{
		{"nginx", map[string]any{"className": "nginx"}, "64m"},
		{"nginx by annotation", map[string]any{"annotations": map[string]any{"kubernetes.io/ingress.class": "nginx"}}, "64m"},
		{"user's value", map[string]any{"className": "nginx", "annotations": map[string]any{key: "8m"}}, "8m"},
		{"turned off", map[string]any{"className": "nginx", "nginxProxyBodySize": ""}, ""},
		{"gce", map[string]any{"className": "gce"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.ingress["enabled"] = true
			ing := get[*networkingv1.Ingress](t, install(t, map[string]any{"ingress": tc.ingress}), "Ingress", "noetl-router")
			got, ok := ing.Annotations[key]
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("%s = %q (set %v), want %q; annotations %v", key, got, ok, tc.want, ing.Annotations)
			}
		})
	}
}

// TestChartLongReleaseNames: a release name as long as Helm allows (53 characters) renders
// objects Kubernetes accepts, and the names that refer to each other still agree. The
// chart cut only the fullname, so <fullname>-api-headless, <fullname>-wallet and
// <fullname>-migrate went past the 63 characters of a Service, a StatefulSet's pod labels
// or a Job's, and the install failed.
func TestChartLongReleaseNames(t *testing.T) {
	t.Parallel()
	everything := func(mode string) map[string]any {
		auto := map[string]any{"enabled": true, "minReplicas": 1, "maxReplicas": 2}
		return map[string]any{
			"internalTls":    map[string]any{"mode": mode},
			"router":         map[string]any{"autoscaling": auto, "pdb": map[string]any{"enabled": true}},
			"api":            map[string]any{"autoscaling": auto, "pdb": map[string]any{"enabled": true}},
			"wallet":         map[string]any{"autoscaling": auto, "kubernetesSecrets": map[string]any{"enabled": true}},
			"broker":         map[string]any{"autoscaling": auto},
			"worker":         map[string]any{"pdb": map[string]any{"enabled": true}},
			"networkPolicy":  map[string]any{"enabled": true},
			"ingress":        map[string]any{"enabled": true, "className": "nginx"},
			"metrics":        map[string]any{"serviceMonitor": map[string]any{"enabled": true}, "prometheusRule": map[string]any{"enabled": true}, "grafanaDashboard": map[string]any{"enabled": true}},
			"topologySpread": map[string]any{"enabled": true},
		}
	}
	cases := []struct {
		name, release, mode string
	}{
		{"53 characters", "production-" + strings.Repeat("x", 42), "helm"},
		{"53 characters holding the chart name", "noetl-" + strings.Repeat("y", 47), "helm"},
		{"cert-manager", "production-" + strings.Repeat("z", 42), "certManager"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if len(tc.release) != 53 {
				t.Fatalf("release name of %d characters", len(tc.release))
			}
			r, err := renderRelease(t, tc.release, everything(tc.mode), newKubeAPI(t))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			names := map[string]map[string]bool{}
			for _, m := range r {
				if names[m.Kind] == nil {
					names[m.Kind] = map[string]bool{}
				}
				if names[m.Kind][m.Name] {
					t.Errorf("two %s named %s", m.Kind, m.Name)
				}
				names[m.Kind][m.Name] = true
				var errs []string
				switch m.Kind {
				case "Service", "Job":
					// A Job's name is also the job-name label of its pods.
					errs = validation.IsDNS1035Label(m.Name)
				case "StatefulSet":
					errs = validation.IsDNS1123Label(m.Name)
					if len(m.Name) > 52 {
						errs = append(errs, fmt.Sprintf("%d characters: its pods' controller-revision-hash label <name>-<hash> passes 63", len(m.Name)))
					}
				case "Deployment":
					errs = validation.IsDNS1123Label(m.Name)
				default:
					errs = validation.IsDNS1123Subdomain(m.Name)
				}
				for _, e := range errs {
					t.Errorf("%s %s: %s", m.Kind, m.Name, e)
				}
				md, _ := m.Map["metadata"].(map[string]any)
				labels, _ := md["labels"].(map[string]any)
				if ps := podSpec(m); ps != nil {
					tmpl := m.Map["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
					for k, v := range tmpl["labels"].(map[string]any) {
						labels["template "+k] = v
					}
				}
				for k, v := range labels {
					for _, e := range validation.IsValidLabelValue(fmt.Sprint(v)) {
						t.Errorf("%s %s label %s=%v: %s", m.Kind, m.Name, k, v, e)
					}
				}
			}
			// The component's Service (not the headless one), by its label.
			service := map[string]string{}
			for _, m := range r.kinds("Service") {
				svc := m.Obj.(*corev1.Service)
				if svc.Spec.ClusterIP != corev1.ClusterIPNone {
					service[svc.Labels["app.kubernetes.io/component"]] = svc.Name
				}
			}
			secrets := names["Secret"]
			if secrets == nil {
				secrets = map[string]bool{}
			}
			for _, m := range r.kinds("Certificate") {
				secrets[m.Obj.(*certManagerCertificate).Spec.SecretName] = true
			}
			for _, m := range workloads(r) {
				ps := podSpec(m)
				if sts, ok := m.Obj.(*appsv1.StatefulSet); ok {
					if h := r.find("Service", sts.Spec.ServiceName); h == nil || h.Obj.(*corev1.Service).Spec.ClusterIP != corev1.ClusterIPNone {
						t.Errorf("StatefulSet %s: serviceName %s is no headless Service of the render", m.Name, sts.Spec.ServiceName)
					}
				}
				if m.Kind != "Job" && !names["ServiceAccount"][ps.ServiceAccountName] {
					t.Errorf("%s %s runs as ServiceAccount %s, which the render lacks", m.Kind, m.Name, ps.ServiceAccountName)
				}
				for _, v := range ps.Volumes {
					if v.Secret != nil && !secrets[v.Secret.SecretName] {
						t.Errorf("%s %s mounts Secret %s, which nothing renders or issues", m.Kind, m.Name, v.Secret.SecretName)
					}
				}
				for _, c := range append(ps.InitContainers, ps.Containers...) {
					for _, e := range c.Env {
						if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !secrets[e.ValueFrom.SecretKeyRef.Name] {
							t.Errorf("%s %s/%s: %s from Secret %s, which the render lacks", m.Kind, m.Name, c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)
						}
						if strings.HasSuffix(e.Name, "_URL") && strings.HasPrefix(e.Value, "http") {
							host := strings.Split(strings.SplitN(e.Value, "://", 2)[1], ":")[0]
							if !names["Service"][host] {
								t.Errorf("%s %s/%s: %s=%s names no Service of the render", m.Kind, m.Name, c.Name, e.Name, e.Value)
							}
						}
					}
				}
			}
			for _, m := range r.kinds("HorizontalPodAutoscaler") {
				ref := m.Obj.(*autoscalingv2.HorizontalPodAutoscaler).Spec.ScaleTargetRef
				if !names[ref.Kind][ref.Name] {
					t.Errorf("HPA %s scales %s %s, which the render lacks", m.Name, ref.Kind, ref.Name)
				}
			}
			for _, m := range r.kinds("RoleBinding") {
				if ref := m.Obj.(*rbacv1.RoleBinding).RoleRef; !names["Role"][ref.Name] {
					t.Errorf("RoleBinding %s binds Role %s, which the render lacks", m.Name, ref.Name)
				}
			}
			for _, m := range r.kinds("Ingress") {
				for _, rule := range m.Obj.(*networkingv1.Ingress).Spec.Rules {
					for _, p := range rule.HTTP.Paths {
						if !names["Service"][p.Backend.Service.Name] {
							t.Errorf("Ingress %s routes to Service %s, which the render lacks", m.Name, p.Backend.Service.Name)
						}
					}
				}
			}
			// The internal certificates name the Services the others call.
			for _, comp := range []string{"router", "api", "wallet", "broker"} {
				svc := service[comp]
				if svc == "" {
					t.Errorf("no Service of %s", comp)
					continue
				}
				var dns []string
				switch tc.mode {
				case "helm":
					var data []byte
					for _, m := range r.kinds("Secret") {
						if sec := m.Obj.(*corev1.Secret); sec.Labels["app.kubernetes.io/component"] == "internal-tls" {
							data = sec.Data[comp+".crt"]
						}
					}
					block, _ := pem.Decode(data)
					if block == nil {
						t.Fatalf("no certificate of %s in the internal-tls Secret", comp)
					}
					cert, err := x509.ParseCertificate(block.Bytes)
					if err != nil {
						t.Fatal(err)
					}
					dns = cert.DNSNames
				case "certManager":
					for _, m := range r.kinds("Certificate") {
						c := m.Obj.(*certManagerCertificate)
						if c.Metadata.Labels["app.kubernetes.io/component"] == comp {
							dns = c.Spec.DNSNames
						}
					}
				}
				if !slices.Contains(dns, svc) {
					t.Errorf("%s's certificate names %v, not its Service %s", comp, dns, svc)
				}
			}
			for _, m := range r.kinds("Certificate") {
				// cert-manager refuses a common name past 64 characters (X.509's limit).
				if cn := m.Obj.(*certManagerCertificate).Spec.CommonName; len(cn) > 64 {
					t.Errorf("Certificate %s: commonName of %d characters", m.Name, len(cn))
				}
			}
		})
	}
}

// TestChartIngressToHTTPSRouter: with the router on HTTPS (tls.enabled) the ingress
// controller must speak HTTPS to it; by default ingress-nginx and GKE's Ingress speak
// plain HTTP, which the router answers with 400, so nothing got through the Ingress.
func TestChartIngressToHTTPSRouter(t *testing.T) {
	t.Parallel()
	const nginxKey, gceKey = "nginx.ingress.kubernetes.io/backend-protocol", "cloud.google.com/app-protocols"
	tls := map[string]any{"enabled": true, "secretName": "noetl-tls"}
	cases := []struct {
		name               string
		values             map[string]any
		wantNginx, wantGce string
	}{
		{"nginx", map[string]any{"tls": tls, "ingress": map[string]any{"enabled": true, "className": "nginx"}}, "HTTPS", ""},
		{"nginx, user's value", map[string]any{"tls": tls, "ingress": map[string]any{"enabled": true, "className": "nginx", "annotations": map[string]any{nginxKey: "GRPCS"}}}, "GRPCS", ""},
		{"gce", map[string]any{"tls": tls, "ingress": map[string]any{"enabled": true, "className": "gce"}}, "", `{"http":"HTTPS"}`},
		{"gce, user's value", map[string]any{"tls": tls, "ingress": map[string]any{"enabled": true, "className": "gce-internal"},
			"router": map[string]any{"service": map[string]any{"annotations": map[string]any{gceKey: `{"http":"HTTP2"}`}}}}, "", `{"http":"HTTP2"}`},
		{"plain router", map[string]any{"ingress": map[string]any{"enabled": true, "className": "nginx"}}, "", ""},
		{"plain router on gce", map[string]any{"ingress": map[string]any{"enabled": true, "className": "gce"}}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := install(t, tc.values)
			ing := get[*networkingv1.Ingress](t, r, "Ingress", "noetl-router")
			if got := ing.Annotations[nginxKey]; got != tc.wantNginx {
				t.Errorf("Ingress %s = %q, want %q", nginxKey, got, tc.wantNginx)
			}
			svc := get[*corev1.Service](t, r, "Service", "noetl-router")
			if got := svc.Annotations[gceKey]; got != tc.wantGce {
				t.Errorf("router Service %s = %q, want %q", gceKey, got, tc.wantGce)
			}
		})
	}
}

// TestChartMigrationJobScheduling: the hook Job takes its own scheduling settings and pod
// annotations. It had none: on nodes that are all tainted it stayed Pending, and with an
// injected mesh sidecar (which never exits) it never completed; either way helm install
// waited for activeDeadlineSeconds.
func TestChartMigrationJobScheduling(t *testing.T) {
	t.Parallel()
	toleration := map[string]any{"key": "dedicated", "operator": "Equal", "value": "noetl", "effect": "NoSchedule"}
	r := install(t, map[string]any{"migrate": map[string]any{
		"podAnnotations": map[string]any{"sidecar.istio.io/inject": "false"},
		"nodeSelector":   map[string]any{"pool": "noetl"},
		"tolerations":    []any{toleration},
		"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "pool", "operator": "In", "values": []any{"noetl"}}}}}}}},
	}})
	job := get[*batchv1.Job](t, r, "Job", "noetl-migrate")
	tmpl := job.Spec.Template
	if tmpl.Annotations["sidecar.istio.io/inject"] != "false" {
		t.Errorf("pod annotations %v", tmpl.Annotations)
	}
	if tmpl.Spec.NodeSelector["pool"] != "noetl" {
		t.Errorf("nodeSelector %v", tmpl.Spec.NodeSelector)
	}
	if len(tmpl.Spec.Tolerations) != 1 || tmpl.Spec.Tolerations[0].Key != "dedicated" || tmpl.Spec.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("tolerations %+v", tmpl.Spec.Tolerations)
	}
	if a := tmpl.Spec.Affinity; a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		t.Errorf("affinity %+v", tmpl.Spec.Affinity)
	}
	// None by default.
	def := get[*batchv1.Job](t, install(t, nil), "Job", "noetl-migrate").Spec.Template
	if len(def.Annotations) != 0 || len(def.Spec.NodeSelector) != 0 || len(def.Spec.Tolerations) != 0 || def.Spec.Affinity != nil {
		t.Errorf("default Job pod: annotations %v, nodeSelector %v, tolerations %v, affinity %v", def.Annotations, def.Spec.NodeSelector, def.Spec.Tolerations, def.Spec.Affinity)
	}
}

// TestChartKeyFileMode: the volumes that hold private keys (the internal certificates,
// the router's public certificate, the worker's client certificate) are mounted 0440
// under the pod's fsGroup, so only the service's own group can read the key; a pod
// without an fsGroup keeps Kubernetes' default, which its non-root user can read.
func TestChartKeyFileMode(t *testing.T) {
	t.Parallel()
	keyVolumes := map[string]bool{"internal-tls": true, "tls": true, "worker-tls": true}
	base := map[string]any{
		"tls":    map[string]any{"enabled": true, "mtls": true, "secretName": "noetl-tls"},
		"worker": map[string]any{"clientTls": map[string]any{"secretName": "noetl-worker-tls"}},
	}
	for _, tc := range []struct {
		name    string
		fsGroup any
		want    *int32
	}{
		{"fsGroup", 65532, new(int32(0o440))},
		{"no fsGroup", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			values := map[string]any{"podSecurityContext": map[string]any{"fsGroup": tc.fsGroup}}
			for k, v := range base {
				values[k] = v
			}
			r := install(t, values)
			seen := map[string]bool{}
			for _, w := range []struct{ kind, name string }{{"Deployment", "noetl-router"}, {"StatefulSet", "noetl-api"},
				{"StatefulSet", "noetl-wallet"}, {"Deployment", "noetl-broker"}, {"Deployment", "noetl-worker"}} {
				for _, v := range podSpec(*r.find(w.kind, w.name)).Volumes {
					if !keyVolumes[v.Name] || v.Secret == nil {
						continue
					}
					seen[v.Name] = true
					if got := v.Secret.DefaultMode; (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
						t.Errorf("%s volume %s: defaultMode %v, want %v", w.name, v.Name, deref(got), deref(tc.want))
					}
				}
			}
			for name := range keyVolumes {
				if !seen[name] {
					t.Errorf("no pod mounts %s", name)
				}
			}
		})
	}
}

func deref(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}
