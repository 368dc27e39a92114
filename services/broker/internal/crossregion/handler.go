// Package crossregion serves POST /api/internal/cross-region/resolve: a peer region's
// wallet asks this region to resolve a credential whose home is here and seal it to its
// worker's key. The broker checks that it is the region the peer meant, then asks its own
// wallet (POST /internal/wallet/seal) and answers the envelope unchanged: the cleartext
// exists only inside this region's wallet (docs/secret-providers.md, "Cross-region
// broker").
package crossregion

import "context"
import "errors"
import "fmt"
import "net/http"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/jsonx"

// SealPath is the wallet route the broker passes requests on to.
const SealPath = "/internal/wallet/seal"

// Wallet seals a credential to a supplied key (internalapi.API of the wallet).
type Wallet interface {
	PostJSON(ctx context.Context, path string, in, out any) error
}

// Handler serves the resolve route.
type Handler struct {
	region  string
	wallet  Wallet
	metrics *internalapi.BrokerMetrics
}

// NewHandler returns the handler of a broker in region (NOETL_SERVER_REGION).
func NewHandler(region string, wallet Wallet, m *internalapi.BrokerMetrics) *Handler {
	return &Handler{region: region, wallet: wallet, metrics: m}
}

// Register adds the route (the engine's gate requires the internal token).
func (h *Handler) Register(e gin.IRoutes) {
	e.POST(internalapi.CrossRegionPath, h.resolve)
}

// fail answers err and counts outcome; the outcome also goes out in a header so that the
// requesting wallet counts the same one.
func (h *Handler) fail(c *gin.Context, region, outcome string, err error) {
	h.metrics.Count(region, outcome)
	c.Header(internalapi.BrokerOutcomeHeader, outcome)
	httpx.WriteError(c, err)
}

func (h *Handler) resolve(c *gin.Context) {
	var req internalapi.CrossRegionRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		h.fail(c, h.region, internalapi.BrokerDenied, err)
		return
	}
	// A broker without a region serves none: every request is for another region, and
	// says why (it read "this server is in region ''", or a 422 for the peer's fields,
	// which sent the peer's operator looking in the wrong place).
	if h.region == "" {
		h.fail(c, req.ExpectedEntryRegion, internalapi.BrokerWrongRegion, httpx.Forbidden(
			"cross-region broker: NOETL_SERVER_REGION is not set on this broker, so it serves no region; set it to the region whose credentials it resolves"))
		return
	}
	for _, f := range []struct{ name, value string }{
		{"alias", req.Alias}, {"worker_public_key_b64", req.WorkerPublicKeyB64},
		{"worker_id", req.WorkerID}, {"expected_entry_region", req.ExpectedEntryRegion},
	} {
		if f.value == "" {
			h.fail(c, h.region, internalapi.BrokerDenied, httpx.Validation("field %q is required", f.name))
			return
		}
	}
	// Defence in depth: a stale or wrong peer registry must not make this region serve
	// credentials of another region.
	if req.ExpectedEntryRegion != h.region {
		h.fail(c, req.ExpectedEntryRegion, internalapi.BrokerWrongRegion, httpx.Forbidden(
			"cross-region broker: this server is in region '%s', not '%s' as the requesting peer expected", h.region, req.ExpectedEntryRegion))
		return
	}
	if e := req.KeychainEntry; e != nil && e.Region != h.region {
		h.fail(c, h.region, internalapi.BrokerDenied, httpx.Validation(
			"cross-region broker: keychain_entry '%s' is homed in region '%s', not this broker's region '%s'", e.Name, e.Region, h.region))
		return
	}
	if _, err := sealed.ParseSuppliedKey(req.WorkerPublicKeyB64); err != nil {
		h.fail(c, h.region, internalapi.BrokerBadPubkey, httpx.BadRequest("cross-region: %v", err))
		return
	}
	req.BrokerRegion = h.region
	var env sealed.Envelope
	if err := h.wallet.PostJSON(c.Request.Context(), SealPath, req, &env); err != nil {
		h.fail(c, h.region, internalapi.BrokerResolveError, walletError(err))
		return
	}
	b, err := jsonx.Marshal(env)
	if err != nil {
		h.fail(c, h.region, internalapi.BrokerSerializeError, httpx.Internal("cross-region: encode envelope", err))
		return
	}
	h.metrics.Count(h.region, internalapi.BrokerOK)
	c.Header(internalapi.BrokerOutcomeHeader, internalapi.BrokerOK)
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

// walletError keeps the wallet's 4xx (a missing credential, a residency denial here) and
// turns its failures and its absence into 502, keeping a permanent failure's mark.
func walletError(err error) error {
	var se *internalapi.StatusError
	if errors.As(err, &se) && se.Status < 500 {
		return httpx.WithStatus(se.Status, se.Message, err)
	}
	// A failure the wallet called permanent (its secret manager refused it) stays so:
	// the requesting region's worker must not repeat it.
	e := httpx.WithStatus(http.StatusBadGateway, fmt.Sprintf("cross-region: this region's wallet could not seal: %v", err), err)
	e.Permanent = se != nil && se.Permanent
	return e
}
