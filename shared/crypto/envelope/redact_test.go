package envelope

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "log/slog"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// TestNothingPrintsKeyMaterial formats every key-holding type every way a
// caller might log it and checks that no key, token or plaintext comes out.
func TestNothingPrintsKeyMaterial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	curB64, prevB64 := keyB64(0x3c), keyB64(0x4d)
	secrets := [][]byte{testkit.Unbase64(t, curB64), testkit.Unbase64(t, prevB64), []byte(curB64), []byte(prevB64), []byte("ya29.fake-access-token"), []byte("hunter2")}

	cfg := LocalConfig{Key: curB64, KeyVersion: "v2", PreviousKeys: "v1=" + prevB64}
	km := localKM(t, cfg)
	enc, err := NewEncryptor(testkit.Unbase64(t, curB64))
	if err != nil {
		t.Fatal(err)
	}
	prev, err := ParsePreviousKeys(cfg.PreviousKeys)
	if err != nil {
		t.Fatal(err)
	}
	_, srv := newFakeKMS(t)
	gcp := newGCPKM(t, srv)
	if _, err := gcp.WrapDEK(ctx, make([]byte, KeySize)); err != nil { // caches a token
		t.Fatal(err)
	}
	c := NewCipher(km)
	if _, err := c.Seal(ctx, []byte("hunter2")); err != nil {
		t.Fatal(err)
	}
	full := Config{KMSProvider: "local", Local: cfg}

	values := map[string]any{
		"LocalConfig":       cfg,
		"*LocalConfig":      &cfg,
		"LocalKey":          prev[0],
		"[]LocalKey":        prev,
		"*LocalKeyManager":  km,
		"LocalKeyManager":   *km,
		"*Encryptor":        enc,
		"Encryptor":         *enc,
		"*GCPKMSKeyManager": gcp,
		"GCPKMSKeyManager":  *gcp,
		"*Cipher":           c,
		"Config":            full,
		"nested":            struct{ A, B any }{cfg, km},
		"map":               map[string]any{"cfg": cfg, "km": km, "key": prev[0]},
	}
	for name, v := range values {
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		if s, ok := v.(fmt.Stringer); ok {
			outs = append(outs, s.String())
		}
		if g, ok := v.(fmt.GoStringer); ok {
			outs = append(outs, g.GoString())
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: json: %v", name, err)
		}
		outs = append(outs, string(j))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", v)
		outs = append(outs, buf.String())
		for _, o := range outs {
			testkit.AssertNoSecret(t, o, secrets...)
		}
		if !strings.Contains(outs[0], redacted) && name != "*Cipher" {
			t.Errorf("%s prints %q without saying it redacted anything", name, outs[0])
		}
	}
	// The redacted forms still help an operator.
	if s := km.String(); !strings.Contains(s, `"v2"`) || !strings.Contains(s, `"v1"`) {
		t.Errorf("LocalKeyManager.String() = %s, want the versions", s)
	}
}
