package main

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"strings"
)

// toneULaw returns one second of a sine tone as raw G.711 µ-law, the
// format of SIPp's rtp_stream. hz must divide into whole periods per
// second so that the looped file has no click.
func toneULaw(hz float64) []byte {
	out := make([]byte, 8000)
	for i := range out {
		out[i] = linearToULaw(int16(0.3 * 32767 * math.Sin(2*math.Pi*hz*float64(i)/8000)))
	}
	return out
}

// linearToULaw is the G.711 µ-law encoder.
func linearToULaw(s int16) byte {
	const bias, clip = 0x84, 32635
	x := int(s)
	sign := 0
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, clip) + bias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// dtmfPcap finds sip-tester's RFC 4733 pcap of digit 5.
func dtmfPcap() (string, error) {
	const std = "/usr/share/sip-tester/dtmf_2833_5.pcap"
	if _, err := os.Stat(std); err == nil {
		return std, nil
	}
	out, err := exec.Command("dpkg", "-L", "sip-tester").Output()
	if err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(l, "/dtmf_2833_5.pcap") {
				return l, nil
			}
		}
	}
	return "", errors.New("dtmf_2833_5.pcap of sip-tester not found")
}
