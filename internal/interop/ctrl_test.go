package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeCtrl is a ctrl_tcp server that answers every command with handle's
// result and sends events after that response.
func fakeCtrl(t *testing.T, handle func(cmd map[string]string) (resp map[string]any, events []map[string]any)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for {
			msg, err := readNetstring(r)
			if err != nil {
				return
			}
			var cmd map[string]string
			if err := json.Unmarshal(msg, &cmd); err != nil {
				return
			}
			resp, events := handle(cmd)
			var out []byte
			for _, m := range append([]map[string]any{resp}, events...) {
				if m == nil {
					continue
				}
				b, _ := json.Marshal(m)
				out = appendNetstring(out, b)
			}
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

func TestCtrl(t *testing.T) {
	addr := fakeCtrl(t, func(cmd map[string]string) (map[string]any, []map[string]any) {
		resp := map[string]any{"response": true, "ok": cmd["command"] != "bad", "data": "done " + cmd["params"], "token": cmd["token"]}
		if cmd["command"] == "dial" {
			return resp, []map[string]any{
				{"event": true, "type": "CALL_ESTABLISHED", "class": "call", "peeruri": cmd["params"]},
				{"event": true, "type": "CALL_DTMF_START", "class": "call", "param": "5"},
			}
		}
		return resp, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := DialCtrl(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Command(ctx, "dial", "sip:bob@127.0.0.1")
	if err != nil || !res.OK || res.Data != "done sip:bob@127.0.0.1" {
		t.Fatalf("dial: %+v, %v", res, err)
	}
	if e, err := c.WaitEvent(ctx, "CALL_DTMF_START", "5"); err != nil || e.Param != "5" {
		t.Errorf("WaitEvent: %v, %v", e, err)
	}
	if e, err := c.WaitEvent(ctx, "CALL_ESTABLISHED", ""); err != nil || e.PeerURI != "sip:bob@127.0.0.1" {
		t.Errorf("WaitEvent: %+v, %v", e, err)
	}
	if _, err := c.Command(ctx, "bad", ""); !errors.Is(err, ErrCommandFailed) {
		t.Errorf("bad command: %v, want ErrCommandFailed", err)
	}
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := c.WaitEvent(short, "CALL_CLOSED", ""); !errors.Is(err, ErrNoEvent) || !strings.Contains(err.Error(), "CALL_DTMF_START 5") {
		t.Errorf("WaitEvent(CALL_CLOSED) = %v, want ErrNoEvent listing the events", err)
	}
	if n := len(c.Events()); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

func TestCtrlConnectionEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := DialCtrl(ctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = conn.Write([]byte("12:{\"event\":tr")) // cut short
	_ = conn.Close()
	if _, err := c.WaitEvent(ctx, "CALL_CLOSED", ""); !errors.Is(err, ErrNoEvent) || !strings.Contains(err.Error(), "connection ended") {
		t.Errorf("WaitEvent = %v, want ErrNoEvent after the connection ended", err)
	}
	if _, err := c.Command(ctx, "listcalls", ""); err == nil {
		t.Error("Command on an ended connection succeeded")
	}
}

func TestReadNetstring(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"5:hello,", "hello", true},
		{"0:,", "", true},
		{"5:hello;", "", false},
		{"x:hello,", "", false},
		{"-1:,", "", false},
		{"99999999:", "", false},
		{"5:hel", "", false},
	} {
		got, err := readNetstring(bufio.NewReader(strings.NewReader(tc.in)))
		if (err == nil) != tc.ok || string(got) != tc.want {
			t.Errorf("readNetstring(%q) = %q, %v", tc.in, got, err)
		}
	}
	if got := string(appendNetstring(nil, []byte(`{"a":1}`))); got != `7:{"a":1},` {
		t.Errorf("appendNetstring = %q", got)
	}
}

func FuzzReadNetstring(f *testing.F) {
	f.Add([]byte(`5:hello,`))
	f.Add([]byte(`61:{"event":true,"type":"CALL_DTMF_START","class":"call","param":"5"},`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readNetstring(bufio.NewReader(strings.NewReader(string(data))))
		if err != nil {
			return
		}
		again, err := readNetstring(bufio.NewReader(strings.NewReader(string(appendNetstring(nil, got)))))
		if err != nil || string(again) != string(got) {
			t.Fatalf("round trip of %q: %q, %v", got, again, err)
		}
	})
}
