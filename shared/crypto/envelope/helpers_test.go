package envelope

import "bytes"
import "encoding/base64"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

type vectorFile struct {
	StoredEnvelope struct {
		KeyB64         string `json:"key_b64"`
		DEKHex         string `json:"dek_hex"`
		WrapNonceHex   string `json:"wrap_nonce_hex"`
		DataNonceHex   string `json:"data_nonce_hex"`
		Plaintext      string `json:"plaintext"`
		Stored         string `json:"stored"`
		RewrapVersion  string `json:"rewrap_version"`
		RewrapNonceHex string `json:"rewrap_nonce_hex"`
		Rewrapped      string `json:"rewrapped"`
	} `json:"stored_envelope"`
	SecondKey struct {
		KeyB64    string `json:"key_b64"`
		Stored    string `json:"stored"`
		Plaintext string `json:"plaintext"`
	} `json:"second_key"`
	GCPKMS struct {
		EncryptNames      map[string]string `json:"encrypt_names"`
		EncryptBody000102 string            `json:"encrypt_body_for_000102"`
		DecryptBodyFFFE   string            `json:"decrypt_body_for_fffe"`
	} `json:"gcp_kms"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	return testkit.LoadJSON[vectorFile](t, "testdata/vectors.json")
}

// keyB64 is a deterministic, distinct test KEK per seed byte.
func keyB64(seed byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{seed}, KeySize))
}

func localKM(t *testing.T, cfg LocalConfig) *LocalKeyManager {
	t.Helper()
	km, err := NewLocalKeyManager(cfg)
	if err != nil {
		t.Fatalf("NewLocalKeyManager: %v", err)
	}
	return km
}
