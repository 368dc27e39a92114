package deploy

import (
	"encoding/base64"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"

	"github.com/noetl/controlplane/shared/testkit"
)

func chartDir(t *testing.T) string {
	return filepath.Join(testkit.RepoRoot(t), "deploy", "helm", "noetl")
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

type object = map[string]any

// render renders the chart with overrides on top of values.yaml and returns every
// manifest object.
func render(t *testing.T, overrides map[string]any) ([]object, error) {
	t.Helper()
	ch := loadChart(t)
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}
	vals, err := chartutil.ToRenderValues(ch, overrides,
		chartutil.ReleaseOptions{Name: "noetl", Namespace: "noetl", Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []object
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		for _, doc := range strings.Split(files[n], "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: invalid YAML: %v\n%s", n, err, doc)
			}
			if len(o) > 0 {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

func mustRender(t *testing.T, overrides map[string]any) []object {
	t.Helper()
	objs, err := render(t, overrides)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return objs
}

func find(objs []object, kind, name string) object {
	for _, o := range objs {
		md, _ := o["metadata"].(map[string]any)
		if o["kind"] == kind && md["name"] == name {
			return o
		}
	}
	return nil
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func containers(o object) []map[string]any {
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := dig(o, "spec", "template", "spec", key).([]any)
		for _, c := range list {
			out = append(out, c.(map[string]any))
		}
	}
	return out
}

func envOf(c map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := c["env"].([]any)
	for _, e := range list {
		m := e.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

func workloads(objs []object) []object {
	var out []object
	for _, o := range objs {
		switch o["kind"] {
		case "Deployment", "StatefulSet", "Job":
			out = append(out, o)
		}
	}
	return out
}

func TestChartLints(t *testing.T) {
	t.Parallel()
	linter := lint.All(chartDir(t), map[string]any{}, "noetl", false)
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

func TestChartDefaults(t *testing.T) {
	t.Parallel()
	objs := mustRender(t, nil)
	docs := documentedVars(t)
	want := map[string]string{
		"noetl-router": "Deployment", "noetl-broker": "Deployment",
		"noetl-api": "StatefulSet", "noetl-wallet": "StatefulSet",
	}
	for name, kind := range want {
		if find(objs, kind, name) == nil {
			t.Errorf("no %s %s", kind, name)
		}
		if find(objs, "Service", name) == nil {
			t.Errorf("no Service %s", name)
		}
	}
	for _, w := range workloads(objs) {
		name := dig(w, "metadata", "name")
		if dig(w, "spec", "template", "spec", "enableServiceLinks") != false {
			t.Errorf("%s: enableServiceLinks must be false (service links inject NOETL_PORT=tcp://...)", name)
		}
		for _, c := range containers(w) {
			for env := range envOf(c) {
				if !docs[env] {
					t.Errorf("%s/%s sets %s, which the README does not document", name, c["name"], env)
				}
			}
		}
	}
	// Each replica of the id-minting services gets its pod ordinal as machine id.
	for _, name := range []string{"noetl-api", "noetl-wallet"} {
		sts := find(objs, "StatefulSet", name)
		var main map[string]any
		for _, c := range containers(sts) {
			if c["name"] != "migrate" {
				main = c
			}
		}
		ref := dig(envOf(main)["NOETL_SERVER_MACHINE_ID"], "valueFrom", "fieldRef", "fieldPath")
		if ref != "metadata.labels['apps.kubernetes.io/pod-index']" {
			t.Errorf("%s machine id from %v", name, ref)
		}
		if len(containers(sts)) != 2 {
			t.Errorf("%s: want a migrate init container and the service", name)
		}
	}
	// The router reaches the upstreams by Service name.
	router := containers(find(objs, "Deployment", "noetl-router"))[0]
	if got := envOf(router)["NOETL_API_URL"]["value"]; got != "http://noetl-api:8083" {
		t.Errorf("router NOETL_API_URL = %v", got)
	}
	// Generated secrets: an encryption key of 32 bytes and a token.
	sec := find(objs, "Secret", "noetl-secrets")
	if sec == nil {
		t.Fatal("no Secret")
	}
	data := sec["data"].(map[string]any)
	key, _ := base64.StdEncoding.DecodeString(data["encryption-key"].(string))
	if !isBase64Of32(string(key)) {
		t.Errorf("generated encryption key is not base64 of 32 bytes")
	}
	if tok, _ := base64.StdEncoding.DecodeString(data["internal-api-token"].(string)); len(tok) < 32 {
		t.Errorf("generated token too short")
	}
	if dig(sec, "metadata", "annotations", "helm.sh/resource-policy") != "keep" {
		t.Errorf("the Secret must survive uninstall: losing the key loses every credential")
	}
	// Probes are httpGet on /healthz and /readyz by default.
	if dig(router, "readinessProbe", "httpGet", "path") != "/readyz" {
		t.Errorf("router readiness probe: %v", router["readinessProbe"])
	}
}

func TestChartTLSModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values map[string]any
		probe  string // httpGet scheme, or "tcp"
		ca     bool
	}{
		{"https", map[string]any{"tls": map[string]any{"enabled": true, "secretName": "noetl-tls"}}, "HTTPS", false},
		{"mtls", map[string]any{"tls": map[string]any{"enabled": true, "mtls": true, "secretName": "noetl-tls"}}, "tcp", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs := mustRender(t, c.values)
			router := containers(find(objs, "Deployment", "noetl-router"))[0]
			env := envOf(router)
			if env["NOETL_TLS_CERT"] == nil || env["NOETL_TLS_KEY"] == nil {
				t.Fatalf("router has no TLS cert/key env")
			}
			if (env["NOETL_TLS_CLIENT_CA"] != nil) != c.ca {
				t.Errorf("NOETL_TLS_CLIENT_CA present = %v, want %v", env["NOETL_TLS_CLIENT_CA"] != nil, c.ca)
			}
			switch c.probe {
			case "tcp":
				if dig(router, "readinessProbe", "tcpSocket") == nil || dig(router, "livenessProbe", "tcpSocket") == nil {
					t.Errorf("mTLS needs tcpSocket probes (kubelet has no client cert): %v", router["readinessProbe"])
				}
			default:
				if dig(router, "readinessProbe", "httpGet", "scheme") != c.probe {
					t.Errorf("probe scheme: %v", router["readinessProbe"])
				}
			}
		})
	}
	if _, err := render(t, map[string]any{"tls": map[string]any{"enabled": true}}); err == nil || !strings.Contains(err.Error(), "tls.secretName") {
		t.Errorf("tls without a secret must fail to render, got %v", err)
	}
}

func TestChartSharding(t *testing.T) {
	t.Parallel()
	objs := mustRender(t, map[string]any{"api": map[string]any{"replicas": 4, "shardCount": 4}})
	sts := find(objs, "StatefulSet", "noetl-api")
	if dig(sts, "spec", "replicas") != float64(4) {
		t.Errorf("replicas = %v", dig(sts, "spec", "replicas"))
	}
	main := containers(sts)[1]
	env := envOf(main)
	if env["NOETL_SHARD_COUNT"]["value"] != "4" || dig(env["NOETL_SHARD_INDEX"], "valueFrom", "fieldRef", "fieldPath") == nil {
		t.Errorf("sharding env: count %v index %v", env["NOETL_SHARD_COUNT"], env["NOETL_SHARD_INDEX"])
	}
}

func TestChartDevValues(t *testing.T) {
	t.Parallel()
	vals, err := chartutil.ReadValuesFile(filepath.Join(testkit.RepoRoot(t), "deploy", "dev", "values-dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := mustRender(t, vals.AsMap())
	sec := find(objs, "Secret", "noetl-secrets")
	key, _ := base64.StdEncoding.DecodeString(sec["data"].(map[string]any)["encryption-key"].(string))
	if !isBase64Of32(string(key)) {
		t.Errorf("dev encryption key is not base64 of 32 bytes")
	}
}

// The worker: its own Deployment on the worker image, probes on its port, a pod grace
// period longer than the time it lets commands finish, the router as its control plane,
// the worker token (optional until the Secret carries one) and never the internal token
// in the shared pool.
func TestChartWorker(t *testing.T) {
	t.Parallel()
	objs := mustRender(t, nil)
	w := find(objs, "Deployment", "noetl-worker")
	if w == nil {
		t.Fatal("no worker Deployment")
	}
	if dig(w, "spec", "replicas") != float64(2) {
		t.Errorf("replicas = %v", dig(w, "spec", "replicas"))
	}
	c := containers(w)[0]
	if img, _ := c["image"].(string); !strings.HasPrefix(img, "noetl-controlplane-worker:") {
		t.Errorf("worker image %q", img)
	}
	env := envOf(c)
	if env["NOETL_SERVER_URL"]["value"] != "http://noetl-router:8082" {
		t.Errorf("NOETL_SERVER_URL = %v", env["NOETL_SERVER_URL"])
	}
	if dig(env["NOETL_WORKER_TOKEN"], "valueFrom", "secretKeyRef", "optional") != true {
		t.Errorf("NOETL_WORKER_TOKEN = %v", env["NOETL_WORKER_TOKEN"])
	}
	if env["NOETL_INTERNAL_API_TOKEN"] != nil {
		t.Errorf("the shared pool must not hold the internal token")
	}
	if env["NOETL_NATS_SUBJECT_PREFIX"]["value"] != "noetl" || env["NOETL_SHUTDOWN_TIMEOUT"]["value"] != "60s" {
		t.Errorf("prefix %v, shutdown %v", env["NOETL_NATS_SUBJECT_PREFIX"], env["NOETL_SHUTDOWN_TIMEOUT"])
	}
	if g := dig(w, "spec", "template", "spec", "terminationGracePeriodSeconds"); g != float64(75) {
		t.Errorf("terminationGracePeriodSeconds = %v, want the shutdown timeout plus 15", g)
	}
	for _, p := range []string{"livenessProbe", "readinessProbe"} {
		if dig(c, p, "httpGet", "port") != "http" {
			t.Errorf("%s: %v", p, c[p])
		}
	}
	if dig(c, "readinessProbe", "httpGet", "path") != "/readyz" {
		t.Errorf("readiness: %v", c["readinessProbe"])
	}
	sys := containers(find(mustRender(t, map[string]any{"worker": map[string]any{"segment": "system"}}), "Deployment", "noetl-worker"))[0]
	if envOf(sys)["NOETL_INTERNAL_API_TOKEN"] == nil || envOf(sys)["WORKER_POOL_SEGMENT"]["value"] != "system" {
		t.Errorf("a system pool gets the internal token")
	}
	if find(mustRender(t, map[string]any{"worker": map[string]any{"enabled": false}}), "Deployment", "noetl-worker") != nil {
		t.Errorf("worker.enabled=false still renders a worker")
	}
}
