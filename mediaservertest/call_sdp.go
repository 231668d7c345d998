package mediaservertest

import (
	"fmt"
)

// offerLocked renders an SDP offer of all configured codecs, padded with
// about pad bytes, and records it as the last local SDP. Hold and Reinvite
// set the direction in c.want.
func (c *Call) offerLocked(pad int) []byte {
	cfg := &c.p.cfg
	formats := make([]sdpFormat, 0, len(cfg.Codecs)+1)
	for _, codec := range cfg.Codecs {
		formats = append(formats, sdpFormat{pt: uint8(codec.payloadType()), name: string(codec)})
	}
	if !cfg.DisableTelephoneEvent {
		formats = append(formats, sdpFormat{pt: cfg.TelephoneEventPT, name: "telephone-event"})
	}
	c.local.formats = formats
	c.local.dir = c.want
	c.local.padBytes = pad
	c.local.crypto = c.offerCryptoLocked()
	return c.renderLocked()
}

// renderLocked marshals c.local, bumping the o= version only when the
// content changed (RFC 3264 section 8).
func (c *Call) renderLocked() []byte {
	body := c.local.marshal()
	if c.localBody != nil && !sameExceptOrigin(body, c.localBody) {
		c.local.version++
		body = c.local.marshal()
	}
	c.localBody = body
	return body
}

// applyAnswer applies an SDP answer to this phone's offer. early is true for
// the SDP of a 180/183. It returns an error wrapping ErrNoCommonCodec,
// ErrSRTPMismatch or ErrBadSDP; on error nothing changes.
func (c *Call) applyAnswer(body []byte, early bool) error {
	rm, err := parseSDP(body)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var codec Codec
	var pt uint8
	for _, f := range rm.formats {
		if f.name == "telephone-event" {
			continue
		}
		if c.offeredLocked(Codec(f.name)) {
			codec, pt = Codec(f.name), f.pt
			break
		}
	}
	if codec == "" {
		return fmt.Errorf("%w: answer has none of %v", ErrNoCommonCodec, c.p.cfg.Codecs)
	}
	keys, err := c.srtpForAnswerLocked(rm)
	if err != nil {
		return err
	}
	tePT := -1
	if !c.p.cfg.DisableTelephoneEvent {
		tePT = rm.telephoneEventPT()
	}
	if err := c.media.configure(rm.addr, codec, pt, tePT, [2]int{int(c.p.cfg.TelephoneEventPT), tePT}, keys); err != nil {
		return err
	}
	c.remote, c.remoteBody, c.codec, c.tePT, c.srtpOn = rm, body, codec, tePT, keys != nil
	if !early {
		c.updateSendingLocked()
	}
	return nil
}

// offeredLocked reports whether the last local SDP lists codec.
func (c *Call) offeredLocked(codec Codec) bool {
	for _, f := range c.local.formats {
		if f.name == string(codec) {
			return true
		}
	}
	return false
}

// answerOfferLocked answers an SDP offer: the first configured codec the offer
// has, telephone-event with the offer's payload type, and the direction
// c.want allows, and with PhoneConfig.SRTP an a=crypto line. It returns an
// error wrapping ErrNoCommonCodec or ErrSRTPMismatch (answer 488) or
// ErrBadSDP (answer 400 or 488); on error nothing changes.
func (c *Call) answerOfferLocked(body []byte) ([]byte, error) {
	rm, err := parseSDP(body)
	if err != nil {
		return nil, err
	}
	var codec Codec
	var pt uint8
	for _, want := range c.p.cfg.Codecs {
		if p, ok := rm.find(want); ok {
			codec, pt = want, p
			break
		}
	}
	if codec == "" {
		return nil, fmt.Errorf("%w: offer has none of %v", ErrNoCommonCodec, c.p.cfg.Codecs)
	}
	crypto, keys, err := c.srtpForOfferLocked(rm)
	if err != nil {
		return nil, err
	}
	formats := []sdpFormat{{pt: pt, name: string(codec)}}
	tePT := -1
	if !c.p.cfg.DisableTelephoneEvent {
		if tePT = rm.telephoneEventPT(); tePT >= 0 {
			formats = append(formats, sdpFormat{pt: uint8(tePT), name: "telephone-event"})
		}
	}
	if err := c.media.configure(rm.addr, codec, pt, tePT, [2]int{tePT, tePT}, keys); err != nil {
		return nil, err
	}
	c.local.formats = formats
	c.local.dir = answerDirection(rm.dir, c.want)
	c.local.padBytes = 0
	c.local.crypto = crypto
	answer := c.renderLocked()
	c.remote, c.remoteBody, c.codec, c.tePT, c.srtpOn = rm, body, codec, tePT, keys != nil
	c.updateSendingLocked()
	return answer, nil
}
