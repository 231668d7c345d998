package sip

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Header values we advertise.
const (
	allowMethods  = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER"
	acceptSDP     = "application/sdp"
	acceptOptions = "application/sdp, application/dtmf-relay, application/dtmf"
	supportedTags = "timer"
)

// knownMethods are the methods of RFC 3261 and its common extensions: an
// unknown method gets 501, a known one we do not serve gets 405.
var knownMethods = map[sip.RequestMethod]bool{
	sip.INVITE: true, sip.ACK: true, sip.CANCEL: true, sip.BYE: true, sip.OPTIONS: true,
	sip.INFO: true, sip.UPDATE: true, sip.REFER: true, sip.PRACK: true, sip.REGISTER: true,
	sip.SUBSCRIBE: true, sip.NOTIFY: true, sip.PUBLISH: true, sip.MESSAGE: true,
}

// rejection is a final response decided by validation.
type rejection struct {
	code   int
	reason string
	hdrs   []sip.Header
}

func reject(code int, reason string, hdrs ...sip.Header) *rejection {
	return &rejection{code: code, reason: reason, hdrs: hdrs}
}

// validateRequest applies RFC 3261 §8.2 to any request, in the RFC's order
// after the version and the header sanity checks: 505 for a version other
// than SIP/2.0; 400 for a malformed or missing mandatory header, a
// duplicated single-valued header, a CSeq method that differs from the
// request's or a Request-URI with headers; 501 for an unknown method; 416
// for a Request-URI scheme other than sip, sips or tel; 420 with
// Unsupported for a Require we do not support (we support "timer"); 415
// with Accept or Accept-Encoding for a body we cannot read.
//
// RFC 4475 §3.3.11: Max-Forwards 0 is for proxies, an endpoint processes
// such a request normally, so there is no 483 here.
func validateRequest(req *sip.Request) *rejection {
	if !strings.EqualFold(req.SipVersion, "SIP/2.0") {
		return reject(505, "Version Not Supported")
	}
	if r := checkHeaders(req); r != nil {
		return r
	}
	if !knownMethods[req.Method] {
		return reject(501, "Not Implemented", sip.NewHeader("Allow", allowMethods))
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		return reject(416, "Unsupported URI Scheme")
	}
	if req.IsAck() || req.IsCancel() {
		return nil
	}
	if tags := unsupportedRequire(req); tags != "" {
		return reject(420, "Bad Extension", sip.NewHeader("Unsupported", tags))
	}
	return checkBody(req)
}

// typedHeaders are the headers sipgo parses into types; a generic header
// under one of these names is a value lenientHeaderParsers could not parse.
var typedHeaders = map[string]bool{
	"via": true, "from": true, "to": true, "call-id": true, "cseq": true, "contact": true,
	"max-forwards": true, "content-length": true, "content-type": true, "route": true,
	"record-route": true,
}

// singleHeaders may appear only once.
var singleHeaders = []string{"from", "to", "call-id", "cseq", "max-forwards", "content-length", "content-type"}

func checkHeaders(req *sip.Request) *rejection {
	counts := make(map[string]int, 8)
	for _, h := range req.Headers() {
		name := strings.ToLower(h.Name())
		counts[name]++
		if typedHeaders[name] && !isTyped(h) {
			return reject(400, "Bad Request (malformed "+h.Name()+")")
		}
	}
	for _, n := range singleHeaders {
		if counts[n] > 1 {
			return reject(400, "Bad Request (duplicate "+n+")")
		}
	}
	switch {
	case req.Via() == nil, req.From() == nil, req.To() == nil, req.CallID() == nil, req.CSeq() == nil:
		return reject(400, "Bad Request (missing mandatory header)")
	case !strings.EqualFold(string(req.CSeq().MethodName), string(req.Method)):
		return reject(400, "Bad Request (CSeq method mismatch)")
	case len(req.Recipient.Headers) > 0:
		return reject(400, "Bad Request (headers in Request-URI)")
	case sipScheme(req.Recipient.Scheme) && req.Recipient.Host == "":
		return reject(400, "Bad Request (Request-URI without a host)")
	case !viaOK(req.Via()):
		return reject(400, "Bad Request (malformed Via)")
	case !addressOK(req.From().Address), !addressOK(req.To().Address):
		return reject(400, "Bad Request (malformed From or To URI)")
	case !paramsOK(req.From().Params), !paramsOK(req.To().Params):
		return reject(400, "Bad Request (malformed From or To parameter)")
	}
	return nil
}

// paramsOK reports whether the parameters of a From or To are well formed
// (RFC 3261 §25.1): every name is a token, and the tag, when present, has
// a token for value. sipgo keeps a malformed one as a name with '=' in it,
// which it echoes as something else.
func paramsOK(p sip.HeaderParams) bool {
	for _, kv := range p {
		// White space around '=' is allowed (RFC 4475 §3.1.1.1).
		k, v := strings.TrimSpace(kv.K), strings.TrimSpace(kv.V)
		if k == "" && v == "" {
			continue // sipgo's trace of white space before a ';'
		}
		if !isToken(k) || strings.EqualFold(k, "tag") && !isToken(v) {
			return false
		}
	}
	return true
}

func sipScheme(s string) bool { return strings.EqualFold(s, "sip") || strings.EqualFold(s, "sips") }

// viaOK reports whether the top Via names SIP/2.0. Its transport and host
// are not checked: sipgo loses them from forms RFC 3261 allows (white
// space around '/', or before ';' after a port), and responses to such a
// request still go to its source address.
func viaOK(v *sip.ViaHeader) bool {
	return strings.EqualFold(strings.TrimSpace(v.ProtocolName), "SIP") && strings.TrimSpace(v.ProtocolVersion) == "2.0"
}

// hostOK reports whether h is a host name, an IPv4 address or an IPv6
// reference by its characters (RFC 3261 §25.1: alphanumerics, '-', '.',
// and ':' inside brackets; '_' too, which real PBX host names carry).
func hostOK(h string) bool {
	if h == "" {
		return false
	}
	if strings.HasPrefix(h, "[") {
		_, err := netip.ParseAddr(strings.Trim(h, "[]"))
		return err == nil && strings.HasSuffix(h, "]")
	}
	for i := range len(h) {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':' || c == '_') {
			return false
		}
	}
	return true
}

// addressOK reports whether a From or To URI has a scheme and, for sip and
// sips, a host; another scheme (allowed there, RFC 3261 §20.20) must be
// made of URI characters. sipgo keeps what it cannot parse as a URI
// without a scheme.
func addressOK(u sip.Uri) bool {
	switch {
	case u.Scheme == "":
		return false
	case sipScheme(u.Scheme):
		return hostOK(strings.TrimSpace(u.Host))
	}
	// An absoluteURI has no white space, quotes or angle brackets (RFC
	// 3986); with them, the header we echo would not parse.
	return !strings.ContainsAny(u.String(), "<>\" \t\r\n")
}

func isTyped(h sip.Header) bool {
	switch h.(type) {
	case *sip.ViaHeader, *sip.FromHeader, *sip.ToHeader, *sip.CallIDHeader, *sip.CSeqHeader,
		*sip.ContactHeader, *sip.MaxForwardsHeader, *sip.ContentLengthHeader,
		*sip.ContentTypeHeader, *sip.RouteHeader, *sip.RecordRouteHeader:
		return true
	}
	return false
}

// headerValues returns the comma-separated values of every header named
// name (or its compact form), trimmed and non-empty.
func headerValues(m sip.Message, name, compact string) []string {
	var out []string
	add := func(hs []sip.Header) {
		for _, h := range hs {
			for _, v := range strings.Split(h.Value(), ",") {
				if v = strings.TrimSpace(v); v != "" {
					out = append(out, v)
				}
			}
		}
	}
	add(m.GetHeaders(name))
	if compact != "" {
		add(m.GetHeaders(compact))
	}
	return out
}

func hasOption(m sip.Message, name, compact, tag string) bool {
	for _, v := range headerValues(m, name, compact) {
		if strings.EqualFold(v, tag) {
			return true
		}
	}
	return false
}

func unsupportedRequire(req *sip.Request) string {
	var bad []string
	for _, v := range headerValues(req, "Require", "") {
		if !strings.EqualFold(v, "timer") {
			bad = append(bad, v)
		}
	}
	return strings.Join(bad, ", ")
}

// sdpMethod reports whether a body of this method is a session description.
func sdpMethod(m sip.RequestMethod) bool {
	return m == sip.INVITE || m == sip.UPDATE || m == sip.ACK || m == sip.PRACK
}

func checkBody(req *sip.Request) *rejection {
	if len(req.Body()) == 0 {
		return nil
	}
	if enc := req.GetHeader("Content-Encoding"); enc != nil && !strings.EqualFold(strings.TrimSpace(enc.Value()), "identity") {
		return reject(415, "Unsupported Media Type", sip.NewHeader("Accept-Encoding", "identity"))
	}
	if !sdpMethod(req.Method) {
		return nil // INFO, MESSAGE, ...: any body
	}
	if req.ContentType() == nil {
		return reject(400, "Bad Request (body without Content-Type)")
	}
	if _, ok := sdpBody(req); !ok {
		return reject(415, "Unsupported Media Type", sip.NewHeader("Accept", acceptSDP))
	}
	return nil
}

// sdpBody returns the session description of a message: its body when the
// Content-Type is application/sdp, or the application/sdp part of a
// multipart body. ok is false when the message has a body without SDP.
func sdpBody(m sip.Message) ([]byte, bool) {
	body := m.Body()
	if len(body) == 0 {
		return nil, true
	}
	ct := firstHeader(m, "Content-Type")
	if ct == nil {
		return nil, false
	}
	mt, params, err := mime.ParseMediaType(ct.Value())
	if err != nil {
		return nil, false
	}
	switch {
	case mt == "application/sdp":
		return body, true
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for range 8 {
			p, err := r.NextRawPart()
			if err != nil {
				return nil, false
			}
			pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pt == "application/sdp" {
				b, err := io.ReadAll(io.LimitReader(p, maxSDPSize+1))
				return b, err == nil
			}
		}
	}
	return nil, false
}

// acceptsSDP reports whether the request's Accept header (if any) allows
// an SDP body in the response (RFC 4475 §3.3.15).
func acceptsSDP(req *sip.Request) bool {
	vals := headerValues(req, "Accept", "")
	if len(req.GetHeaders("Accept")) == 0 {
		return true
	}
	for _, v := range vals {
		mt, _, _ := strings.Cut(v, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/sdp", "application/*", "*/*":
			return true
		}
	}
	return false
}

// firstHeader returns m's first header called name, or nil.
func firstHeader(m sip.Message, name string) sip.Header {
	if hs := m.GetHeaders(name); len(hs) > 0 {
		return hs[0]
	}
	return nil
}
