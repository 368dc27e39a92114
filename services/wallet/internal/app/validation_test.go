package app

import "context"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/testkit"

// badInput is one request the wallet must refuse with status, its error naming want.
type badInput struct {
	name, method, path string
	body               any
	status             int
	want               string
}

// badInputs are refused before anything is written: every case runs against an empty
// wallet, which must still be empty afterwards.
var badInputs = []badInput{
	// rotate-kek: bounds out of range are refused, not clamped to something the caller
	// did not ask for.
	{"rotate batch_size 0", "POST", "/api/internal/wallet/rotate-kek", `{"batch_size":0}`, 422, `"batch_size"`},
	{"rotate batch_size negative", "POST", "/api/internal/wallet/rotate-kek", `{"batch_size":-5}`, 422, `"batch_size"`},
	{"rotate batch_size too large", "POST", "/api/internal/wallet/rotate-kek", `{"batch_size":10001}`, 422, `"batch_size"`},
	{"rotate cursor and after_id", "POST", "/api/internal/wallet/rotate-kek", `{"cursor":"keychain:","after_id":5}`, 422, "one of"},
	{"rotate after_id and after_cache_key", "POST", "/api/internal/wallet/rotate-kek", `{"after_id":5,"after_cache_key":"a:1:global"}`, 422, "one of"},
	{"rotate max_batches 0", "POST", "/api/internal/wallet/rotate-kek", `{"max_batches":0}`, 422, `"max_batches"`},
	{"rotate max_batches negative", "POST", "/api/internal/wallet/rotate-kek", `{"max_batches":-1}`, 422, `"max_batches"`},
	{"rotate max_batches too large", "POST", "/api/internal/wallet/rotate-kek", `{"max_batches":9223372036854775807}`, 422, `"max_batches"`},

	// secret-audit: a page of no rows is not a request anyone means.
	{"audit limit 0", "GET", "/api/internal/secret-audit?limit=0", nil, 422, "limit"},
	{"audit limit negative", "GET", "/api/internal/secret-audit?limit=-3", nil, 422, "limit"},
	{"audit limit below int64", "GET", "/api/internal/secret-audit?limit=-99999999999999999999", nil, 422, "limit"},

	// Credentials: the name is text, and data of a type the worker applies (postgres,
	// http auth) is the object of fields it reads.
	{"credential name a number", "POST", "/api/credentials", `{"name":123,"type":"generic","data":{}}`, 422, `"name"`},
	{"credential name a float", "POST", "/api/credentials", `{"name":1.5,"type":"generic","data":{}}`, 422, `"name"`},
	{"postgres data a string", "POST", "/api/credentials", `{"name":"pg","type":"postgres","data":"postgres://u:p@h/db"}`, 422, `"data"`},
	{"basic data an array", "POST", "/api/credentials", `{"name":"b","type":"basic","data":["u","p"]}`, 422, `"data"`},
	{"bearer data a string, type in capitals", "POST", "/api/credentials", `{"name":"t","type":"Bearer","data":"tok"}`, 422, `"data"`},
	{"api_key data a number", "POST", "/api/credentials", `{"name":"k","type":"api_key","data":42}`, 422, `"data"`},
	// Stored, these could only fail when a step ran: the worker finds neither a padded
	// name nor a padded type, nor a header without its field (shared/credauth).
	{"credential name blank", "POST", "/api/credentials", `{"name":"  ","type":"generic","data":{}}`, 422, `field "name" is blank`},
	{"credential name padded", "POST", "/api/credentials", `{"name":" pg","type":"postgres","data":{}}`, 422, `field "name" must not begin or end with white space`},
	{"credential name ends in a newline", "POST", "/api/credentials", `{"name":"pg\n","type":"postgres","data":{}}`, 422, `field "name" must not begin or end`},
	{"credential type blank", "POST", "/api/credentials", `{"name":"pg","type":"\t","data":{}}`, 422, `field "type" is blank`},
	{"credential type padded", "POST", "/api/credentials", `{"name":"pg","type":"pg ","data":{}}`, 422, `field "type" must not begin or end with white space`},
	{"bearer without token", "POST", "/api/credentials", `{"name":"t","type":"bearer","data":{"tokn":"S3CRET-1"}}`, 422, `field "data": a bearer credential needs data.token`},
	{"bearer_token with an empty token", "POST", "/api/credentials", `{"name":"t","type":"bearer_token","data":{"token":""}}`, 422, "needs data.token"},
	{"bearer token a number", "POST", "/api/credentials", `{"name":"t","type":"BEARER","data":{"token":12345}}`, 422, "needs data.token"},
	{"basic without username", "POST", "/api/credentials", `{"name":"b","type":"basic","data":{"password":"S3CRET-2"}}`, 422, `field "data": a basic credential needs data.username`},
	{"api_key without key", "POST", "/api/credentials", `{"name":"k","type":"api_key","data":{"header":"X-Token","secret":"S3CRET-3"}}`, 422, `field "data": an api_key credential needs data.api_key`},
	{"apikey without key", "POST", "/api/credentials", `{"name":"k","type":"apikey","data":{}}`, 422, "needs data.api_key"},
	{"empty tag", "POST", "/api/credentials", `{"name":"t","type":"generic","data":{},"tags":["a",""]}`, 422, `"tags"`},
	{"null tag", "POST", "/api/credentials", `{"name":"t","type":"generic","data":{},"tags":[null]}`, 422, `"tags"`},
	{"meta a string", "POST", "/api/credentials", `{"name":"m","type":"generic","data":{},"meta":"owner=ops"}`, 422, `"meta"`},
	{"meta an array", "POST", "/api/credentials", `{"name":"m","type":"generic","data":{},"meta":[1,2]}`, 422, `"meta"`},
	{"meta a number", "POST", "/api/credentials", `{"name":"m","type":"generic","data":{},"meta":7}`, 422, `"meta"`},
	{"meta a boolean", "POST", "/api/credentials", `{"name":"m","type":"generic","data":{},"meta":false}`, 422, `"meta"`},
	{"tag too long", "POST", "/api/credentials", `{"name":"t","type":"generic","data":{},"tags":["` + strings.Repeat("x", 1025) + `"]}`, 422, `"tags"`},

	// Keychain: an expiry that is not a time to come, and an execution id that is not one.
	{"keychain negative expires_in", "POST", "/api/keychain/501/k", `{"data":"v","expires_in":-60}`, 422, `"expires_in"`},
	{"keychain fractional expires_in", "POST", "/api/keychain/501/k", `{"data":"v","expires_in":1.5}`, 422, `"expires_in"`},
	{"keychain expires_in a string", "POST", "/api/keychain/501/k", `{"data":"v","expires_in":"60"}`, 422, `"expires_in"`},
	{"keychain expires_at unparsable", "POST", "/api/keychain/501/k", `{"data":"v","expires_at":"tomorrow"}`, 422, `"expires_at"`},
	{"keychain expires_at without offset", "POST", "/api/keychain/501/k", `{"data":"v","expires_at":"2030-01-01T00:00:00"}`, 422, `"expires_at"`},
	{"keychain expires_at past year 9999", "POST", "/api/keychain/501/k", `{"data":"v","expires_at":"9999-12-31T23:59:59-23:59"}`, 422, `"expires_at"`},
	{"keychain expires_at in year 0", "POST", "/api/keychain/501/k", `{"data":"v","expires_at":"0000-06-01T00:00:00Z"}`, 422, `"expires_at"`},
	{"keychain expires_at a number", "POST", "/api/keychain/501/k", `{"data":"v","expires_at":1893456000}`, 422, `"expires_at"`},
	{"keychain renew_config a string", "POST", "/api/keychain/501/k", `{"data":"v","renew_config":"hourly"}`, 422, `"renew_config"`},
	{"keychain renew_config an array", "POST", "/api/keychain/501/k", `{"data":"v","renew_config":[3600]}`, 422, `"renew_config"`},
	{"keychain execution_id a word", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","execution_id":"abc"}`, 422, `"execution_id"`},
	{"keychain execution_id fractional", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","execution_id":1.5}`, 422, `"execution_id"`},
	{"keychain execution_id a boolean", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","execution_id":true}`, 422, `"execution_id"`},
	{"keychain execution_id empty", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","execution_id":""}`, 422, `"execution_id"`},
	{"keychain execution_id negative", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","execution_id":-7}`, 422, `"execution_id"`},
	{"keychain execution_id zero", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","execution_id":0}`, 422, `"execution_id"`},
	{"keychain execution_id too large", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","execution_id":"9223372036854775808"}`, 422, `"execution_id"`},

	// Seal: alias and identifier are one field under two names; two different values
	// leave which credential is released to whichever the code reads first.
	{"seal alias and identifier disagree", "POST", "/internal/wallet/seal",
		`{"alias":"a","identifier":"b","worker_public_key_b64":"k","worker_id":"w"}`, 422, `"identifier"`},
	{"seal keychain_entry of another name", "POST", "/internal/wallet/seal",
		`{"alias":"a","worker_public_key_b64":"k","worker_id":"w","keychain_entry":{"name":"other","credential":"c"}}`, 422, `"keychain_entry"`},

	// Duplicate keys, at any depth and on every body route, are malformed: the decoder
	// would keep the last, a reader in front of the wallet may take the first. Keys a
	// struct field takes without regard to case are the same key.
	{"credential name twice", "POST", "/api/credentials", `{"name":"a","name":"b","type":"t","data":{}}`, 400, `field "name" appears more than once`},
	{"credential name in two cases", "POST", "/api/credentials", `{"name":"a","NAME":"b","type":"t","data":{}}`, 400, `field "name" appears more than once`},
	{"credential data key twice", "POST", "/api/credentials", `{"name":"a","type":"t","data":{"x":{"S3CRET-key":1,"S3CRET-key":2}}}`, 400, `field "data" holds an object`},
	{"credential data key twice in a list", "POST", "/api/credentials", `{"name":"a","type":"t","data":[{"k":1,"k":2}]}`, 400, `field "data" holds an object`},
	{"unknown key twice", "POST", "/api/credentials", `{"name":"a","type":"t","data":{},"S3CRET-x":1,"S3CRET-x":2}`, 400, "names a key more than once"},
	{"keychain data twice", "POST", "/api/keychain/501/k", `{"data":"v","data":"w"}`, 400, `field "data" appears more than once`},
	{"keychain scope in two cases", "POST", "/api/keychain/501/k", `{"data":"v","scope_type":"local","Scope_Type":"global"}`, 400, `field "scope_type" appears more than once`},
	{"rotate batch_size in two cases", "POST", "/api/internal/wallet/rotate-kek", `{"batch_size":1,"BATCH_SIZE":2}`, 400, `field "batch_size" appears more than once`},
	{"seal alias twice", "POST", "/internal/wallet/seal", `{"alias":"a","alias":"b","worker_public_key_b64":"k","worker_id":"w"}`, 400, `field "alias" appears more than once`},
	{"seal keychain_entry name in two cases", "POST", "/internal/wallet/seal",
		`{"alias":"a","worker_public_key_b64":"k","worker_id":"w","keychain_entry":{"name":"a","Name":"b"}}`, 400, `field "keychain_entry" holds an object`},
	{"credential data 1e400", "POST", "/api/credentials", `{"name":"n","type":"generic","data":{"n":1e400}}`, 422, "out of range"},
	{"keychain data of 400 digits", "POST", "/api/keychain/501/k", `{"data":-` + strings.Repeat("9", 400) + `}`, 422, "out of range"},
	{"credential meta 1e400", "POST", "/api/credentials", `{"name":"n","type":"generic","data":{},"meta":{"n":1e400}}`, 422, "out of range"},
	{"body nested too deep", "POST", "/api/credentials", `{"name":"a","type":"t","data":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, 422, "nested deeper than 64"},
}

func TestBadInputIsRefused(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			code, out := w.do(tc.method, tc.path, tc.body)
			if code != tc.status || !strings.Contains(errText(t, out), tc.want) {
				t.Errorf("%s %s %v = %d %s, want %d naming %s", tc.method, tc.path, tc.body, code, out, tc.status, tc.want)
			}
			if strings.Contains(out, "S3CRET") {
				t.Errorf("the error quotes what was sent: %s", out)
			}
		})
	}
	for _, table := range []string{"credential", "keychain"} {
		var n int
		if err := s.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d %s rows were written by refused requests", n, table)
		}
	}
}
