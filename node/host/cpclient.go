package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
	"github.com/keyfleet/keyfleet/node"
)

// cpClient speaks the control plane's /internal/v1 API for a node.
type cpClient struct {
	base    string
	token   string
	http    *http.Client
	timeout time.Duration
	// attempts is how many times one call is tried when the failure may
	// be transient (network error, 5xx, 429).
	attempts int
}

func newCPClient(base, token string, timeout time.Duration) *cpClient {
	return &cpClient{
		base:     base,
		token:    token,
		timeout:  timeout,
		attempts: 3,
		http: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
}

// HTTPError is a non-2xx answer from the control plane.
type HTTPError struct {
	Status  int
	Code    string
	Message string
}

func (e *HTTPError) Error() string {
	if e.Code != "" || e.Message != "" {
		return fmt.Sprintf("control plane: HTTP %d: %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("control plane: HTTP %d", e.Status)
}

func (e *HTTPError) transient() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// post sends in as JSON to path and decodes the answer into out, retrying
// transient failures with jittered exponential backoff within ctx.
func (c *cpClient) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = c.once(ctx, path, body, out)
		var he *HTTPError
		if err == nil || attempt >= c.attempts || ctx.Err() != nil || (errors.As(err, &he) && !he.transient()) {
			return err
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

func (c *cpClient) once(ctx context.Context, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "keyfleet-node/"+node.KeyfleetVersion)
	req.Header.Set(wire.HeaderNodeToken, "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", path, err)
	}
	defer resp.Body.Close()
	// The desired state of a node is small; a bigger answer is a fault.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("read %s answer: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		he := &HTTPError{Status: resp.StatusCode}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil {
			he.Code, he.Message = e.Error.Code, e.Error.Message
		}
		return fmt.Errorf("post %s: %w", path, he)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s answer: %w", path, err)
	}
	return nil
}

func (c *cpClient) register(ctx context.Context, r wire.NodeRegister) (wire.NodeRegistered, error) {
	var out wire.NodeRegistered
	err := c.post(ctx, wire.PathNodeRegister, r, &out)
	return out, err
}

func (c *cpClient) heartbeat(ctx context.Context, hb wire.NodeHeartbeat) (wire.NodeDesired, error) {
	var out wire.NodeDesired
	err := c.post(ctx, wire.PathNodeHeartbeat, hb, &out)
	return out, err
}

func (c *cpClient) close() { c.http.CloseIdleConnections() }
