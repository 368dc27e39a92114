// Package apiclient is the wallet's client of the api's internal routes: a worker pool's
// registered sealing key, an execution's keychain entry and whether a catalog entry exists. Only the wallet calls these
// routes, so the client lives here; the transport (token, mTLS, error answers) and the
// keychain answer type, which the api encodes, are shared/internalapi.
package apiclient

import "context"
import "fmt"
import "net/http"
import "net/url"
import "strconv"

import "github.com/noetl/controlplane/shared/internalapi"

// Client calls the api.
type Client struct {
	api *internalapi.API
}

// New validates the configuration and builds the client.
func New(c internalapi.Config) (*Client, error) {
	api, err := internalapi.New(c)
	if err != nil {
		return nil, err
	}
	return &Client{api: api}, nil
}

// WorkerPublicKey returns the sealing public key (standard base64, as registered) of the
// worker pool named worker. found is false when the worker_pool row does not exist or
// carries no (or an empty) worker_public_key, which callers answer with one "did not
// register a sealing pubkey" message, as upstream does. err is a transport failure or an
// unexpected answer.
func (c *Client) WorkerPublicKey(ctx context.Context, worker string) (key string, found bool, err error) {
	var out struct {
		Name            string  `json:"name"`
		WorkerPublicKey *string `json:"worker_public_key"`
	}
	status, err := c.api.GetJSON(ctx, "/internal/runtime/worker-key?name="+url.QueryEscape(worker), &out)
	if status == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up worker %q sealing key: %w", worker, err)
	}
	if out.WorkerPublicKey == nil || *out.WorkerPublicKey == "" {
		return "", false, nil
	}
	return *out.WorkerPublicKey, true, nil
}

// KeychainEntry asks the api for the keychain entry alias of the playbook execution
// executionID runs. found is false when the execution is unknown or its playbook has no
// such entry.
func (c *Client) KeychainEntry(ctx context.Context, executionID int64, alias string) (def internalapi.KeychainDefinition, found bool, err error) {
	status, err := c.api.GetJSON(ctx, internalapi.KeychainPath(executionID, alias), &def)
	if status == http.StatusNotFound {
		return internalapi.KeychainDefinition{}, false, nil
	}
	if err != nil {
		return internalapi.KeychainDefinition{}, false, fmt.Errorf("look up keychain entry %q of execution %d: %w", alias, executionID, err)
	}
	return def, true, nil
}

// CatalogExists asks the api whether a catalog entry exists (GET /internal/catalog/{id}).
// The wallet checks it before it stores a keychain entry for the catalog id: the catalog
// is the api's table.
func (c *Client) CatalogExists(ctx context.Context, catalogID int64) (bool, error) {
	var out struct {
		CatalogID string `json:"catalog_id"`
	}
	status, err := c.api.GetJSON(ctx, "/internal/catalog/"+strconv.FormatInt(catalogID, 10), &out)
	if status == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up catalog entry %d: %w", catalogID, err)
	}
	return true, nil
}
