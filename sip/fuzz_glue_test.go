package sip

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FuzzRequestGlue feeds whole SIP requests through sipgo's parser (with
// our lenient header parsers, as the agent parses them) and then through
// everything of ours that reads a request's headers before a call exists:
// validation (RFC 3261 §8.2), the Require and Accept checks, the SDP body
// extraction (plain and multipart), Session-Expires/Min-SE negotiation,
// the From/To/Contact addresses, and the stateless response. Invariants:
// no panic; a rejection has a status of RFC 3261's set for validation; an
// accepted request has every mandatory header, a CSeq of its own method,
// and a response built for it that sipgo parses back with the same
// Call-ID, CSeq and From tag.
func FuzzRequestGlue(f *testing.F) {
	addFiles(f, filepath.Join(tortureDir, "*", "*.sip"), func(d []byte) { f.Add(d) })
	f.Add([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" +
		"From: \"A\" <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:alice@127.0.0.1:5070;transport=tcp>\r\nSupported: timer\r\nSession-Expires: 1800;refresher=uac\r\n" +
		"Min-SE: 90\r\nContent-Type: multipart/mixed;boundary=b\r\nContent-Length: 70\r\n\r\n" +
		"--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--\r\n"))
	f.Add([]byte("INFO sip:bob@h SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a@h>;tag=x\r\nTo: <sip:b@h>;tag=y\r\n" +
		"Call-ID: c\r\nCSeq: 2 INFO\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 10\r\n\r\nSignal=5\r\n"))
	codes := map[int]bool{400: true, 415: true, 416: true, 420: true, 501: true, 505: true}
	parser := sip.NewParser(sip.WithHeadersParsers(lenientHeaderParsers()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if code, _ := screenMessage(data, true); code != 0 {
			return // answered statelessly before sipgo sees it (FuzzScreenMessage)
		}
		msg, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		if rej := validateRequest(req); rej != nil {
			if !codes[rej.code] {
				t.Fatalf("validation answered %d %s", rej.code, rej.reason)
			}
			return
		}
		if req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
			t.Fatal("accepted without a mandatory header")
		}
		if !strings.EqualFold(string(req.CSeq().MethodName), string(req.Method)) {
			t.Fatalf("accepted with CSeq method %q for %s", req.CSeq().MethodName, req.Method)
		}
		_ = acceptsSDP(req)
		if body, ok := sdpBody(req); ok && len(body) > maxSDPSize+1 {
			t.Fatalf("SDP body of %d bytes", len(body))
		}
		_, _ = allowsMethod(req, "UPDATE")
		if st, rej := negotiateSE(req, sessionTimer{}, 30*time.Minute); rej == nil && st.interval < 0 {
			t.Fatalf("negative session interval %v", st.interval)
		} else if rej != nil && rej.code != 400 && rej.code != 422 {
			t.Fatalf("Session-Expires answered %d", rej.code)
		}
		_ = addressOf("x", req.From().Address)
		_ = addressOf("x", req.To().Address)
		if ct := req.Contact(); ct != nil {
			_ = ct.Address.String()
		}
		if v := req.Via(); req.IsAck() || v.Host == "" || v.Transport == "" || !hostOK(strings.TrimSpace(v.Host)) {
			// No response, or a Via sipgo could not read (validation lets
			// that through: sipgo loses the host from forms RFC 3261
			// allows), which sipgo then cannot echo in a parsable way.
			return
		}
		res := sip.NewResponseFromRequest(req, 400, "Bad Request", nil)
		back, err := parser.ParseSIP([]byte(res.String()))
		if err != nil {
			t.Fatalf("our response to an accepted request does not parse: %v\n%s", err, res)
		}
		r2, ok := back.(*sip.Response)
		if !ok || r2.CallID() == nil || r2.CSeq() == nil || r2.From() == nil {
			t.Fatalf("our response lost its Call-ID, CSeq or From:\n%s", res)
		}
		// sipgo keeps white space after "tag=" (RFC 3261 allows it around
		// the '=') in the value and quotes the value when it echoes it: the
		// tags are compared without it.
		sameTag := strings.Trim(tagOf(r2.From().Params), `" `) == strings.Trim(tagOf(req.From().Params), `" `)
		if r2.CallID().Value() != req.CallID().Value() || r2.CSeq().SeqNo != req.CSeq().SeqNo || !sameTag {
			t.Fatalf("response identity differs: %q %d %q, request %q %d %q", r2.CallID().Value(), r2.CSeq().SeqNo,
				tagOf(r2.From().Params), req.CallID().Value(), req.CSeq().SeqNo, tagOf(req.From().Params))
		}
	})
}
