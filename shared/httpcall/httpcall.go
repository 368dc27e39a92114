// Package httpcall is the client side of one HTTP call that services and shared clients
// make alike: send the request, read a bounded answer, close it.
package httpcall

import "fmt"
import "io"
import "net/http"

// Do sends req with client and returns the answer with its body read, at most limit bytes
// of it (the rest is dropped unread), and closed; the caller decides what the status means.
// A failure to send is returned as it is, a failure to read the body wrapped "read answer",
// so that the caller's own prefix says which call failed.
func Do(client *http.Client, req *http.Request, limit int64) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp, body, nil
}
