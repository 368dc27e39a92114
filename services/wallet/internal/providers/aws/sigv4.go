package aws

import "crypto/hmac"
import "crypto/sha256"
import "encoding/hex"
import "sort"
import "strings"
import "time"

// Signature Version 4 (AWS's request signing), written out rather than pulled in with an
// SDK: the wallet makes one kind of call, and the algorithm is short and pinned by test
// vectors (testdata/sigv4_vectors.json).

const sigAlgorithm = "AWS4-HMAC-SHA256"

// signingInput is everything a signature covers.
type signingInput struct {
	Method  string
	Path    string            // canonical URI; "" means "/"
	Headers map[string]string // lower-case names; host included
	Body    []byte
	Time    time.Time
	Region  string
	Service string
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the key of one day, region and service from the secret access key.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// canonicalRequest is the request as the signature sees it (no query string: the wallet
// only POSTs JSON), with the ;-joined signed header names.
func canonicalRequest(in signingInput) (canonical, signed string) {
	names := make([]string, 0, len(in.Headers))
	for n := range in.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	path := in.Path
	if path == "" {
		path = "/"
	}
	b.WriteString(in.Method + "\n" + path + "\n\n")
	for _, n := range names {
		b.WriteString(n + ":" + strings.TrimSpace(in.Headers[n]) + "\n")
	}
	signed = strings.Join(names, ";")
	b.WriteString("\n" + signed + "\n" + sha256Hex(in.Body))
	return b.String(), signed
}

func amzDate(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// scope is <date>/<region>/<service>/aws4_request.
func scope(in signingInput) string {
	return in.Time.UTC().Format("20060102") + "/" + in.Region + "/" + in.Service + "/aws4_request"
}

// stringToSign is the text the signing key signs.
func stringToSign(in signingInput, canonical string) string {
	return sigAlgorithm + "\n" + amzDate(in.Time) + "\n" + scope(in) + "\n" + sha256Hex([]byte(canonical))
}

// authorization is the Authorization header value for the request, signed with the
// access key pair.
func authorization(in signingInput, accessKeyID, secret string) string {
	canonical, signed := canonicalRequest(in)
	key := signingKey(secret, in.Time.UTC().Format("20060102"), in.Region, in.Service)
	sig := hex.EncodeToString(hmacSHA256(key, stringToSign(in, canonical)))
	clear(key)
	return sigAlgorithm + " Credential=" + accessKeyID + "/" + scope(in) + ", SignedHeaders=" + signed + ", Signature=" + sig
}
