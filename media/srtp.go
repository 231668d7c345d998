package media

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTP are the SDES keys of a leg (RFC 4568, decision 21): one context
// per leg and direction. Each key is 30 bytes: a 16-byte master key and a
// 14-byte master salt.
type SRTP struct {
	// Tag80 is true for AES_CM_128_HMAC_SHA1_80, false for _32.
	Tag80 bool
	// Local protects what we send; Remote what we receive.
	Local, Remote []byte
}

// ErrSRTPAuth is counted (as malformed) for a packet whose SRTP
// authentication or replay check failed.
var ErrSRTPAuth = errors.New("media: srtp authentication failed")

const srtpKeyLen, srtpSaltLen = 16, 14

// srtpState is the crypto of one negotiated remote. The send context is
// shared by the relay (other legs' readers) and the clock, the receive
// context by this leg's RTP and RTCP readers: each has a mutex.
type srtpState struct {
	txMu  sync.Mutex
	tx    *srtp.Context
	txHdr rtp.Header

	rxMu   sync.Mutex
	rx     *srtp.Context
	rxHdr  rtp.Header
	rtcpHd rtcp.Header
}

func newSRTPContext(key []byte, tag80 bool) (*srtp.Context, error) {
	if len(key) != srtpKeyLen+srtpSaltLen {
		return nil, fmt.Errorf("media: srtp key of %d bytes, want %d", len(key), srtpKeyLen+srtpSaltLen)
	}
	profile := srtp.ProtectionProfileAes128CmHmacSha1_32
	if tag80 {
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	}
	return srtp.CreateContext(key[:srtpKeyLen], key[srtpKeyLen:], profile)
}

// newSRTPState builds the contexts for k. A send context for the same
// local key is taken over from prev, so our stream's rollover counter
// survives a re-INVITE.
func newSRTPState(k *SRTP, prev *srtpState, prevKey *SRTP) (*srtpState, error) {
	st := &srtpState{}
	var err error
	if prev != nil && prevKey != nil && string(prevKey.Local) == string(k.Local) && prevKey.Tag80 == k.Tag80 {
		st.tx = prev.tx
	} else if st.tx, err = newSRTPContext(k.Local, k.Tag80); err != nil {
		return nil, err
	}
	if st.rx, err = newSRTPContext(k.Remote, k.Tag80); err != nil {
		return nil, err
	}
	return st, nil
}

// unprotect decrypts and authenticates an SRTP packet in place and
// returns the plain RTP packet.
func (s *srtpState) unprotect(pkt []byte) ([]byte, error) {
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	out, err := s.rx.DecryptRTP(pkt[:0], pkt, &s.rxHdr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSRTPAuth, err)
	}
	return out, nil
}

// unprotectRTCP decrypts and authenticates an SRTCP packet in place.
func (s *srtpState) unprotectRTCP(pkt []byte) ([]byte, error) {
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	out, err := s.rx.DecryptRTCP(pkt[:0], pkt, &s.rtcpHd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSRTPAuth, err)
	}
	return out, nil
}

// protect encrypts an RTP packet in place, appending the auth tag into
// the buffer's tailroom (decision 9 keeps 16 bytes free).
func (s *srtpState) protect(pkt []byte) ([]byte, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.tx.EncryptRTP(pkt[:0], pkt, &s.txHdr)
}

// protectRTCP encrypts an RTCP packet in place (SRTCP index and tag are
// appended into the tailroom).
func (s *srtpState) protectRTCP(pkt []byte) ([]byte, error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.tx.EncryptRTCP(pkt[:0], pkt, nil)
}
