package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/signet-dspy/signet/model"
)

// Client talks to an owner over its socket.
type Client struct {
	sock string
	hc   *http.Client
}

// NewClient makes a client of the owner listening on sock; it does not
// connect until the first request.
func NewClient(sock string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		// One connection per request: a connection kept from an owner that
		// has since stopped would fail a request that could not be retried.
		DisableKeepAlives: true,
	}
	return &Client{sock: sock, hc: &http.Client{Transport: tr}}
}

// Socket is the path the client connects to.
func (c *Client) Socket() string { return c.sock }

// statusTimeout bounds the question "is there an owner?"; an owner that
// cannot answer it in that time is treated as one that is going away.
const statusTimeout = 10 * time.Second

// Status asks the owner who it is. An error wrapping ErrNoOwner means
// nothing listens on the socket.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var st Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// CLI runs a command line in the owner, copying its output to stdout and
// stderr as it comes, and returns its exit code. An error wrapping
// ErrNoOwner means the command never reached an owner, so it did not run.
func (c *Client) CLI(ctx context.Context, req *CLIRequest, stdout, stderr io.Writer) (int, error) {
	resp, err := c.send(ctx, http.MethodPost, "/v1/cli", req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, decodeError(resp)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		var f Frame
		if err := dec.Decode(&f); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("the owner's answer ended before the command did: %w", err)
		}
		if f.Exit != nil {
			return *f.Exit, nil
		}
		w := stdout
		if f.Stream == "stderr" {
			w = stderr
		}
		data := f.Bytes
		if data == nil {
			data = []byte(f.Data)
		}
		if _, err := w.Write(data); err != nil {
			return 0, err
		}
	}
}

// Program is GET /v1/programs/{name} (version 0: the latest).
func (c *Client) Program(ctx context.Context, name string, version int) (*model.Program, error) {
	path := "/v1/programs/" + url.PathEscape(name)
	if version > 0 {
		path += "?version=" + strconv.Itoa(version)
	}
	var p model.Program
	if err := c.do(ctx, http.MethodGet, path, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetProgram is Program's latest version, with the store's method set.
func (c *Client) GetProgram(ctx context.Context, name string) (*model.Program, error) {
	return c.Program(ctx, name, 0)
}

// SaveProgram is PUT /v1/programs/{name}: a new version.
func (c *Client) SaveProgram(ctx context.Context, p *model.Program) (*model.Program, error) {
	var out model.Program
	if err := c.do(ctx, http.MethodPut, "/v1/programs/"+url.PathEscape(p.Name), p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Executions is GET /v1/executions.
func (c *Client) Executions(ctx context.Context, program, state, cursor string, limit int) (*ExecutionPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"program": program, "state": state, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page ExecutionPage
	if err := c.do(ctx, http.MethodGet, "/v1/executions?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Submit is POST /v1/executions.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (*model.Execution, error) {
	var x model.Execution
	if err := c.do(ctx, http.MethodPost, "/v1/executions", req, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

// Get is a GET of any route into out, for the routes without a method here.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

// Events follows GET /v1/events, calling fn for each event until fn returns
// an error, ctx ends or the owner ends the stream (then it returns nil).
func (c *Client) Events(ctx context.Context, fn func(*Event) error) error {
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		var ev Event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("events: %w", err)
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://signet"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if notConnected(err) {
			return nil, fmt.Errorf("%w: %w", ErrNoOwner, err)
		}
		return nil, fmt.Errorf("owner at %s: %w", c.sock, err)
	}
	return resp, nil
}

// notConnected says whether a failed request never reached an owner: no
// socket file, a file nobody listens on (an owner killed with -9), or any
// other failure to connect. Then nothing ran, and trying again is safe.
func notConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func decodeError(resp *http.Response) error {
	var body ErrorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" {
		return &Error{Status: resp.StatusCode, Code: CodeInternal, Message: fmt.Sprintf("owner answered %s: %s", resp.Status, bytes.TrimSpace(b))}
	}
	return &Error{Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message}
}
