package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// maxNetstring bounds one ctrl_tcp message.
const maxNetstring = 1 << 20

// Event is an event baresip's ctrl_tcp sends, e.g.
// {"event":true,"type":"CALL_DTMF_START","param":"5",...}.
type Event struct {
	// Type is the event, e.g. CALL_ESTABLISHED, CALL_RTPESTAB,
	// CALL_DTMF_START, CALL_CLOSED.
	Type string `json:"type"`
	// Class is the event class, e.g. "call".
	Class string `json:"class"`
	// AccountAOR is the account's address of record.
	AccountAOR string `json:"accountaor"`
	// Direction is "incoming" or "outgoing" for call events.
	Direction string `json:"direction"`
	// PeerURI is the remote party of a call event.
	PeerURI string `json:"peeruri"`
	// ID is the call ID.
	ID string `json:"id"`
	// Param is the event's parameter: the digit of CALL_DTMF_START, the
	// reason of CALL_CLOSED.
	Param string `json:"param"`
	// Received is when the client read it.
	Received time.Time `json:"-"`
}

// String formats e for a test log.
func (e Event) String() string {
	if e.Param != "" {
		return e.Type + " " + e.Param
	}
	return e.Type
}

// Response is ctrl_tcp's answer to a command.
type Response struct {
	// OK is false when the command failed.
	OK bool `json:"ok"`
	// Data is the command's output, e.g. the text of listcalls.
	Data string `json:"data"`
	// Token echoes the command's token.
	Token string `json:"token"`
}

// message is any ctrl_tcp message.
type message struct {
	Event    bool `json:"event"`
	Response bool `json:"response"`
}

// Ctrl is a client of baresip's ctrl_tcp module: JSON messages in
// netstrings ("LEN:JSON,"). baresip sends events only to its newest
// connection, so a test holds one Ctrl per instance for commands and events.
// It is safe for concurrent use; commands are sent one at a time. It owns one
// reader goroutine, ended by Close.
type Ctrl struct {
	conn  net.Conn
	cmdMu sync.Mutex // serialises Command

	mu        sync.Mutex // guards events, responses, changed, err, token
	events    []Event
	responses []Response
	changed   chan struct{} // closed and replaced when a message arrives or reading ends
	err       error         // why reading ended
	token     int

	done chan struct{} // closed when the reader has exited
}

// DialCtrl connects to ctrl_tcp at addr (host:port), retrying until it
// accepts or ctx is done: baresip opens the port once its modules are
// loaded, after its SIP transports.
func DialCtrl(ctx context.Context, addr string) (*Ctrl, error) {
	var d net.Dialer
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c := &Ctrl{conn: conn, changed: make(chan struct{}), done: make(chan struct{})}
			go c.read()
			return c, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("interop: ctrl_tcp %s: %w (last: %v)", addr, ctx.Err(), err)
		}
	}
}

func (c *Ctrl) read() {
	defer close(c.done)
	r := bufio.NewReader(c.conn)
	var err error
	for {
		var msg []byte
		if msg, err = readNetstring(r); err != nil {
			break
		}
		var m message
		if err = json.Unmarshal(msg, &m); err != nil {
			err = fmt.Errorf("interop: ctrl_tcp message %q: %w", msg, err)
			break
		}
		c.mu.Lock()
		switch {
		case m.Event:
			e := Event{Received: time.Now()}
			_ = json.Unmarshal(msg, &e)
			c.events = append(c.events, e)
		case m.Response:
			var res Response
			_ = json.Unmarshal(msg, &res)
			c.responses = append(c.responses, res)
		}
		c.notifyLocked()
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.err = err
	c.notifyLocked()
	c.mu.Unlock()
}

func (c *Ctrl) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// readNetstring reads one netstring ("LEN:DATA,") from r.
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(head[:len(head)-1])
	if err != nil || n < 0 || n > maxNetstring {
		return nil, fmt.Errorf("interop: bad netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, fmt.Errorf("interop: netstring of %d bytes not ended by a comma", n)
	}
	return buf[:n], nil
}

// appendNetstring appends data as a netstring to b.
func appendNetstring(b, data []byte) []byte {
	b = strconv.AppendInt(b, int64(len(data)), 10)
	b = append(b, ':')
	b = append(b, data...)
	return append(b, ',')
}

// Command sends a command (a menu command such as "dial", "accept",
// "hangup", "sndcode", "listcalls", "quit") with its parameters and waits for
// the response. It returns ErrCommandFailed (wrapped) when baresip answers
// ok:false.
func (c *Ctrl) Command(ctx context.Context, command, params string) (Response, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	c.mu.Lock()
	c.token++
	token := strconv.Itoa(c.token)
	seen := len(c.responses)
	c.mu.Unlock()

	data, err := json.Marshal(map[string]string{"command": command, "params": params, "token": token})
	if err != nil {
		return Response{}, err
	}
	if err := c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return Response{}, err
	}
	if _, err := c.conn.Write(appendNetstring(nil, data)); err != nil {
		return Response{}, fmt.Errorf("interop: ctrl_tcp %s: %w", command, err)
	}
	for {
		c.mu.Lock()
		for _, res := range c.responses[seen:] {
			if res.Token == token || res.Token == "" {
				c.mu.Unlock()
				if !res.OK {
					return res, fmt.Errorf("%w: %s %s: %s", ErrCommandFailed, command, params, res.Data)
				}
				return res, nil
			}
		}
		seen = len(c.responses)
		changed, rerr := c.changed, c.err
		c.mu.Unlock()
		if rerr != nil {
			return Response{}, fmt.Errorf("interop: ctrl_tcp %s: connection ended: %w", command, rerr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Response{}, fmt.Errorf("interop: ctrl_tcp %s: no response: %w", command, ctx.Err())
		}
	}
}

// Events returns the events received so far, oldest first.
func (c *Ctrl) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// WaitEvent waits for an event of type typ (and, unless param is "", with
// that parameter) among all events received so far and to come, and returns
// the first. It returns ErrNoEvent (wrapped, with the events so far) when ctx
// is done or the connection ends first.
func (c *Ctrl) WaitEvent(ctx context.Context, typ, param string) (Event, error) {
	for {
		c.mu.Lock()
		for _, e := range c.events {
			if e.Type == typ && (param == "" || e.Param == param) {
				c.mu.Unlock()
				return e, nil
			}
		}
		changed, rerr, events := c.changed, c.err, append([]Event(nil), c.events...)
		c.mu.Unlock()
		why := error(nil)
		if rerr != nil {
			why = fmt.Errorf("connection ended: %w", rerr)
		} else {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				why = ctx.Err()
			}
		}
		return Event{}, fmt.Errorf("%w: %s %s (%v); got %v", ErrNoEvent, typ, param, why, events)
	}
}

// Close closes the connection and waits for the reader goroutine. Events
// received before stay available. Close may be called more than once.
func (c *Ctrl) Close() error {
	err := c.conn.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
