package mediaservertest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// DTMFMode is how Call.SendDigits sends digits, and which received digits
// Call.WaitDigits waits for.
type DTMFMode int

// DTMF modes.
const (
	// DTMFRFC4733 sends RFC 4733 telephone-event RTP packets (the default).
	DTMFRFC4733 DTMFMode = iota
	// DTMFInfo sends one SIP INFO request per digit, application/dtmf-relay.
	DTMFInfo
	// DTMFInband mixes the dual tones into the audio the phone sends.
	DTMFInband
)

// String returns the mode's name.
func (m DTMFMode) String() string {
	switch m {
	case DTMFRFC4733:
		return "rfc4733"
	case DTMFInfo:
		return "info"
	case DTMFInband:
		return "inband"
	}
	return fmt.Sprintf("DTMFMode(%d)", int(m))
}

// dtmfDigits lists the digits in RFC 4733 event-code order (section 3.2).
const dtmfDigits = "0123456789*#ABCD"

// dtmfRows and dtmfCols are the ITU-T Q.23 frequencies.
var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
)

// dtmfKeypad maps [row][col] to the digit.
var dtmfKeypad = [4]string{"123A", "456B", "789C", "*0#D"}

// dtmfFreqs returns the row and column frequency of digit d.
func dtmfFreqs(d byte) (row, col float64, ok bool) {
	for r, line := range dtmfKeypad {
		if c := strings.IndexByte(line, d); c >= 0 {
			return dtmfRows[r], dtmfCols[c], true
		}
	}
	return 0, 0, false
}

// normalizeDigits upper-cases a-d and checks every character.
func normalizeDigits(digits string) (string, error) {
	out := []byte(strings.ToUpper(digits))
	for _, d := range out {
		if strings.IndexByte(dtmfDigits, d) < 0 {
			return "", fmt.Errorf("%w: %q", ErrBadDigit, d)
		}
	}
	return string(out), nil
}

// RFC 4733 section 2.3: the telephone-event payload.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	eventPayloadSize = 4
	eventEndBit      = 0x80
	eventVolumeMask  = 0x3f
	eventVolume      = 10 // -10 dBm0
)

// telephoneEvent is one decoded RFC 4733 payload.
type telephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8
	Duration uint16
}

var errShortEvent = errors.New("telephone-event payload shorter than 4 bytes")

// parseTelephoneEvent decodes an RFC 4733 payload.
func parseTelephoneEvent(p []byte) (telephoneEvent, error) {
	if len(p) < eventPayloadSize {
		return telephoneEvent{}, errShortEvent
	}
	return telephoneEvent{
		Event:    p[0],
		End:      p[1]&eventEndBit != 0,
		Volume:   p[1] & eventVolumeMask,
		Duration: binary.BigEndian.Uint16(p[2:4]),
	}, nil
}

// marshalTo writes the payload into b, which has at least 4 bytes.
func (e telephoneEvent) marshalTo(b []byte) int {
	b[0] = e.Event
	b[1] = e.Volume & eventVolumeMask
	if e.End {
		b[1] |= eventEndBit
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
	return eventPayloadSize
}

// eventDigit returns the digit of an RFC 4733 event code, or 0 for events
// that are not DTMF digits.
func eventDigit(code uint8) byte {
	if int(code) < len(dtmfDigits) {
		return dtmfDigits[code]
	}
	return 0
}

// parseInfoDigit returns the digit carried by an INFO body of content type
// application/dtmf-relay ("Signal=5\r\nDuration=160") or application/dtmf
// ("5"), or 0 if there is none.
func parseInfoDigit(contentType string, body []byte) byte {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	var val string
	switch ct {
	case "application/dtmf-relay":
		for line := range strings.Lines(string(body)) {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				val = strings.TrimSpace(v)
				break
			}
		}
	case "application/dtmf":
		val = strings.TrimSpace(string(body))
	default:
		return 0
	}
	switch val {
	case "10":
		return '*'
	case "11":
		return '#'
	}
	if len(val) == 1 {
		d := strings.ToUpper(val)[0]
		if strings.IndexByte(dtmfDigits, d) >= 0 {
			return d
		}
	}
	return 0
}

// Detector parameters: 205-sample blocks (25.6 ms, 39 Hz bins) as in the
// classic Goertzel DTMF detector.
const (
	detectBlock    = 205
	detectMinDBFS  = -45.0
	detectMinShare = 0.10 // of the block energy, per frequency
	detectMinPair  = 0.35 // row + column share
	detectRatio    = 4.0  // best row/col over the runner-up
	detectTwist    = 6.3  // 8 dB between row and column power
)

// DetectDigits returns the DTMF digits found in samples (8 kHz PCM), in order,
// each once per key press. It needs a tone of about 50 ms or more per digit
// and a pause of about 50 ms between equal digits. It tolerates another tone
// mixed in at a similar level, as long as it is away from the DTMF
// frequencies (697-941 and 1209-1633 Hz).
func DetectDigits(samples []int16) string {
	var out []byte
	var held, cand byte
	var run, gap int
	for len(samples) >= detectBlock {
		d := detectBlockDigit(samples[:detectBlock])
		samples = samples[detectBlock:]
		if d == 0 {
			if gap++; gap >= 2 {
				held = 0
			}
			cand, run = 0, 0
			continue
		}
		gap = 0
		if d == cand {
			run++
		} else {
			cand, run = d, 1
		}
		if run >= 2 && d != held {
			out = append(out, d)
			held = d
		}
	}
	return string(out)
}

// detectBlockDigit returns the digit present in one block, or 0.
func detectBlockDigit(x []int16) byte {
	if LevelDBFS(x) < detectMinDBFS {
		return 0
	}
	best := func(freqs [4]float64) (idx int, share, second float64) {
		var e float64
		shares := [4]float64{}
		for i, f := range freqs {
			p, be := goertzel(x, f)
			e = be
			shares[i] = p
		}
		for i := range shares {
			shares[i] /= e
			if shares[i] > shares[idx] {
				idx = i
			}
		}
		for i, s := range shares {
			if i != idx && s > second {
				second = s
			}
		}
		return idx, shares[idx], second
	}
	r, rs, r2 := best(dtmfRows)
	c, cs, c2 := best(dtmfCols)
	switch {
	case rs < detectMinShare || cs < detectMinShare || rs+cs < detectMinPair:
		return 0
	case rs < detectRatio*r2 || cs < detectRatio*c2:
		return 0
	case rs > detectTwist*cs || cs > detectTwist*rs:
		return 0
	}
	return dtmfKeypad[r][c]
}
