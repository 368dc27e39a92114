package deploy

import "bytes"
import "encoding/json"
import "fmt"
import "path/filepath"
import "sort"
import "strings"
import "testing"

import monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
import "helm.sh/helm/v3/pkg/chart"
import "helm.sh/helm/v3/pkg/chart/loader"
import "helm.sh/helm/v3/pkg/chartutil"
import "helm.sh/helm/v3/pkg/engine"
import appsv1 "k8s.io/api/apps/v1"
import autoscalingv2 "k8s.io/api/autoscaling/v2"
import batchv1 "k8s.io/api/batch/v1"
import corev1 "k8s.io/api/core/v1"
import networkingv1 "k8s.io/api/networking/v1"
import policyv1 "k8s.io/api/policy/v1"
import rbacv1 "k8s.io/api/rbac/v1"
import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
import "sigs.k8s.io/yaml"

import "github.com/noetl/controlplane/shared/testkit"

const releaseNS = "noetl"

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

// manifest is one rendered object: its decoded Kubernetes type and a generic map.
type manifest struct {
	Kind, Name string
	File       string
	Obj        any            // *appsv1.Deployment, *corev1.Secret, ...
	Map        map[string]any // the same object, untyped
}

// rendered is a chart render.
type rendered []manifest

func (r rendered) find(kind, name string) *manifest {
	for i := range r {
		if r[i].Kind == kind && r[i].Name == name {
			return &r[i]
		}
	}
	return nil
}

func (r rendered) kinds(kind string) []manifest {
	var out []manifest
	for _, m := range r {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func get[T any](t *testing.T, r rendered, kind, name string) T {
	t.Helper()
	m := r.find(kind, name)
	if m == nil {
		var zero T
		t.Fatalf("no %s %s in the render", kind, name)
		return zero
	}
	return m.Obj.(T)
}

// renderChart renders the chart as `helm install` would (with api != nil: lookup sees
// that cluster) or as `helm template` and GitOps tools do (api == nil: no cluster).
func renderChart(t *testing.T, values map[string]any, api *kubeAPI) (rendered, error) {
	t.Helper()
	return renderRelease(t, "noetl", values, api)
}

// renderRelease is renderChart for a release of another name.
func renderRelease(t *testing.T, release string, values map[string]any, api *kubeAPI) (rendered, error) {
	t.Helper()
	ch := loadChart(t)
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.31.0", Major: "1", Minor: "31"}
	vals, err := chartutil.ToRenderValues(ch, values,
		chartutil.ReleaseOptions{Name: release, Namespace: releaseNS, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return nil, err
	}
	var files map[string]string
	if api != nil {
		files, err = engine.RenderWithClient(ch, vals, api.config())
	} else {
		files, err = engine.Render(ch, vals)
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out rendered
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		for _, doc := range strings.Split(files[n], "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s: invalid YAML: %v\n%s", n, err, doc)
			}
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil || len(m) == 0 {
				continue // a file that rendered to comments only
			}
			kind, _ := m["kind"].(string)
			md, _ := m["metadata"].(map[string]any)
			name, _ := md["name"].(string)
			obj, err := decodeStrict(kind, js)
			if err != nil {
				t.Fatalf("%s: %s %s does not decode strictly into its Kubernetes type: %v\n%s", n, kind, name, err, doc)
			}
			out = append(out, manifest{Kind: kind, Name: name, File: n, Obj: obj, Map: m})
		}
	}
	return out, nil
}

func mustRender(t *testing.T, values map[string]any, api *kubeAPI) rendered {
	t.Helper()
	r, err := renderChart(t, values, api)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// install renders against a fresh (empty) cluster, like a first `helm install`.
func install(t *testing.T, values map[string]any) rendered {
	t.Helper()
	return mustRender(t, values, newKubeAPI(t))
}

// certManagerCertificate and certManagerIssuer mirror the cert-manager.io/v1 fields the
// chart uses (cert-manager's own Go module is far too heavy for a test dependency): an
// unknown or misspelt field still fails the strict decode.
type certManagerCertificate struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SecretName  string   `json:"secretName"`
		CommonName  string   `json:"commonName"`
		DNSNames    []string `json:"dnsNames"`
		IPAddresses []string `json:"ipAddresses"`
		Usages      []string `json:"usages"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		IsCA        bool     `json:"isCA"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type certManagerIssuer struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SelfSigned *struct{} `json:"selfSigned,omitempty"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca,omitempty"`
	} `json:"spec"`
}

func decodeStrict(kind string, js []byte) (any, error) {
	var obj any
	switch kind {
	case "Deployment":
		obj = &appsv1.Deployment{}
	case "StatefulSet":
		obj = &appsv1.StatefulSet{}
	case "Service":
		obj = &corev1.Service{}
	case "ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "Secret":
		obj = &corev1.Secret{}
	case "ConfigMap":
		obj = &corev1.ConfigMap{}
	case "Role":
		obj = &rbacv1.Role{}
	case "RoleBinding":
		obj = &rbacv1.RoleBinding{}
	case "Job":
		obj = &batchv1.Job{}
	case "HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	case "Ingress":
		obj = &networkingv1.Ingress{}
	case "ServiceMonitor":
		obj = &monitoringv1.ServiceMonitor{}
	case "PrometheusRule":
		obj = &monitoringv1.PrometheusRule{}
	case "PodMonitor":
		obj = &monitoringv1.PodMonitor{}
	case "Certificate":
		obj = &certManagerCertificate{}
	case "Issuer":
		obj = &certManagerIssuer{}
	default:
		return nil, fmt.Errorf("kind %q has no Go type in this test: add one", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// podSpec returns the pod template spec of a workload manifest.
func podSpec(m manifest) *corev1.PodSpec {
	switch o := m.Obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	}
	return nil
}

func workloads(r rendered) []manifest {
	var out []manifest
	for _, m := range r {
		if podSpec(m) != nil {
			out = append(out, m)
		}
	}
	return out
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// container returns a workload's container by name.
func container(t *testing.T, r rendered, kind, workload, name string) corev1.Container {
	t.Helper()
	m := r.find(kind, workload)
	if m == nil {
		t.Fatalf("no %s %s", kind, workload)
	}
	for _, c := range append(podSpec(*m).InitContainers, podSpec(*m).Containers...) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s %s has no container %s", kind, workload, name)
	return corev1.Container{}
}
