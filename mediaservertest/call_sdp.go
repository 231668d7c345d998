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
// the SDP of a 180/183. On error nothing changes.
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
	tePT := -1
	if !c.p.cfg.DisableTelephoneEvent {
		tePT = rm.telephoneEventPT()
	}
	c.remote, c.remoteBody, c.codec, c.tePT = rm, body, codec, tePT
	c.media.configure(rm.addr, codec, pt, tePT, [2]int{int(c.p.cfg.TelephoneEventPT), tePT})
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
// c.want allows. It returns an error wrapping ErrNoCommonCodec (answer 488)
// or ErrBadSDP (answer 400 or 488); on error nothing changes.
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
	formats := []sdpFormat{{pt: pt, name: string(codec)}}
	tePT := -1
	if !c.p.cfg.DisableTelephoneEvent {
		if tePT = rm.telephoneEventPT(); tePT >= 0 {
			formats = append(formats, sdpFormat{pt: uint8(tePT), name: "telephone-event"})
		}
	}
	c.local.formats = formats
	c.local.dir = answerDirection(rm.dir, c.want)
	c.local.padBytes = 0
	answer := c.renderLocked()
	c.remote, c.remoteBody, c.codec, c.tePT = rm, body, codec, tePT
	c.media.configure(rm.addr, codec, pt, tePT, [2]int{tePT, tePT})
	c.updateSendingLocked()
	return answer, nil
}
