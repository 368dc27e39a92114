package config

import "fmt"
import "net/url"

// HTTPURL parses value, the setting variable, as an absolute http or https URL with a
// host: the form of every service address the binaries are given (NOETL_API_URL,
// NOETL_WALLET_URL, ...). Anything else is refused at startup, naming the variable,
// rather than failing on the first call.
func HTTPURL(variable, value string) (*url.URL, error) {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http(s) URL", variable, value)
	}
	return u, nil
}
