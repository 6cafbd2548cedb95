package graphql_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/signet-dspy/signet/model"
)

// wsClient speaks graphql-transport-ws over a real websocket.
type wsClient struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
}

// message is one message of the protocol.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dial opens a websocket as token and does connection_init → connection_ack.
func (s *server) dial(t *testing.T, token string) *wsClient {
	t.Helper()
	ctx := t.Context()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http"), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	if resp.Header.Get("Sec-WebSocket-Protocol") != "graphql-transport-ws" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	c := &wsClient{t: t, ctx: ctx, conn: conn}
	c.write(message{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("after connection_init: %+v, want connection_ack", m)
	}
	return c
}

func (c *wsClient) write(m message) {
	c.t.Helper()
	if err := wsjson.Write(c.ctx, c.conn, m); err != nil {
		c.t.Fatalf("write %s: %v", m.Type, err)
	}
}

// read is the next message that is not a keep-alive ping (answered).
func (c *wsClient) read() message {
	c.t.Helper()
	for {
		var m message
		if err := wsjson.Read(c.ctx, c.conn, &m); err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if m.Type != "ping" {
			return m
		}
		c.write(message{Type: "pong"})
	}
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		c.t.Fatal(err)
	}
	c.write(message{ID: id, Type: "subscribe", Payload: payload})
}

// next is the next execution subscription id sends; it fails the test on
// anything else.
func (c *wsClient) next(id string) execution {
	c.t.Helper()
	m := c.read()
	if m.ID != id || m.Type != "next" {
		c.t.Fatalf("subscription %s: got %s %s %s, want next", id, m.ID, m.Type, m.Payload)
	}
	var p struct {
		Data struct{ ExecutionUpdates execution }
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		c.t.Fatalf("subscription %s: %s: %v", id, m.Payload, err)
	}
	return p.Data.ExecutionUpdates
}

const updatesSubscription = `subscription($id: ID, $p: String) { executionUpdates(id: $id, program: $p) { ` + executionFields + ` } }`

// executionUpdates over a real websocket: a program's executions that the
// subscriber may read, from queued to their end; one execution's, ending
// with it; a refusal as an error message with the service's code.
func TestExecutionUpdates(t *testing.T) {
	s := start(t)
	s.create(t, "qa")
	s.deploy(t, "qa")
	ann := s.user(t, "ann", model.RoleMLUser, 5)
	ws := s.dial(t, ann)

	// A program's executions, as ann may read them: hers, not the local user's.
	ws.subscribe("1", updatesSubscription, map[string]any{"p": "qa"})
	<-s.subscribed
	local := s.execute(t, "", "qa", "Where is Lima?", true)
	x := s.execute(t, ann, "qa", "What is the capital of Peru?", false)
	var states []string
	for {
		u := ws.next("1")
		if u.ID != x.ID {
			t.Fatalf("ann's subscription sent execution %s (%s, of %q), want only hers (%s); the local user's was %s", u.ID, u.State, u.User, x.ID, local.ID)
		}
		states = append(states, u.State)
		if u.State == "COMPLETED" {
			if u.Outputs["answer"] != "Peru" || u.Ended == nil || u.Tokens <= 0 {
				t.Fatalf("the completed execution: %+v", u)
			}
			break
		}
	}
	if !strings.Contains(strings.Join(states, " "), "RUNNING COMPLETED") {
		t.Fatalf("states %v, want running then completed", states)
	}
	ws.write(message{ID: "1", Type: "complete"})
	// gqlgen answers the client's complete with its own once the
	// subscription has stopped: nothing of 1 comes after.
	if m := ws.read(); m.ID != "1" || m.Type != "complete" {
		t.Fatalf("after the client's complete of 1: %s %s %s, want complete", m.ID, m.Type, m.Payload)
	}

	// One execution: its state now first, then its changes, then complete.
	y := s.execute(t, ann, "qa", "Is Quito high?", false)
	ws.subscribe("2", updatesSubscription, map[string]any{"id": y.ID})
	var last execution
	for m := ws.read(); m.ID != "2" || m.Type != "complete"; m = ws.read() {
		if m.ID != "2" || m.Type != "next" {
			t.Fatalf("subscription 2: %s %s %s", m.ID, m.Type, m.Payload)
		}
		var p struct {
			Data struct{ ExecutionUpdates execution }
		}
		json.Unmarshal(m.Payload, &p)
		last = p.Data.ExecutionUpdates
		if last.ID != y.ID {
			t.Fatalf("subscription 2 sent %+v, want %s", last, y.ID)
		}
	}
	if last.State != "COMPLETED" || last.Outputs["answer"] != "Quito" {
		t.Fatalf("subscription 2 ended at %+v, want completed", last)
	}
	// An execution that has ended: that state, and complete.
	ws.subscribe("3", updatesSubscription, map[string]any{"id": x.ID})
	if u := ws.next("3"); u.ID != x.ID || u.State != "COMPLETED" {
		t.Fatalf("subscription 3: %+v", u)
	}
	if m := ws.read(); m.ID != "3" || m.Type != "complete" {
		t.Fatalf("subscription 3 after its one state: %s %s %s, want complete", m.ID, m.Type, m.Payload)
	}

	// Leaving the local user's executions out of ann's stream refused her
	// nothing: the audit trail has no denial.
	if denied := denials(t, s); len(denied) != 0 {
		t.Fatalf("the audit trail after ann's subscriptions: denials %+v", denied)
	}

	// Another's execution: the service's refusal, as an execution result
	// with errors (the protocol's error message is for invalid operations),
	// then complete.
	ws.subscribe("4", updatesSubscription, map[string]any{"id": local.ID})
	m := ws.read()
	var res answer
	if m.ID != "4" || m.Type != "next" || json.Unmarshal(m.Payload, &res) != nil || len(res.Errors) != 1 ||
		res.Errors[0].code() != "forbidden" || !strings.Contains(res.Errors[0].Message, "ann (ml_user) may not read execution:"+local.ID) {
		t.Fatalf("subscription 4 to the local user's execution: %s %s %s, want a forbidden error", m.ID, m.Type, m.Payload)
	}
	if m := ws.read(); m.ID != "4" || m.Type != "complete" {
		t.Fatalf("subscription 4 after its error: %s %s %s, want complete", m.ID, m.Type, m.Payload)
	}
	if denied := denials(t, s); len(denied) != 1 || denied[0].Actor != "ann" || denied[0].Target != "execution:"+local.ID {
		t.Fatalf("the audit trail after ann's subscription to the local user's execution: denials %+v", denied)
	}
	// An invalid operation is the protocol's error message.
	ws.subscribe("5", `subscription { executionUpdates(colour: "blue") { id } }`, nil)
	if m := ws.read(); m.ID != "5" || m.Type != "error" || !strings.Contains(string(m.Payload), "colour") {
		t.Fatalf("subscription 5, invalid: %s %s %s, want an error message", m.ID, m.Type, m.Payload)
	}
	ws.conn.Close(websocket.StatusNormalClosure, "")

	// A page of another site cannot open one (a browser sends its Origin).
	_, resp, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(s.url, "http"), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + ann}, "Origin": {"https://elsewhere.example"}},
	})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a websocket from another origin: %v (%v), want 403", err, resp)
	}
}

// denials are the audit trail's refusals.
func denials(t *testing.T, s *server) []*model.AuditRecord {
	t.Helper()
	recs, err := s.o.Audit(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []*model.AuditRecord
	for _, r := range recs {
		if r.Outcome == model.OutcomeDenied {
			out = append(out, r)
		}
	}
	return out
}
