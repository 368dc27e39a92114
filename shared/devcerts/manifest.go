package devcerts

import "encoding/json"
import "fmt"
import "os"
import "path/filepath"

// SecretManifest returns a Kubernetes Secret (as JSON, which kubectl, Helm and Tilt read
// as YAML) holding ca.crt and <service>.crt/<service>.key for each service: the layout
// the chart mounts with internalTls.mode=existingSecret. The CA's private key is left
// out: pods never need it.
func SecretManifest(dir, name, namespace string, services []string) ([]byte, error) {
	if len(services) == 0 {
		services = DefaultServices
	}
	files := []string{CAFile}
	for _, s := range services {
		files = append(files, filepath.Base(CertFile(dir, s)), filepath.Base(KeyFile(dir, s)))
	}
	data := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("devcerts: secret manifest: %w", err)
		}
		data[f] = b // encoding/json writes []byte as base64, as Secret.data wants
	}
	meta := map[string]any{
		"name":   name,
		"labels": map[string]string{"app.kubernetes.io/name": "noetl", "app.kubernetes.io/component": "internal-tls"},
	}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	return json.MarshalIndent(map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "Opaque",
		"metadata":   meta,
		"data":       data,
	}, "", "  ")
}
