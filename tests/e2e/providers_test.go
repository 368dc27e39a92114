package e2e

import "context"
import "encoding/base64"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "net/url"
import "os"
import "path/filepath"
import "sort"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/shared/testkit"

// The fake secret managers below speak each provider's real wire format: Vault KV v2,
// AWS Secrets Manager's JSON protocol (SigV4) and STS, GCP Secret Manager and IAM
// Credentials with the metadata server, Azure Key Vault with IMDS and Entra ID's token
// endpoint, and the Kubernetes API. Each records what it was asked, and fails the way
// the real service fails for the secrets named below.

// The identities the wallet presents to the providers. None may reach any output.
const (
	pvVaultToken   = "hvs.PvVaultTok+9=a"
	pvAWSKeyID     = "AKIAPVE2ETEST"
	pvAWSSecret    = "AwsSecretKey+pv/9=b"
	pvK8sToken     = "K8sSaTok+pv/8=c"
	pvGCPMetaToken = "ya29.GcpMeta+pv/7=d"
	pvAzureIMDS    = "AzImdsTok+pv/6=e"
	pvClientSecret = "AzClientSecret+pv/5=f"
	pvWebIdentity  = "WebIdentityJwt+pv/4=g"
)

// The values the providers hold or mint.
const (
	pvVaultValue  = "VaultVal+pv/1=h"
	pvAWSValue    = "AwsVal+pv/2=i"
	pvGCPValue    = "GcpVal+pv/3=j"
	pvAzureValue  = "AzureVal+pv/4=k"
	pvK8sValue    = "K8sVal+pv/5=l"
	pvSTSSecret   = "StsSecretKey+pv/6=m"
	pvIAMToken    = "ya29.IamMinted+pv/7=n"
	pvOAuthToken  = "EntraMinted+pv/8=o"
	pvVaultRotate = "VaultRotated+pv/9=p"
)

var pvSecrets = []string{pvVaultToken, pvAWSSecret, pvK8sToken, pvGCPMetaToken, pvAzureIMDS, pvClientSecret, pvWebIdentity,
	pvVaultValue, pvAWSValue, pvGCPValue, pvAzureValue, pvK8sValue, pvSTSSecret, pvIAMToken, pvOAuthToken, pvVaultRotate}

// fakeCloud is every provider's fake on one server, told apart by path prefix.
type fakeCloud struct {
	*httptest.Server
	mu    sync.Mutex
	hits  map[string]int // "<provider> <what>" -> count
	vault map[string]map[string]any
	mints map[string]int // per dynamic provider, the number of credentials minted
	// Vault's Kubernetes auth: the tokens its logins issued and not revoked.
	vaultLogins map[string]bool
}

// revokeVaultLogins revokes every token Vault's Kubernetes auth issued.
func (f *fakeCloud) revokeVaultLogins() {
	f.mu.Lock()
	clear(f.vaultLogins)
	f.mu.Unlock()
}

func (f *fakeCloud) vaultTokenValid(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return tok == pvVaultToken || f.vaultLogins[tok]
}

func (f *fakeCloud) hit(key string) {
	f.mu.Lock()
	f.hits[key]++
	f.mu.Unlock()
}

func (f *fakeCloud) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[key]
}

func (f *fakeCloud) mint(provider string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mints[provider]++
	return f.mints[provider]
}

func (f *fakeCloud) setVault(path string, data map[string]any) {
	f.mu.Lock()
	f.vault[path] = data
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newFakeCloud(t *testing.T) *fakeCloud {
	f := &fakeCloud{hits: map[string]int{}, mints: map[string]int{}, vaultLogins: map[string]bool{}, vault: map[string]map[string]any{
		"app/api":   {"token": pvVaultValue},
		"app/multi": {"a": "1", "b": "2"},
	}}
	mux := http.NewServeMux()

	// Vault's Kubernetes auth method at its default mount: the role etl binds the service
	// account token pvK8sToken; each login issues a new token with a one-hour lease.
	mux.HandleFunc("/vault/v1/auth/kubernetes/login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Role, JWT string }
		if r.Method != http.MethodPut && r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&in) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"unexpected request"}})
			return
		}
		if in.Role != "etl" || in.JWT != pvK8sToken {
			writeJSON(w, http.StatusForbidden, map[string]any{"errors": []string{"permission denied"}})
			return
		}
		n := f.mint("vault_k8s")
		tok := fmt.Sprintf("hvs.pv-k8s-%d", n)
		f.mu.Lock()
		f.vaultLogins[tok] = true
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"request_id": "r", "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil,
			"auth": map[string]any{"client_token": tok, "accessor": "a", "policies": []string{"default", "etl"}, "token_policies": []string{"default", "etl"},
				"metadata": map[string]any{"role": "etl", "service_account_name": "noetl-wallet"}, "lease_duration": 3600, "renewable": true, "token_type": "service"}})
	})
	// Vault KV v2 (token auth).
	mux.HandleFunc("/vault/v1/", func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/vault/v1/")
		mount, path, _ := strings.Cut(rest, "/data/")
		f.hit("vault " + mount + "/" + path)
		if !f.vaultTokenValid(r.Header.Get("X-Vault-Token")) {
			writeJSON(w, http.StatusForbidden, map[string]any{"errors": []string{"permission denied"}})
			return
		}
		switch mount + "/" + path {
		case "app/down":
			// The connection drops before an answer: a transport failure.
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		case "app/sealed":
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []string{"Vault is sealed"}})
			return
		case "app/forbidden":
			writeJSON(w, http.StatusForbidden, map[string]any{"errors": []string{"1 error occurred:\n\t* permission denied\n\n"}})
			return
		case "app/deleted":
			// A soft-deleted latest version: 404 with the version's metadata.
			writeJSON(w, http.StatusNotFound, map[string]any{"request_id": "r", "lease_id": "", "renewable": false, "lease_duration": 0,
				"data": map[string]any{"data": nil, "metadata": map[string]any{"created_time": "2026-01-01T00:00:00Z", "deletion_time": "2026-01-02T00:00:00Z", "destroyed": false, "version": 2}}})
			return
		}
		f.mu.Lock()
		data, ok := f.vault[mount+"/"+path]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"request_id": "r", "lease_id": "", "renewable": false, "lease_duration": 0,
			"data": map[string]any{"data": data, "metadata": map[string]any{"created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": false, "version": 3}}})
	})

	// AWS Secrets Manager, JSON 1.1 protocol, SigV4-signed.
	mux.HandleFunc("/aws-sm/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		awsErr := func(status int, typ, msg string) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": msg})
		}
		// The static key, or the role's temporary one with its session token.
		keyID, _, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="), "/")
		signed := keyID == pvAWSKeyID || strings.HasPrefix(keyID, "ASIAPV") && r.Header.Get("X-Amz-Security-Token") == "sess-"+strings.TrimPrefix(keyID, "ASIAPV")
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !signed ||
			!strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/secretsmanager/aws4_request") {
			awsErr(http.StatusBadRequest, "IncompleteSignature", "The request signature does not conform to AWS standards.")
			return
		}
		var in struct{ SecretId, VersionStage string }
		_ = json.Unmarshal(body, &in)
		f.hit("aws " + in.SecretId)
		f.hit("aws signed by " + keyID)
		switch in.SecretId {
		case "prod/api":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-AbCdEf", "Name": "prod/api",
				"SecretString": `{"token":"` + pvAWSValue + `","port":5432}`, "VersionId": "v-1", "VersionStages": []string{"AWSCURRENT"},
				"CreatedDate": 1.7e9})
		case "prod/forbidden":
			awsErr(http.StatusBadRequest, "AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/noetl/w is not authorized to perform: secretsmanager:GetSecretValue")
		case "prod/throttled":
			awsErr(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		case "prod/down":
			awsErr(http.StatusInternalServerError, "InternalServiceError", "An error occurred on the server side.")
		default:
			awsErr(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		}
	})

	// AWS STS AssumeRoleWithWebIdentity (anonymous, form-encoded, JSON answer).
	mux.HandleFunc("/sts/", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.hit("aws_sts " + r.PostForm.Get("RoleArn"))
		if r.PostForm.Get("WebIdentityToken") != pvWebIdentity {
			writeJSON(w, http.StatusBadRequest, map[string]any{"Error": map[string]string{"Type": "Sender", "Code": "InvalidIdentityToken", "Message": "Couldn't retrieve verification key from your identity provider"}, "RequestId": "r"})
			return
		}
		if strings.HasSuffix(r.PostForm.Get("RoleArn"), "/denied") {
			writeJSON(w, http.StatusForbidden, map[string]any{"Error": map[string]string{"Type": "Sender", "Code": "AccessDenied", "Message": "Not authorized to perform sts:AssumeRoleWithWebIdentity"}, "RequestId": "r"})
			return
		}
		n := f.mint("aws_sts")
		writeJSON(w, http.StatusOK, map[string]any{"AssumeRoleWithWebIdentityResponse": map[string]any{
			"AssumeRoleWithWebIdentityResult": map[string]any{
				"AssumedRoleUser": map[string]any{"Arn": "arn:aws:sts::123456789012:assumed-role/etl/noetl-server", "AssumedRoleId": "AROAPVE2E:noetl-server"},
				"Credentials": map[string]any{"AccessKeyId": fmt.Sprintf("ASIAPV%d", n), "SecretAccessKey": fmt.Sprintf("%s%d", pvSTSSecret, n),
					"SessionToken": fmt.Sprintf("sess-%d", n), "Expiration": float64(time.Now().Add(time.Hour).Unix())},
			}, "ResponseMetadata": map[string]any{"RequestId": "r"}}})
	})

	// GCP metadata server.
	mux.HandleFunc("/gcp-meta/token", func(w http.ResponseWriter, r *http.Request) {
		f.hit("gcp metadata")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": pvGCPMetaToken, "expires_in": 3599, "token_type": "Bearer"})
	})
	gcpErr := func(w http.ResponseWriter, code int, status, msg string) {
		writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
	}
	// GCP Secret Manager v1.
	mux.HandleFunc("/gcp-sm/v1/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/gcp-sm/v1/"), ":access")
		f.hit("gcp " + name)
		if r.Header.Get("Authorization") != "Bearer "+pvGCPMetaToken {
			gcpErr(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
			return
		}
		switch name {
		case "projects/pv-proj/secrets/api/versions/latest", "projects/pv-proj/secrets/api/versions/3":
			writeJSON(w, http.StatusOK, map[string]any{"name": "projects/123/secrets/api/versions/3",
				"payload": map[string]any{"data": base64.StdEncoding.EncodeToString([]byte(pvGCPValue)), "dataCrc32c": "1"}})
		case "projects/pv-proj/secrets/forbidden/versions/latest":
			gcpErr(w, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'secretmanager.versions.access' denied for resource 'projects/pv-proj/secrets/forbidden/versions/latest' (or it may not exist).")
		case "projects/pv-proj/secrets/api/versions/2":
			gcpErr(w, http.StatusBadRequest, "FAILED_PRECONDITION", "Secret Version [projects/123/secrets/api/versions/2] is in DISABLED state.")
		default:
			gcpErr(w, http.StatusNotFound, "NOT_FOUND", "Secret ["+name+"] not found or has no versions.")
		}
	})
	// GCP IAM Credentials generateAccessToken.
	mux.HandleFunc("/gcp-iam/v1/", func(w http.ResponseWriter, r *http.Request) {
		sa := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/gcp-iam/v1/projects/-/serviceAccounts/"), ":generateAccessToken")
		f.hit("gcp_iam " + sa)
		if r.Header.Get("Authorization") != "Bearer "+pvGCPMetaToken {
			gcpErr(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
			return
		}
		if strings.HasPrefix(sa, "denied@") {
			gcpErr(w, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
			return
		}
		n := f.mint("gcp_iam")
		writeJSON(w, http.StatusOK, map[string]any{"accessToken": fmt.Sprintf("%s%d", pvIAMToken, n),
			"expireTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	})

	// Azure IMDS and Key Vault.
	mux.HandleFunc("/az-imds/token", func(w http.ResponseWriter, r *http.Request) {
		f.hit("azure imds")
		if r.Header.Get("Metadata") != "true" || r.URL.Query().Get("resource") == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Required metadata header not specified"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": pvAzureIMDS, "expires_in": "3599", "expires_on": fmt.Sprint(time.Now().Add(time.Hour).Unix()),
			"resource": r.URL.Query().Get("resource"), "token_type": "Bearer"})
	})
	azErr := func(w http.ResponseWriter, status int, code, msg, inner string) {
		e := map[string]any{"code": code, "message": msg}
		if inner != "" {
			e["innererror"] = map[string]any{"code": inner}
		}
		writeJSON(w, status, map[string]any{"error": e})
	}
	mux.HandleFunc("/az-kv/secrets/", func(w http.ResponseWriter, r *http.Request) {
		rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/az-kv/secrets/"), "/")
		f.hit("azure " + rest)
		if r.URL.Query().Get("api-version") == "" {
			azErr(w, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid api-version", "")
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+pvAzureIMDS {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net"`)
			azErr(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", "")
			return
		}
		switch rest {
		case "api", "api/v3":
			writeJSON(w, http.StatusOK, map[string]any{"value": pvAzureValue, "id": "https://pv.vault.azure.net/secrets/api/v3",
				"attributes": map[string]any{"enabled": true, "created": 1.7e9, "updated": 1.7e9, "recoveryLevel": "Recoverable+Purgeable"}})
		case "forbidden":
			azErr(w, http.StatusForbidden, "Forbidden", "The user, group or application 'appid=x' does not have secrets get permission on key vault 'pv'.", "ForbiddenByPolicy")
		case "disabled":
			azErr(w, http.StatusForbidden, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
		case "api/v9":
			azErr(w, http.StatusNotFound, "SecretNotFound", "A secret with (name/id) api/v9 was not found in this key vault.", "")
		default:
			azErr(w, http.StatusNotFound, "SecretNotFound", "A secret with (name/id) "+rest+" was not found in this key vault.", "")
		}
	})
	// Entra ID client-credentials token endpoint.
	mux.HandleFunc("/aad/", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.hit("azure_oauth " + r.PostForm.Get("scope"))
		if r.PostForm.Get("client_secret") != pvClientSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
			return
		}
		n := f.mint("azure_oauth")
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": fmt.Sprintf("%s%d", pvOAuthToken, n)})
	})

	// The Kubernetes API.
	mux.HandleFunc("/k8s/api/v1/namespaces/", func(w http.ResponseWriter, r *http.Request) {
		ns, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/k8s/api/v1/namespaces/"), "/secrets/")
		f.hit("k8s " + ns + "/" + name)
		status := func(code int, reason, msg string) {
			writeJSON(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure", "message": msg, "reason": reason, "code": code})
		}
		if r.Header.Get("Authorization") != "Bearer "+pvK8sToken {
			status(http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		switch ns + "/" + name {
		case "etl/api":
			writeJSON(w, http.StatusOK, map[string]any{"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
				"metadata": map[string]any{"name": "api", "namespace": "etl", "resourceVersion": "4711"},
				"data":     map[string]string{"token": base64.StdEncoding.EncodeToString([]byte(pvK8sValue))}})
		case "etl/forbidden":
			status(http.StatusForbidden, "Forbidden", `secrets "forbidden" is forbidden: User "system:serviceaccount:etl:noetl-wallet" cannot get resource "secrets" in API group "" in the namespace "etl"`)
		default:
			status(http.StatusNotFound, "NotFound", fmt.Sprintf("secrets %q not found", name))
		}
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// providerPlaybook names one keychain entry per case. A step takes each working
// provider's value as a bearer token to the target, which records what it received.
func providerPlaybook(target string) string {
	return `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: providers
  path: e2e/providers
keychain:
  - {name: vault_ok, provider: vault, map: {token: "app/api#token"}}
  - {name: vault_missing, provider: vault, map: {token: "app/nothing#token"}}
  - {name: vault_nokey, provider: vault, map: {token: "app/multi#nope"}}
  - {name: vault_multi, provider: vault, map: {token: "app/multi"}}
  - {name: vault_forbidden, provider: vault, map: {token: "app/forbidden#token"}}
  - {name: vault_sealed, provider: vault, map: {token: "app/sealed#token"}}
  - {name: vault_down, provider: vault, map: {token: "app/down#token"}}
  - {name: eu_advisory, provider: kubernetes, region: eu-central-1, residency: advisory, map: {token: "api/token"}}
  - {name: vault_deleted, provider: vault, map: {token: "app/deleted#token"}}
  - {name: vault_rotating, provider: vault, map: {token: "app/rotating#token"}}
  - {name: aws_ok, provider: aws, map: {token: "prod/api#token"}}
  - {name: aws_missing, provider: aws, map: {token: "prod/nothing"}}
  - {name: aws_forbidden, provider: aws, map: {token: "prod/forbidden"}}
  - {name: aws_throttled, provider: aws, map: {token: "prod/throttled"}}
  - {name: aws_down, provider: aws, map: {token: "prod/down"}}
  - {name: gcp_ok, provider: gcp, map: {token: "api"}}
  - {name: gcp_v3, provider: gcp, map: {token: "projects/pv-proj/secrets/api/versions/3"}}
  - {name: gcp_missing, provider: gcp, map: {token: "nothing"}}
  - {name: gcp_forbidden, provider: gcp, map: {token: "forbidden"}}
  - {name: gcp_disabled_version, provider: gcp, map: {token: "projects/pv-proj/secrets/api/versions/2"}}
  - {name: azure_ok, provider: azure, map: {token: "api"}}
  - {name: azure_v3, provider: azure, map: {token: "api#v3"}}
  - {name: azure_wrong_version, provider: azure, map: {token: "api#v9"}}
  - {name: azure_missing, provider: azure, map: {token: "nothing"}}
  - {name: azure_forbidden, provider: azure, map: {token: "forbidden"}}
  - {name: azure_disabled, provider: azure, map: {token: "disabled"}}
  - {name: k8s_ok, provider: kubernetes, map: {token: "api/token"}}
  - {name: k8s_missing, provider: k8s, map: {token: "nothing/token"}}
  - {name: k8s_nokey, provider: k8s, map: {token: "api/nope"}}
  - {name: k8s_forbidden, provider: k8s, map: {token: "forbidden/token"}}
  - {name: sts_ok, provider: aws_sts, map: {creds: ""}}
  - {name: sts_denied, provider: aws_sts, map: {creds: "arn:aws:iam::123456789012:role/denied"}}
  - {name: iam_ok, provider: gcp_iam, map: {token: "etl@pv-proj.iam.gserviceaccount.com"}}
  - {name: iam_denied, provider: gcp_iam, map: {token: "denied@pv-proj.iam.gserviceaccount.com"}}
  - {name: oauth_ok, provider: azure_oauth, map: {token: ""}}
  - {name: eu_only, provider: vault, region: eu-central-1, residency: strict, map: {token: "app/api#token"}}
workflow:
  - step: start
    tool:
      kind: http
      url: ` + target + `/vault
      auth: {type: bearer, credential: vault_ok}
    next: {spec: {mode: exclusive}, arcs: [{step: aws}]}
  - step: aws
    tool:
      kind: http
      url: ` + target + `/aws
      auth: {type: bearer, credential: aws_ok}
    next: {spec: {mode: exclusive}, arcs: [{step: gcp}]}
  - step: gcp
    tool:
      kind: http
      url: ` + target + `/gcp
      auth: {type: bearer, credential: gcp_ok}
    next: {spec: {mode: exclusive}, arcs: [{step: azure}]}
  - step: azure
    tool:
      kind: http
      url: ` + target + `/azure
      auth: {type: bearer, credential: azure_ok}
    next: {spec: {mode: exclusive}, arcs: [{step: k8s}]}
  - step: k8s
    tool:
      kind: http
      url: ` + target + `/k8s
      auth: {type: bearer, credential: k8s_ok}
    next: {spec: {mode: exclusive}, arcs: [{step: iam}]}
  - step: iam
    tool:
      kind: http
      url: ` + target + `/iam
      auth: {type: bearer, credential: iam_ok}
    next: {spec: {mode: exclusive}, arcs: [{step: oauth}]}
  - step: oauth
    tool:
      kind: http
      url: ` + target + `/oauth
      auth: {type: bearer, credential: oauth_ok}
    next: {spec: {mode: exclusive}, arcs: [{step: sts}]}
  - step: sts
    tool:
      kind: http
      url: ` + target + `/sts
      headers:
        X-Aws-Creds: "{{ keychain.sts_ok.creds }}"
    next: {spec: {mode: exclusive}, arcs: [{step: end}]}
  - step: end
    tool: {kind: noop}
`
}

const providerFailPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: providers_fail
  path: e2e/providers_fail
keychain:
  - {name: vault_forbidden, provider: vault, map: {token: "app/forbidden#token"}}
  - {name: gcp_missing, provider: gcp, map: {token: "nothing"}}
workflow:
  - step: start
    tool:
      kind: http
      url: http://127.0.0.1:1/never
      auth: {type: bearer, credential: gcp_missing}
`

// TestSecretProvidersEndToEnd configures every secret provider the way the README and
// docs/secret-providers.md say, against fakes that speak each provider's wire format,
// and has a real worker use the values; then checks each documented failure's status
// and message, caching, rotation, refresh of dynamic credentials, residency, and that
// no provider token or value reaches a log, an event, a metric or an error body.
// The worker fetches the credentials in the clear and, in a second suite, sealed to its
// own key.
func TestSecretProvidersEndToEnd(t *testing.T) {
	for _, sealed := range []string{"false", "true"} {
		t.Run("sealed="+sealed, func(t *testing.T) {
			providersEndToEnd(t, map[string]string{"NOETL_SEALED_CREDENTIALS": sealed})
		})
	}
}

func providersEndToEnd(t *testing.T, workerEnv map[string]string) {
	cloud := newFakeCloud(t)
	dir := t.TempDir()
	webIdentity := filepath.Join(dir, "web-identity")
	if err := os.WriteFile(webIdentity, []byte(pvWebIdentity+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"NOETL_SERVER_REGION": "eu-west-1",
		// Vault
		"VAULT_ADDR": cloud.URL + "/vault", "VAULT_TOKEN": pvVaultToken,
		// AWS Secrets Manager
		"AWS_ACCESS_KEY_ID": pvAWSKeyID, "AWS_SECRET_ACCESS_KEY": pvAWSSecret, "AWS_REGION": "eu-west-1",
		"NOETL_AWS_SM_ENDPOINT": cloud.URL + "/aws-sm",
		// AWS STS
		"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/etl", "AWS_WEB_IDENTITY_TOKEN_FILE": webIdentity,
		"NOETL_AWS_STS_ENDPOINT_OVERRIDE": cloud.URL + "/sts",
		// GCP
		"GOOGLE_CLOUD_PROJECT": "pv-proj", "NOETL_GCP_SM_ENDPOINT": cloud.URL + "/gcp-sm/v1",
		"NOETL_GCP_METADATA_TOKEN_URL": cloud.URL + "/gcp-meta/token", "NOETL_GCP_IAM_CREDENTIALS_ENDPOINT": cloud.URL + "/gcp-iam/v1",
		// Azure
		"AZURE_KEYVAULT_VAULT": cloud.URL + "/az-kv", "NOETL_AZURE_IMDS_TOKEN_URL": cloud.URL + "/az-imds/token",
		"AZURE_TENANT_ID": "pv-tenant", "AZURE_CLIENT_ID": "pv-client", "AZURE_CLIENT_SECRET": pvClientSecret,
		"NOETL_AZURE_AAD_HOST": cloud.URL + "/aad", "NOETL_AZURE_OAUTH_SCOPE": "https://management.azure.com/.default",
		// Kubernetes
		"NOETL_K8S_API_URL": cloud.URL + "/k8s", "NOETL_K8S_TOKEN": pvK8sToken, "NOETL_K8S_NAMESPACE": "etl",
		// Every hit on a dynamic value's cache row refreshes it.
		"KEYCHAIN_CACHE_REFRESH_WINDOW_SECS": "600",
	}})
	var tmu sync.Mutex
	seen := map[string]string{} // target path -> the Authorization or X-Aws-Creds it received
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tmu.Lock()
		seen[r.URL.Path] = r.Header.Get("Authorization") + r.Header.Get("X-Aws-Creds")
		tmu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}))
	defer target.Close()
	w := s.StartWorker(t, workerEnv)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	id := startRun(ctx, t, c, providerPlaybook(target.URL), "e2e/providers", nil)
	log := waitCompleted(ctx, t, c, id, "e2e/providers")

	t.Run("the worker used each provider's value", func(t *testing.T) {
		tmu.Lock()
		defer tmu.Unlock()
		for path, want := range map[string]string{
			"/vault": "Bearer " + pvVaultValue, "/aws": "Bearer " + pvAWSValue, "/gcp": "Bearer " + pvGCPValue,
			"/azure": "Bearer " + pvAzureValue, "/k8s": "Bearer " + pvK8sValue, "/iam": "Bearer " + pvIAMToken + "1",
			"/oauth": "Bearer " + pvOAuthToken + "1",
		} {
			if seen[path] != want {
				t.Errorf("%s received %q, want %q", path, seen[path], want)
			}
		}
		// The sealed worker fetched every credential of the run sealed (the sealed
		// subtest below adds its own later).
		if workerEnv["NOETL_SEALED_CREDENTIALS"] == "true" {
			if got := chaosMetric(s.Client, s.WalletURL, `noetl_credentials_sealed_total{status="ok"}`); got < 8 {
				t.Errorf("sealed fetches = %v, want the run's 8", got)
			}
		}
		var creds map[string]string
		if err := json.Unmarshal([]byte(seen["/sts"]), &creds); err != nil || creds["secret_access_key"] != pvSTSSecret+"1" || creds["session_token"] != "sess-1" {
			t.Errorf("/sts received %q", seen["/sts"])
		}
	})

	read := func(alias string) (int, string) {
		resp, body := s.Get(t, fmt.Sprintf("/api/credentials/%s?include_data=true&execution_id=%d", alias, id))
		return resp.StatusCode, body
	}
	t.Run("cached for the execution", func(t *testing.T) {
		for _, tc := range []struct{ alias, hit string }{
			{"vault_ok", "vault app/api"}, {"aws_ok", "aws prod/api"}, {"gcp_ok", "gcp projects/pv-proj/secrets/api/versions/latest"},
			{"azure_ok", "azure api"}, {"k8s_ok", "k8s etl/api"},
		} {
			t.Run(tc.alias, func(t *testing.T) {
				before := cloud.count(tc.hit)
				if code, body := read(tc.alias); code != http.StatusOK {
					t.Fatalf("%d %s", code, body)
				}
				if after := cloud.count(tc.hit); after != before || after != 1 {
					t.Errorf("provider asked %d times (before this read %d), want once in all", after, before)
				}
			})
		}
	})

	t.Run("versions", func(t *testing.T) {
		for _, alias := range []string{"gcp_v3", "azure_v3"} {
			code, body := read(alias)
			if code != http.StatusOK || !strings.Contains(body, `"token":"`) {
				t.Errorf("%s: %d %s", alias, code, body)
			}
		}
	})

	var errorBodies []string
	t.Run("failures", func(t *testing.T) {
		for _, tc := range []struct {
			alias  string
			status int
			says   string
		}{
			{"vault_missing", 404, "not found"},
			{"vault_nokey", 404, "no key 'nope'"},
			{"vault_multi", 422, "has 2 keys (a, b)"},
			{"vault_forbidden", 502, "HTTP 403"},
			{"vault_sealed", 502, "Vault is sealed"},
			{"vault_down", 502, "EOF"},
			{"vault_deleted", 404, "deleted or destroyed"},
			{"aws_missing", 404, "ResourceNotFoundException"},
			{"aws_forbidden", 502, "AccessDeniedException"},
			{"aws_throttled", 502, "ThrottlingException"},
			{"aws_down", 502, "InternalServiceError"},
			{"gcp_missing", 404, "not found"},
			{"gcp_forbidden", 502, "PERMISSION_DENIED"},
			{"gcp_disabled_version", 404, "DISABLED"},
			{"azure_wrong_version", 404, "SecretNotFound"},
			{"azure_missing", 404, "SecretNotFound"},
			{"azure_forbidden", 502, "Forbidden"},
			{"azure_disabled", 404, "disabled"},
			{"k8s_missing", 404, "not found"},
			{"k8s_nokey", 404, "no key 'nope'"},
			{"k8s_forbidden", 502, "403"},
			{"sts_denied", 502, "AccessDenied"},
			{"iam_denied", 502, "PERMISSION_DENIED"},
			{"eu_only", 403, "region-locked to 'eu-central-1'; this server is in 'eu-west-1'"},
		} {
			t.Run(tc.alias, func(t *testing.T) {
				code, body := read(tc.alias)
				errorBodies = append(errorBodies, body)
				var e envelope
				_ = json.Unmarshal([]byte(body), &e)
				if code != tc.status || !strings.Contains(e.Error, tc.says) || !strings.Contains(e.Error, "keychain '"+tc.alias+"'") && tc.status != 403 {
					t.Errorf("%d %s; want %d saying %q", code, body, tc.status, tc.says)
				}
			})
		}
		if n := cloud.count("vault app/api"); n != 1 {
			t.Errorf("the residency refusal reached Vault: %d reads of app/api", n)
		}
		// Vault is read without retries: the failed fetch asked once.
		if n := cloud.count("vault app/down"); n != 1 {
			t.Errorf("a dropped connection was asked %d times, want once", n)
		}
	})

	// A denial and an outage are both 502; only the body tells a client that asking
	// again cannot help (docs/secret-providers.md, "Errors").
	t.Run("a denial says it is not retryable", func(t *testing.T) {
		for _, tc := range []struct {
			alias     string
			permanent bool
		}{
			{"vault_forbidden", true}, {"aws_forbidden", true}, {"gcp_forbidden", true}, {"azure_forbidden", true},
			{"k8s_forbidden", true}, {"sts_denied", true}, {"iam_denied", true},
			{"vault_sealed", false}, {"vault_down", false}, {"aws_throttled", false}, {"aws_down", false},
		} {
			t.Run(tc.alias, func(t *testing.T) {
				code, body := read(tc.alias)
				var e struct {
					Retryable *bool `json:"retryable"`
				}
				_ = json.Unmarshal([]byte(body), &e)
				if code != http.StatusBadGateway || (e.Retryable != nil && !*e.Retryable) != tc.permanent {
					t.Errorf("%d %s; want 502 with permanent=%v", code, body, tc.permanent)
				}
			})
		}
	})

	t.Run("advisory residency resolves and counts", func(t *testing.T) {
		code, body := read("eu_advisory")
		if code != http.StatusOK || !strings.Contains(body, `"token":"`) {
			t.Fatalf("%d %s", code, body)
		}
		if got := chaosMetric(s.Client, s.WalletURL, `noetl_secret_residency_check_total{decision="violation_allowed",policy="advisory"}`); got != 1 {
			t.Errorf("violation_allowed = %v, want 1", got)
		}
	})

	t.Run("sealed", func(t *testing.T) {
		// A worker's sealing key (RFC 7748's Bob): the sealed route answers the same
		// statuses as the plain one, and an envelope for a value.
		code, body, err := c.do(ctx, http.MethodPost, "/api/worker/pool/register", map[string]any{"name": "pv-bob", "component_type": "worker_pool", "status": "ready",
			"runtime": map[string]any{"kind": "rust", "worker_public_key": "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="}})
		if err != nil || code != http.StatusOK {
			t.Fatalf("register: %d %s %v", code, body, err)
		}
		for _, tc := range []struct {
			alias  string
			status int
		}{{"k8s_ok", 200}, {"oauth_ok", 200}, {"gcp_missing", 404}, {"vault_multi", 422}, {"aws_forbidden", 502}, {"eu_only", 403}} {
			resp, body := s.Get(t, fmt.Sprintf("/api/credentials/%s/sealed?worker_id=pv-bob&execution_id=%d", tc.alias, id))
			errorBodies = append(errorBodies, body)
			if resp.StatusCode != tc.status || tc.status == 200 && !strings.Contains(body, "ciphertext") {
				t.Errorf("%s: %d %s, want %d", tc.alias, resp.StatusCode, body, tc.status)
			}
		}
	})

	t.Run("a failing step says why", func(t *testing.T) {
		fid := startRun(ctx, t, c, providerFailPlaybook, "e2e/providers_fail", nil)
		flog := waitTerminal(ctx, t, c, fid)
		b, _ := json.Marshal(flog)
		if !strings.Contains(string(b), `keychain 'gcp_missing': gcp secret manager`) {
			t.Errorf("the step's error does not name the provider's answer:\n%s", describeLog(flog))
		}
	})

	t.Run("a denied step says why", func(t *testing.T) {
		before := cloud.count("vault app/forbidden")
		// A retry rule on a retryable failure: a denial must not trigger it.
		denied := strings.Replace(strings.Replace(providerFailPlaybook, "credential: gcp_missing}", `credential: vault_forbidden}
      spec:
        policy:
          rules:
            - when: "{{ output.error.retryable }}"
              then: {do: retry, attempts: 3, delay: 0.05}`, 1), "providers_fail", "providers_denied", 2)
		did := startRun(ctx, t, c, denied, "e2e/providers_denied", nil)
		dlog := waitTerminal(ctx, t, c, did)
		b, _ := json.Marshal(dlog)
		if !strings.Contains(string(b), `keychain 'vault_forbidden': vault: read 'app/data/forbidden': HTTP 403`) {
			t.Errorf("the step's error does not name the provider's answer:\n%s", describeLog(dlog))
		}
		// The wallet marks the denial not retryable: the worker asks once and fails the
		// command as not retryable, so the retry rule does not run it again either (a
		// retryable failure would ask three times per attempt, three attempts).
		if n := cloud.count("vault app/forbidden") - before; n != 1 {
			t.Errorf("vault asked %d times for the denied step, want once", n)
		}
		if n := strings.Count(string(b), `"EventType":"call.error"`); n != 1 {
			t.Errorf("%d call.error events, want the step to fail once:\n%s", n, describeLog(dlog))
		}
	})

	t.Run("a rotated secret reaches the next execution", func(t *testing.T) {
		cloud.setVault("app/rotating", map[string]any{"token": "first"})
		id1, err := c.execute(ctx, "e2e/providers_fail", nil)
		if err != nil {
			t.Fatal(err)
		}
		get := func(exec int64) string {
			resp, body := s.Get(t, fmt.Sprintf("/api/credentials/vault_rotating?include_data=true&execution_id=%d", exec))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			return body
		}
		// The rotating entry is not in that playbook: use the main one's executions.
		_ = id1
		id2, err := c.execute(ctx, "e2e/providers", nil)
		if err != nil {
			t.Fatal(err)
		}
		if b := get(id2); !strings.Contains(b, `"token":"first"`) {
			t.Fatalf("before rotation: %s", b)
		}
		cloud.setVault("app/rotating", map[string]any{"token": pvVaultRotate})
		if b := get(id2); !strings.Contains(b, `"token":"first"`) {
			t.Errorf("the execution's cached value changed inside its ttl: %s", b)
		}
		// An operator drops the execution's cached value after rotating it at the source
		// (docs/secret-providers.md): the next read of that execution fetches again.
		var detail struct {
			CatalogID json.Number `json:"catalog_id"`
		}
		if _, raw, err := c.do(ctx, http.MethodGet, "/api/executions/"+idOf(id2), nil); err != nil || json.Unmarshal(raw, &detail) != nil || detail.CatalogID == "" {
			t.Fatalf("execution detail: %s %v", raw, err)
		}
		code, raw, err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/api/keychain/%s/vault_rotating?scope_type=local&execution_id=%d", detail.CatalogID, id2), nil)
		if err != nil || code != http.StatusOK || !strings.Contains(string(raw), `"deleted"`) {
			t.Fatalf("drop the cached value: %d %s %v", code, raw, err)
		}
		if b := get(id2); !strings.Contains(b, pvVaultRotate) {
			t.Errorf("after the cached value was dropped the execution still gets: %s", b)
		}
		id3, err := c.execute(ctx, "e2e/providers", nil)
		if err != nil {
			t.Fatal(err)
		}
		if b := get(id3); !strings.Contains(b, pvVaultRotate) {
			t.Errorf("a new execution did not get the rotated value: %s", b)
		}
		for _, x := range []int64{id2, id3} {
			waitTerminal(ctx, t, c, x)
		}
	})

	t.Run("dynamic values are refreshed before they expire", func(t *testing.T) {
		for _, tc := range []struct{ alias, provider, want string }{
			{"oauth_ok", "azure_oauth", pvOAuthToken}, {"iam_ok", "gcp_iam", pvIAMToken},
		} {
			t.Run(tc.provider, func(t *testing.T) {
				cloud.mu.Lock()
				before := cloud.mints[tc.provider]
				cloud.mu.Unlock()
				// A hit inside the window starts a refresh; the read gets the cached value.
				if code, body := read(tc.alias); code != http.StatusOK {
					t.Fatalf("%d %s", code, body)
				}
				if !eventually(30*time.Second, func() bool {
					cloud.mu.Lock()
					defer cloud.mu.Unlock()
					return cloud.mints[tc.provider] > before
				}) {
					t.Fatal("no refresh minted a new credential")
				}
				if !eventually(30*time.Second, func() bool {
					_, body := read(tc.alias)
					return strings.Contains(body, fmt.Sprintf("%s%d", tc.want, before+1)) || strings.Contains(body, fmt.Sprintf("%s%d", tc.want, before+2))
				}) {
					_, body := read(tc.alias)
					t.Errorf("the refreshed value is not served: %s", body)
				}
			})
		}
	})

	t.Run("no provider secret in any output", func(t *testing.T) {
		found := func(where, text string) {
			for _, sec := range pvSecrets {
				for _, form := range []string{sec, url.QueryEscape(sec)} {
					if i := strings.Index(text, form); i >= 0 {
						t.Errorf("%s holds %q: ...%s...", where, form, text[max(0, i-200):min(len(text), i+100)])
					}
				}
			}
		}
		b, _ := json.Marshal(log)
		found("the event log", string(b))
		for _, body := range errorBodies {
			found("an answer", body)
		}
		// The wallet's rows: cached values are encrypted, audit rows name no value.
		conn, err := pgx.Connect(ctx, testkit.DatabaseURL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, tbl := range []string{"keychain", "secret_audit", "credential"} {
			rows, err := conn.Query(ctx, fmt.Sprintf("SELECT t::text FROM %s.%s t", pgx.Identifier{s.Schema}.Sanitize(), tbl))
			if err != nil {
				t.Fatalf("table %s: %v", tbl, err)
			}
			n := 0
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				found("table "+tbl, v)
				n++
			}
			rows.Close()
			if tbl != "credential" && n == 0 {
				t.Errorf("table %s has no rows: nothing was cached or audited", tbl)
			}
		}
		for name, base := range map[string]string{"router": s.URL, "api": s.APIURL, "wallet": s.WalletURL, "broker": s.BrokerURL, "worker": fmt.Sprintf("http://127.0.0.1:%d", w.Port)} {
			resp, err := s.Client.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			mb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			found("the metrics of "+name, string(mb))
		}
		for _, p := range []*Proc{s.API, s.Wallet, s.Broker, s.Router, w.Proc} {
			found("the output of "+p.Name, p.Output())
		}
		keys := make([]string, 0)
		cloud.mu.Lock()
		for k := range cloud.hits {
			keys = append(keys, k)
		}
		cloud.mu.Unlock()
		sort.Strings(keys)
		t.Logf("provider requests: %q", keys)
	})
}

const irsaPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: irsa
  path: e2e/irsa
keychain:
  - {name: aws_ok, provider: aws, map: {token: "prod/api#token"}}
workflow:
  - step: start
    tool:
      kind: http
      url: %s/aws
      auth: {type: bearer, credential: aws_ok}
`

// TestAWSSecretsManagerWithIRSA configures provider aws the way EKS IRSA leaves a pod:
// AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, no access keys. The wallet signs its
// GetSecretValue with the role's temporary credentials, minted once for both runs, and
// the worker's step gets the value.
func TestAWSSecretsManagerWithIRSA(t *testing.T) {
	cloud := newFakeCloud(t)
	webIdentity := filepath.Join(t.TempDir(), "web-identity")
	if err := os.WriteFile(webIdentity, []byte(pvWebIdentity+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const role = "arn:aws:iam::123456789012:role/etl"
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"AWS_REGION": "eu-west-1", "NOETL_AWS_SM_ENDPOINT": cloud.URL + "/aws-sm",
		"AWS_ROLE_ARN": role, "AWS_WEB_IDENTITY_TOKEN_FILE": webIdentity,
		"NOETL_AWS_STS_ENDPOINT_OVERRIDE": cloud.URL + "/sts",
	}})
	var got []string
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}))
	defer target.Close()
	w := s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	content := fmt.Sprintf(irsaPlaybook, target.URL)
	for i := 0; i < 2; i++ {
		id := startRun(ctx, t, c, content, "e2e/irsa", nil)
		waitCompleted(ctx, t, c, id, "e2e/irsa")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "Bearer "+pvAWSValue || got[1] != got[0] {
		t.Errorf("the step's target received %q", got)
	}
	if n := cloud.count("aws_sts " + role); n != 1 {
		t.Errorf("the role was assumed %d times, want once for both runs", n)
	}
	if n := cloud.count("aws signed by ASIAPV1"); n != 2 {
		t.Errorf("%d reads signed with the role's credentials, want 2", n)
	}
	for _, p := range []*Proc{s.Wallet, w.Proc} {
		for _, sec := range []string{pvWebIdentity, pvSTSSecret, pvAWSValue} {
			if strings.Contains(p.Output(), sec) {
				t.Errorf("the output of %s holds %q", p.Name, sec)
			}
		}
	}
}

const vaultK8sPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: vault_k8s
  path: e2e/vault_k8s
keychain:
  - {name: vault_ok, provider: vault, map: {token: "app/api#token"}}
workflow:
  - step: start
    tool:
      kind: http
      url: %s/vault
      auth: {type: bearer, credential: vault_ok}
`

// TestVaultKubernetesAuth configures provider vault the way a pod with Vault's Kubernetes
// auth is: no Vault token, a role and the service account token file. The wallet logs in
// once for two runs; when Vault revokes the issued token, the next run's read logs in
// again and succeeds.
func TestVaultKubernetesAuth(t *testing.T) {
	cloud := newFakeCloud(t)
	saToken := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(saToken, []byte(pvK8sToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"VAULT_ADDR": cloud.URL + "/vault", "NOETL_VAULT_K8S_ROLE": "etl", "NOETL_VAULT_K8S_TOKEN_FILE": saToken,
	}})
	var got []string
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}))
	defer target.Close()
	w := s.StartWorker(t, nil)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	content := fmt.Sprintf(vaultK8sPlaybook, target.URL)
	run := func(wantLogins int) {
		t.Helper()
		id := startRun(ctx, t, c, content, "e2e/vault_k8s", nil)
		waitCompleted(ctx, t, c, id, "e2e/vault_k8s")
		cloud.mu.Lock()
		logins := cloud.mints["vault_k8s"]
		cloud.mu.Unlock()
		if logins != wantLogins {
			t.Errorf("%d logins, want %d", logins, wantLogins)
		}
	}
	run(1)
	run(1)
	cloud.revokeVaultLogins()
	run(2)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != "Bearer "+pvVaultValue || got[2] != got[0] {
		t.Errorf("the step's target received %q", got)
	}
	for _, p := range []*Proc{s.Wallet, w.Proc} {
		for _, sec := range []string{pvK8sToken, pvVaultValue, "hvs.pv-k8s-"} {
			if strings.Contains(p.Output(), sec) {
				t.Errorf("the output of %s holds %q", p.Name, sec)
			}
		}
	}
}
