package sealed

import "bytes"
import "crypto/ecdh"
import "crypto/hkdf"
import "crypto/sha256"
import "encoding/base64"
import "encoding/hex"
import "encoding/json"
import "fmt"
import "log/slog"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

type vectors struct {
	WorkerSecretHex    string `json:"worker_secret_hex"`
	WorkerPublicHex    string `json:"worker_public_hex"`
	WorkerPublicB64    string `json:"worker_public_b64"`
	EphemeralSecretHex string `json:"ephemeral_secret_hex"`
	EphPubHex          string `json:"eph_pub_hex"`
	EphPubB64          string `json:"eph_pub_b64"`
	SharedHex          string `json:"shared_hex"`
	OKMHex             string `json:"okm_hex"`
	AEADKeyHex         string `json:"aead_key_hex"`
	AEADNonceHex       string `json:"aead_nonce_hex"`
	AAD                string `json:"aad"`
	S1                 struct {
		Plaintext     string `json:"plaintext"`
		CiphertextB64 string `json:"ciphertext_b64"`
	} `json:"s1"`
	S2 struct {
		Plaintext string `json:"plaintext"`
		TagHex    string `json:"tag_hex"`
		Envelope  string `json:"envelope"`
	} `json:"s2"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	return testkit.LoadJSON[vectors](t, "testdata/vectors.json")
}

func secretKey(t *testing.T, h string) SecretKey {
	t.Helper()
	k, err := NewSecretKey(testkit.Unhex(t, h))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDerivedVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	worker := secretKey(t, v.WorkerSecretHex)
	eph := secretKey(t, v.EphemeralSecretHex)

	if got := hex.EncodeToString(worker.PublicKey().Bytes()); got != v.WorkerPublicHex {
		t.Fatalf("worker public = %s, want %s", got, v.WorkerPublicHex)
	}
	if got := EncodePublicKey(worker.PublicKey()); got != v.WorkerPublicB64 {
		t.Fatalf("worker public b64 = %s, want %s", got, v.WorkerPublicB64)
	}
	if got := EncodePublicKey(eph.PublicKey()); got != v.EphPubB64 {
		t.Fatalf("eph_pub b64 = %s, want %s", got, v.EphPubB64)
	}
	if got := hex.EncodeToString(eph.PublicKey().Bytes()); got != v.EphPubHex {
		t.Fatalf("eph_pub = %s, want %s", got, v.EphPubHex)
	}
	shared, err := eph.k.ECDH(worker.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(shared); got != v.SharedHex {
		t.Fatalf("shared = %s, want %s", got, v.SharedHex)
	}
	okm, err := hkdf.Key(sha256.New, shared, nil, KDFInfo, 44)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(okm); got != v.OKMHex {
		t.Fatalf("okm = %s, want %s", got, v.OKMHex)
	}
	if v.AEADKeyHex+v.AEADNonceHex != v.OKMHex {
		t.Fatal("vector file inconsistent: key||nonce != okm")
	}
	_, nonce, err := deriveAEAD(bytes.Clone(shared))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(nonce); got != v.AEADNonceHex {
		t.Fatalf("nonce = %s, want %s", got, v.AEADNonceHex)
	}
	if string(aad) != v.AAD {
		t.Fatalf("aad = %q, want %q", aad, v.AAD)
	}

	recipient, err := ParsePublicKey(v.WorkerPublicB64)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("S1", func(t *testing.T) {
		env, err := SealWithEphemeral(recipient, eph, []byte(v.S1.Plaintext))
		if err != nil {
			t.Fatal(err)
		}
		if env.Ciphertext != v.S1.CiphertextB64 || env.EphPub != v.EphPubB64 {
			t.Fatalf("sealed %+v, want ciphertext %s", env, v.S1.CiphertextB64)
		}
		pt, err := Open(worker, env)
		if err != nil || string(pt) != v.S1.Plaintext {
			t.Fatalf("open = %q, %v", pt, err)
		}
	})

	t.Run("S2 byte-identical envelope", func(t *testing.T) {
		env, err := SealWithEphemeral(recipient, eph, []byte(v.S2.Plaintext))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != v.S2.Envelope {
			t.Fatalf("envelope\n got %s\nwant %s", got, v.S2.Envelope)
		}
		ct, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
		if len(ct) != len(v.S2.Plaintext)+16 || hex.EncodeToString(ct[len(ct)-16:]) != v.S2.TagHex {
			t.Fatalf("tag = %x, want %s", ct[len(ct)-16:], v.S2.TagHex)
		}
	})

	t.Run("S2 reference envelope opens", func(t *testing.T) {
		var env Envelope
		if err := json.Unmarshal([]byte(v.S2.Envelope), &env); err != nil {
			t.Fatal(err)
		}
		pt, err := Open(worker, env)
		if err != nil || string(pt) != v.S2.Plaintext {
			t.Fatalf("open = %q, %v", pt, err)
		}
	})
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	worker, err := GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 16, 1000} {
		pt := bytes.Repeat([]byte{'x'}, n)
		env, err := Seal(worker.PublicKey(), pt)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
		if len(ct) != n+16 {
			t.Fatalf("len(ct) = %d for %d-byte plaintext, want %d", len(ct), n, n+16)
		}
		got, err := Open(worker, env)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: open = %q, %v", n, got, err)
		}
	}
	a, _ := Seal(worker.PublicKey(), []byte("same"))
	b, _ := Seal(worker.PublicKey(), []byte("same"))
	if a.EphPub == b.EphPub || a.Ciphertext == b.Ciphertext {
		t.Fatal("two seals share an ephemeral key")
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	worker := secretKey(t, v.WorkerSecretHex)
	var good Envelope
	if err := json.Unmarshal([]byte(v.S2.Envelope), &good); err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateSecretKey()
	ct, _ := base64.StdEncoding.DecodeString(good.Ciphertext)
	flip := func(i int) string {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return base64.StdEncoding.EncodeToString(c)
	}
	b64 := base64.StdEncoding.EncodeToString

	tests := []struct {
		name   string
		key    SecretKey
		mutate func(*Envelope)
		want   string
	}{
		{"flipped first ciphertext byte", worker, func(e *Envelope) { e.Ciphertext = flip(0) }, "sealed open: AEAD verify/decrypt"},
		{"flipped tag byte", worker, func(e *Envelope) { e.Ciphertext = flip(len(ct) - 1) }, "sealed open: AEAD verify/decrypt"},
		{"substituted valid eph_pub", worker, func(e *Envelope) { e.EphPub = EncodePublicKey(other.PublicKey()) }, "sealed open: AEAD verify/decrypt"},
		{"wrong recipient", other, func(*Envelope) {}, "sealed open: AEAD verify/decrypt"},
		{"truncated ciphertext", worker, func(e *Envelope) { e.Ciphertext = b64(ct[:len(ct)-1]) }, "sealed open: AEAD verify/decrypt"},
		{"ciphertext shorter than a tag", worker, func(e *Envelope) { e.Ciphertext = b64(ct[:15]) }, "sealed open: AEAD verify/decrypt"},
		{"empty ciphertext", worker, func(e *Envelope) { e.Ciphertext = "" }, "sealed open: AEAD verify/decrypt"},
		{"appended byte", worker, func(e *Envelope) { e.Ciphertext = b64(append(bytes.Clone(ct), 0)) }, "sealed open: AEAD verify/decrypt"},
		{"wrong alg", worker, func(e *Envelope) { e.Alg = "x25519-hkdf-sha256-aes-gcm-v2" }, "sealed open: unsupported alg 'x25519-hkdf-sha256-aes-gcm-v2'"},
		{"empty alg", worker, func(e *Envelope) { e.Alg = "" }, "sealed open: unsupported alg '' (expected 'x25519-hkdf-sha256-chacha20-poly1305')"},
		{"alg with control characters", worker, func(e *Envelope) { e.Alg = "a\nb" + strings.Repeat("z", 100) }, `sealed open: unsupported alg 'a\nb`},
		{"version 8", worker, func(e *Envelope) { e.V = 8 }, "sealed open: unsupported version 8 (expected 1)"},
		{"version 0", worker, func(e *Envelope) { e.V = 0 }, "sealed open: unsupported version 0"},
		{"16-byte eph_pub", worker, func(e *Envelope) { e.EphPub = b64(make([]byte, 16)) }, "sealed open: eph_pub must be 32 bytes, got 16"},
		{"33-byte eph_pub", worker, func(e *Envelope) { e.EphPub = b64(make([]byte, 33)) }, "sealed open: eph_pub must be 32 bytes, got 33"},
		{"eph_pub bad base64", worker, func(e *Envelope) { e.EphPub = "%not base64%" }, "sealed open: eph_pub base64:"},
		{"eph_pub unpadded", worker, func(e *Envelope) { e.EphPub = strings.TrimRight(good.EphPub, "=") }, "sealed open: eph_pub base64:"},
		{"eph_pub url-safe alphabet", worker, func(e *Envelope) { e.EphPub = strings.NewReplacer("+", "-", "/", "_").Replace(good.EphPub) }, "sealed open: eph_pub base64:"},
		{"low-order eph_pub", worker, func(e *Envelope) { e.EphPub = b64(make([]byte, 32)) }, "sealed open: eph_pub is a low-order point"},
		{"ciphertext bad base64", worker, func(e *Envelope) { e.Ciphertext = "%not base64%" }, "sealed open: ciphertext base64:"},
		{"ciphertext with line break", worker, func(e *Envelope) { e.Ciphertext = good.Ciphertext[:8] + "\n" + good.Ciphertext[8:] }, "sealed open: ciphertext base64:"},
		{"ciphertext non-canonical padding bits", worker, func(e *Envelope) { e.Ciphertext = "AB==" }, "sealed open: ciphertext base64:"},
		{"no secret key", SecretKey{}, func(*Envelope) {}, "sealed open: no secret key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := good
			tc.mutate(&env)
			pt, err := Open(tc.key, env)
			if err == nil {
				t.Fatalf("opened: %q", pt)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			testkit.AssertNoSecret(t, err.Error(), testkit.Unhex(t, v.WorkerSecretHex), []byte("sk-test-AbCdEf123"))
		})
	}

	t.Run("checks run in upstream order", func(t *testing.T) {
		t.Parallel()
		env := Envelope{Alg: "bad", V: 9, EphPub: "%", Ciphertext: "%"}
		if _, err := Open(worker, env); err == nil || !strings.Contains(err.Error(), "unsupported alg") {
			t.Fatalf("alg not checked first: %v", err)
		}
		env.Alg = Alg
		if _, err := Open(worker, env); err == nil || !strings.Contains(err.Error(), "unsupported version") {
			t.Fatalf("version not checked second: %v", err)
		}
		env.V = Version
		if _, err := Open(worker, env); err == nil || !strings.Contains(err.Error(), "eph_pub base64") {
			t.Fatalf("eph_pub not checked third: %v", err)
		}
	})
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	tests := []struct {
		name, in, want string
	}{
		{"valid", v.WorkerPublicB64, ""},
		{"bad base64", "%not base64%", "base64: "},
		{"unpadded", strings.TrimRight(v.WorkerPublicB64, "="), "base64: "},
		{"trailing newline", v.WorkerPublicB64 + "\n", "base64: "},
		{"surrounding space", " " + v.WorkerPublicB64, "base64: "},
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)), "must be 32 bytes, got 16"},
		{"empty", "", "must be 32 bytes, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pub, err := ParsePublicKey(tc.in)
			if tc.want == "" {
				if err != nil || hex.EncodeToString(pub.Bytes()) != v.WorkerPublicHex {
					t.Fatalf("ParsePublicKey = %v, %v", pub, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want prefix %q", err, tc.want)
			}
			// The wallet prefixes the worker, giving upstream's 400 text.
			msg := fmt.Errorf("worker '%s' worker_public_key %w", "w1", err).Error()
			if !strings.HasPrefix(msg, "worker 'w1' worker_public_key "+tc.want) {
				t.Fatalf("composed message %q", msg)
			}
		})
	}
}

func TestSealRejectsBadRecipient(t *testing.T) {
	t.Parallel()
	lowOrder, err := ecdh.X25519().NewPublicKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(lowOrder, []byte("x")); err == nil || !strings.Contains(err.Error(), "low-order") {
		t.Fatalf("sealed to a low-order point: %v", err)
	}
	if _, err := Seal(nil, []byte("x")); err == nil {
		t.Fatal("sealed to nil")
	}
	p256, _ := ecdh.P256().GenerateKey(nil)
	if p256 != nil {
		if _, err := Seal(p256.PublicKey(), []byte("x")); err == nil {
			t.Fatal("sealed to a P-256 key")
		}
	}
	worker, _ := GenerateSecretKey()
	if _, err := SealWithEphemeral(worker.PublicKey(), SecretKey{}, []byte("x")); err == nil {
		t.Fatal("sealed with a zero ephemeral key")
	}
	if _, err := NewSecretKey(make([]byte, 31)); err == nil {
		t.Fatal("accepted a 31-byte secret key")
	}
}

func TestSecretKeyNeverPrinted(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	secret := testkit.Unhex(t, v.WorkerSecretHex)
	k := secretKey(t, v.WorkerSecretHex)
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k), fmt.Sprintf(verb, []SecretKey{k}),
			fmt.Sprintf(verb, struct{ K SecretKey }{k}), fmt.Sprintf(verb, map[string]any{"k": k}))
	}
	outs = append(outs, k.String(), k.GoString())
	j, err := json.Marshal(map[string]any{"k": k})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "k", k)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "k", k)
	outs = append(outs, buf.String())
	for _, o := range outs {
		testkit.AssertNoSecret(t, o, secret)
		if !strings.Contains(o, v.WorkerPublicB64) {
			t.Fatalf("%q does not identify the key by its public half", o)
		}
	}
}
