package envelope

import "context"
import "encoding/base64"
import "errors"
import "slices"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

func TestNewLocalKeyManagerValidation(t *testing.T) {
	t.Parallel()
	k1, k2 := keyB64(0x11), keyB64(0x22)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	secrets := [][]byte{testkit.Unbase64(t, k1), testkit.Unbase64(t, k2), []byte(k1), []byte(k2)}

	tests := []struct {
		name string
		cfg  LocalConfig
		want string // error prefix; "" = valid
	}{
		{"defaults", LocalConfig{Key: k1}, ""},
		{"labelled", LocalConfig{Key: k1, KeyVersion: "2026-06.a"}, ""},
		{"previous list with spaces", LocalConfig{Key: k2, KeyVersion: "v3", PreviousKeys: " v2 = " + k1 + " , v1=" + k2 + " "}, ""},
		{"blank previous list", LocalConfig{Key: k1, PreviousKeys: "  "}, ""},
		{"unset key", LocalConfig{}, "NOETL_ENCRYPTION_KEY: not set"},
		{"blank key", LocalConfig{Key: " \n"}, "NOETL_ENCRYPTION_KEY: not set"},
		{"short key", LocalConfig{Key: short}, "NOETL_ENCRYPTION_KEY: must be base64 of exactly 32 bytes (got 16 bytes)"},
		{"key with trailing newline", LocalConfig{Key: k1 + "\n"}, "NOETL_ENCRYPTION_KEY: must be base64 of exactly 32 bytes"},
		{"key with surrounding space", LocalConfig{Key: " " + k1}, "NOETL_ENCRYPTION_KEY: must be base64 of exactly 32 bytes"},
		{"unpadded key", LocalConfig{Key: strings.TrimRight(k1, "=")}, "NOETL_ENCRYPTION_KEY: must be base64 of exactly 32 bytes"},
		{"url-safe key", LocalConfig{Key: base64.URLEncoding.EncodeToString(make([]byte, 31)) + "_w="}, "NOETL_ENCRYPTION_KEY: must be base64 of exactly 32 bytes"},
		{"non-canonical key", LocalConfig{Key: nonCanonical(testkit.Unbase64(t, k1))}, "NOETL_ENCRYPTION_KEY: must be base64 of exactly 32 bytes"},
		{"hex key", LocalConfig{Key: strings.Repeat("ab", 32)}, "NOETL_ENCRYPTION_KEY: must be base64 of exactly 32 bytes (got 48 bytes)"},
		{"version with space", LocalConfig{Key: k1, KeyVersion: "v 2"}, "NOETL_ENCRYPTION_KEY_VERSION: invalid version label"},
		{"version with comma", LocalConfig{Key: k1, KeyVersion: "v2,v3"}, "NOETL_ENCRYPTION_KEY_VERSION: invalid version label"},
		{"key pasted as version", LocalConfig{Key: k1, KeyVersion: k2}, "NOETL_ENCRYPTION_KEY_VERSION: invalid version label"},
		{"version too long", LocalConfig{Key: k1, KeyVersion: strings.Repeat("v", 65)}, "NOETL_ENCRYPTION_KEY_VERSION: invalid version label"},
		{"previous without version", LocalConfig{Key: k1, PreviousKeys: "=" + k2}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 1: want <version>=<base64 key>"},
		{"previous without key", LocalConfig{Key: k1, PreviousKeys: "v0"}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 1: want <version>=<base64 key>"},
		{"previous bare key", LocalConfig{Key: k1, PreviousKeys: k2}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 1: "},
		{"previous short key", LocalConfig{Key: k1, PreviousKeys: "v0=" + k2 + ",old=" + short}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 2: key must be base64 of exactly 32 bytes (got 16 bytes)"},
		{"previous empty entry", LocalConfig{Key: k1, PreviousKeys: "v0=" + k2 + ","}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 2 is empty"},
		{"previous duplicate", LocalConfig{Key: k1, KeyVersion: "v3", PreviousKeys: "v1=" + k2 + ",v2=" + k1 + ",v1=" + k1}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entries 1 and 3 have the same version"},
		{"previous repeats current", LocalConfig{Key: k1, KeyVersion: "v2", PreviousKeys: "v1=" + k2 + ",v2=" + k2}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 2 has the version of NOETL_ENCRYPTION_KEY"},
		{"previous bad label", LocalConfig{Key: k1, PreviousKeys: "v/1=" + k2}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 1: invalid version label"},
		{"previous key with newline", LocalConfig{Key: k1, PreviousKeys: "v0=" + k2[:20] + "\n" + k2[20:]}, "NOETL_ENCRYPTION_PREVIOUS_KEYS: entry 1: key must be base64 of exactly 32 bytes (got a line break)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			km, err := NewLocalKeyManager(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %v as %v", tc.cfg, km)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %q, want prefix %q", err, tc.want)
			}
			if errors.Is(err, ErrNoKey) != strings.HasSuffix(tc.want, "not set") {
				t.Fatalf("errors.Is(ErrNoKey) wrong for %q", err)
			}
			testkit.AssertNoSecret(t, err.Error(), secrets...)
		})
	}
}

func TestParsePreviousKeys(t *testing.T) {
	t.Parallel()
	keys, err := ParsePreviousKeys("b=" + keyB64(2) + ", a =" + keyB64(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Version != "b" || keys[1].Version != "a" || keys[1].Key[0] != 1 || len(keys[1].Key) != KeySize {
		t.Fatalf("ParsePreviousKeys = %v", keys)
	}
	if keys, err := ParsePreviousKeys(""); err != nil || keys != nil {
		t.Fatalf("empty = %v, %v", keys, err)
	}
}

func TestLocalKeyManager(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	km := localKM(t, LocalConfig{Key: keyB64(3), KeyVersion: "v3", PreviousKeys: "v2=" + keyB64(2) + ",v1=" + keyB64(1)})
	if km.Provider() != "local" || km.CurrentKeyVersion() != "v3" || !slices.Equal(km.KeyVersions(), []string{"v3", "v2", "v1"}) {
		t.Fatalf("manager = %v %v %v", km.Provider(), km.CurrentKeyVersion(), km.KeyVersions())
	}
	dek := make([]byte, KeySize)
	w, err := km.WrapDEK(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if w.Provider != ProviderLocal || w.KeyID != "env:NOETL_ENCRYPTION_KEY" || w.KeyVersion != "v3" || len(w.Ciphertext) != 60 {
		t.Fatalf("wrapped = %+v", w)
	}
	if _, err := km.WrapDEK(ctx, dek[:16]); err == nil {
		t.Fatal("wrapped a 16-byte DEK")
	}
	// Each previous version unwraps what it wrapped when it was current.
	for _, v := range []struct {
		version string
		seed    byte
	}{{"v2", 2}, {"v1", 1}} {
		old := localKM(t, LocalConfig{Key: keyB64(v.seed), KeyVersion: v.version})
		w, _ := old.WrapDEK(ctx, dek)
		if got, err := km.UnwrapDEK(ctx, w); err != nil || len(got) != KeySize {
			t.Fatalf("unwrap %s: %v", v.version, err)
		}
	}
	w.Provider = ProviderGCPKMS
	if _, err := km.UnwrapDEK(ctx, w); err == nil || !strings.Contains(err.Error(), `provider "gcp-kms"`) {
		t.Fatalf("unwrapped a gcp-kms DEK: %v", err)
	}
}

func TestNewKeyManager(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		provider, want string
	}{
		{"", ProviderLocal},
		{"local", ProviderLocal},
		{" LOCAL ", ProviderLocal},
		{"gcp", ProviderGCPKMS},
		{"GCP-KMS", ProviderGCPKMS},
		{"vault", ""},
	} {
		km, err := NewKeyManager(Config{
			KMSProvider: tc.provider,
			Local:       LocalConfig{Key: keyB64(1)},
			GCPKMS:      GCPKMSConfig{Key: "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
		})
		if tc.want == "" {
			if err == nil || err.Error() != `NOETL_KMS_PROVIDER: unknown provider "vault" (expected 'local' or 'gcp-kms')` {
				t.Fatalf("provider %q: %v", tc.provider, err)
			}
			continue
		}
		if err != nil || km.Provider() != tc.want {
			t.Fatalf("provider %q: %v, %v", tc.provider, km, err)
		}
	}
	// Only the selected provider is validated.
	if _, err := NewKeyManager(Config{KMSProvider: "gcp-kms", GCPKMS: GCPKMSConfig{Key: "projects/p/locations/l/keyRings/r/cryptoKeys/k"}}); err != nil {
		t.Fatalf("gcp-kms without a local key: %v", err)
	}
	if _, err := NewKeyManager(Config{}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("local without a key: %v", err)
	}
}

// TestCheckValue: a key check value identifies a key (same key, same value, whatever its
// label; another key, another value), is stable across processes, and does not contain
// the key.
func TestCheckValue(t *testing.T) {
	t.Parallel()
	a := localKM(t, LocalConfig{Key: keyB64(1), KeyVersion: "v2", PreviousKeys: "v1=" + keyB64(2)})
	b := localKM(t, LocalConfig{Key: keyB64(2), KeyVersion: "v9"})
	v2, ok2 := a.CheckValue("v2")
	v1, ok1 := a.CheckValue("v1")
	if !ok1 || !ok2 || v1 == v2 || len(v1) != 64 {
		t.Fatalf("check values %q %q", v1, v2)
	}
	if got, _ := b.CheckValue("v9"); got != v1 {
		t.Errorf("the same key gave another check value under another label")
	}
	if _, ok := a.CheckValue("v3"); ok {
		t.Error("a check value for a version the manager does not hold")
	}
	// Pinned (HMAC-SHA256 of the label under 32 bytes of 0x01, computed independently):
	// stored values must keep matching after an upgrade.
	if want := "f80c9d9abb713959b2a99c9d8b4f1efad03928d874ea3e4108c025a9ea606d0c"; v2 != want {
		t.Errorf("check value of key 0x01... = %s, want %s", v2, want)
	}
	testkit.AssertNoSecret(t, v1+v2, testkit.Unbase64(t, keyB64(1)), testkit.Unbase64(t, keyB64(2)))
}
