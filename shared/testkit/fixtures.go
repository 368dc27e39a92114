package testkit

import "encoding/base64"
import "encoding/hex"
import "encoding/json"
import "fmt"
import "os"
import "strings"
import "testing"

// LoadJSON reads a JSON file of test vectors into a T.
func LoadJSON[T any](t testing.TB, path string) T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// Unhex decodes a hex test vector.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Unbase64 decodes a standard base64 test vector.
func Unbase64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AssertNoSecret fails the test if s holds any of secrets as raw bytes, hex (either
// case), base64 (padded, unpadded or URL-safe) or a Go byte-slice listing. Forms shorter
// than four characters are not looked for: they would match by chance.
func AssertNoSecret(t testing.TB, s string, secrets ...[]byte) {
	t.Helper()
	for _, sec := range secrets {
		forms := []string{
			string(sec),
			hex.EncodeToString(sec),
			strings.ToUpper(hex.EncodeToString(sec)),
			base64.StdEncoding.EncodeToString(sec),
			strings.TrimRight(base64.StdEncoding.EncodeToString(sec), "="),
			base64.RawURLEncoding.EncodeToString(sec),
			strings.Trim(fmt.Sprint(sec[:min(len(sec), 8)]), "[]"),
		}
		for _, f := range forms {
			if len(f) >= 4 && strings.Contains(s, f) {
				t.Fatalf("output leaks secret material (%q): %s", f, s)
			}
		}
	}
}
