package deploy

import "encoding/json"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"

import corev1 "k8s.io/api/core/v1"
import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
import "k8s.io/client-go/rest"

// kubeAPI is a local Kubernetes API server that speaks the real wire format for what the
// chart's `lookup` calls need: discovery of v1 and GET/LIST of Secrets. Helm's lookup
// goes through client-go's discovery and dynamic clients, as it does against a cluster.
type kubeAPI struct {
	srv     *httptest.Server
	mu      sync.Mutex
	secrets map[string]corev1.Secret // namespace/name
	lists   int                      // LIST calls, to see that the chart only lists when it must
}

func newKubeAPI(t *testing.T) *kubeAPI {
	t.Helper()
	k := &kubeAPI{secrets: map[string]corev1.Secret{}}
	k.srv = httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *kubeAPI) config() *rest.Config { return &rest.Config{Host: k.srv.URL} }

// put stores a Secret as the cluster would hold it after an apply.
func (k *kubeAPI) put(s corev1.Secret) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.secrets[s.Namespace+"/"+s.Name] = s
}

func (k *kubeAPI) serve(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/api/v1":
		_ = json.NewEncoder(w).Encode(metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{{Name: "secrets", Namespaced: true, Kind: "Secret", Verbs: []string{"get", "list"}}},
		})
	case len(parts) == 5 && parts[2] == "namespaces" && parts[4] == "secrets" && r.Method == http.MethodGet:
		k.lists++
		list := corev1.SecretList{TypeMeta: metav1.TypeMeta{Kind: "SecretList", APIVersion: "v1"}, Items: []corev1.Secret{}}
		for _, s := range k.secrets {
			if s.Namespace == parts[3] {
				list.Items = append(list.Items, s)
			}
		}
		_ = json.NewEncoder(w).Encode(list)
	case len(parts) == 6 && parts[2] == "namespaces" && parts[4] == "secrets" && r.Method == http.MethodGet:
		s, ok := k.secrets[parts[3]+"/"+parts[5]]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
				Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
				Message: `secrets "` + parts[5] + `" not found`,
				Details: &metav1.StatusDetails{Name: parts[5], Kind: "secrets"},
			})
			return
		}
		s.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
		_ = json.NewEncoder(w).Encode(s)
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: "not served here: " + r.URL.Path})
	}
}
