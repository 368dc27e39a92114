package tool

import "errors"
import "net/url"
import "strings"

// ParseURL parses a URL a step gave (an http tool's url, a python script's source) and,
// when it does not parse, returns an error that quotes none of its userinfo. Go's
// url.Error quotes the URL whole, and the error under it quotes the piece that failed:
// a password holding a '/' ends the authority early, so "invalid port" quoted the
// password's first half. A step's own URL may carry a password that no credential's
// scrubber knows, so the message is built from the URL with its userinfo masked.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil {
		return u, nil
	}
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	at := strings.LastIndex(rest, "@")
	if !hasScheme || at < 0 {
		return nil, unwrapURLError(err)
	}
	masked := scheme + "://xxxxx@" + rest[at+1:]
	if _, err := url.Parse(masked); err != nil {
		return nil, unwrapURLError(err) // the failure is after the userinfo, which it cannot quote
	}
	return nil, errors.New("the part before its last '@' (the userinfo) is not valid: percent-encode the characters a URL reserves in a user or password ('/' as %2F, '@' as %40, '#' as %23, '?' as %3F, '%' as %25)")
}

// unwrapURLError drops url.Error's quoting of the whole URL, keeping what failed.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
