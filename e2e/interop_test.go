package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mediaserver-go/mediaserver/internal/interop"
	"github.com/mediaserver-go/mediaserver/mediaservertest"
)

// Fixed ports of the foreign peers (see the package comment), and their
// tones (INTEROP.md §3).
const (
	uacSIPPort, uacControlPort, uacMediaPort = 37060, 37061, 38060
	uasSIPPort, uasControlPort, uasMediaPort = 37070, 37071, 38070
	captureProbePort                         = 38099

	supportSIPPort, supportCtrlPort, supportRTPMin, supportRTPMax = 37100, 37110, 39100, 39119
	aliceSIPPort, aliceCtrlPort, aliceRTPMin, aliceRTPMax         = 37120, 37130, 39120, 39139

	uacHz, uasHz, aliceHz, supportHz = 1000, 2000, 600, 1800
)

// interopTimeout bounds each interop test; every tool has its own limit too.
const interopTimeout = 3 * time.Minute

// interopSetup skips without the tools, takes the machine-wide lock on this
// package's fixed ports, and returns the test's context and folder.
func interopSetup(t *testing.T, tools ...string) (context.Context, string) {
	t.Helper()
	binary(t, "mediaserver")
	for _, tool := range tools {
		interop.RequireTool(t, tool, map[string]string{"sipp": "sip-tester", "baresip": "baresip"}[tool])
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	t.Cleanup(cancel)
	interop.LockPorts(ctx, t, "e2e")
	return ctx, t.TempDir()
}

// startCapture captures the SIP and RTP of ports and the binary's RTP range
// when this machine allows it (root and dumpcap), else returns nil and why.
func startCapture(ctx context.Context, t *testing.T, dir string, ports ...uint16) (*interop.Capture, string) {
	t.Helper()
	if why := interop.CaptureUnavailable(); why != "" {
		return nil, why
	}
	return interop.StartCapture(ctx, t, interop.CaptureConfig{
		Dir: dir, Ports: ports, ProbePort: captureProbePort,
		Ranges: [][2]uint16{{binaryRTPMin, binaryRTPMax}},
	}), ""
}

// checkTone checks by content that samples carry want as their main tone and
// not own (0: not checked).
func checkTone(t *testing.T, who string, samples []int16, want, own float64) {
	t.Helper()
	desc := interop.Describe(samples, want, own)
	switch {
	case len(samples) < interop.SampleRate:
		t.Errorf("%s heard too little: %s", who, desc)
	case interop.Share(samples, want) < 0.5:
		t.Errorf("%s does not hear %.0f Hz: %s", who, want, desc)
	case own != 0 && interop.Share(samples, own) >= 0.05:
		t.Errorf("%s hears its own %.0f Hz: %s", who, own, desc)
	default:
		t.Logf("%s heard %s", who, desc)
	}
}

// checkSpeech checks that samples hold a spoken prompt: a second above
// -35 dBFS that is no single tone.
func checkSpeech(t *testing.T, who string, samples []int16) {
	t.Helper()
	if !espeak() {
		t.Logf("espeak-ng is not installed: %s's greeting is silent, not checked", who)
		return
	}
	for i := 0; i+interop.SampleRate <= len(samples); i += interop.SampleRate / 2 {
		w := samples[i : i+interop.SampleRate]
		if mediaservertest.LevelDBFS(w) > -35 {
			return
		}
	}
	t.Errorf("%s heard no speech: %s", who, interop.Describe(samples))
}

// last returns the final d of samples.
func last(samples []int16, d time.Duration) []int16 {
	n := int(d.Seconds() * interop.SampleRate)
	if len(samples) <= n {
		return samples
	}
	return samples[len(samples)-n:]
}

// TestInteropSIPpToBaresip: a SIPp caller (PCMU tone, RFC 4733 digit 2
// from SIPp's shipped pcap) calls cmd/mediaserver, whose callbacks go to
// examples/webhookapp; it hears the spoken greeting, presses 2 and is
// connected to a baresip "support" callee, which rings, then answers. Baresip hears SIPp's 1000 Hz
// (from its sndfile recording) and is hung up when SIPp sends BYE; SIPp
// exits 0 and (from a capture on lo) heard the greeting, then baresip's
// 1800 Hz. The callbacks are the table's auto-attendant flow.
func TestInteropSIPpToBaresip(t *testing.T) {
	ctx, dir := interopSetup(t, "sipp", "baresip")
	interop.RequireRoot(t, "the caller's digit (SIPp's play_pcap_audio)")
	start := time.Now()
	support := interop.StartBaresip(ctx, t, interop.Baresip{
		User: "support", Dir: dir, ToneHz: supportHz,
		SIPPort: supportSIPPort, CtrlPort: supportCtrlPort, RTPMin: supportRTPMin, RTPMax: supportRTPMax,
	})
	st := startWebhookStack(t, dir, "sip:sales@127.0.0.1:9", support.URI)
	if err := interop.WriteULaw(filepath.Join(dir, "uac-tone.ulaw"), interop.Tone(uacHz, 0.5, 40*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := interop.PrepareDTMFPcap(interop.ShippedDTMFPcap(t, "2"), filepath.Join(dir, "dtmf2.pcap"), interop.DTMFPcapOptions{}); err != nil {
		t.Fatal(err)
	}
	capture, noCapture := startCapture(ctx, t, dir, uacSIPPort, uacMediaPort)
	uac := interop.StartSIPp(ctx, t, interop.SIPp{
		Name: "uac", Dir: dir, Remote: st.ms.sipAddr, Service: "attendant",
		Scenario: interop.UACScenario{ToneFile: "uac-tone.ulaw", DTMFPcap: "dtmf2.pcap",
			DTMFAfter: 2 * time.Second, DTMFGap: 500 * time.Millisecond, Hold: 12 * time.Second}.XML(),
		SIPPort: uacSIPPort, MediaPort: uacMediaPort, ControlPort: uacControlPort, Timeout: 90 * time.Second,
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("support's events: %v\ncallbacks: %v", support.Ctrl.Events(), st.tap.Names())
		}
	})
	for _, ev := range []string{"CALL_ESTABLISHED", "CALL_RTPESTAB"} {
		if _, err := support.Ctrl.WaitEvent(ctx, ev, ""); err != nil {
			t.Fatalf("support: %v", err)
		}
	}
	t.Logf("support answered after %v", time.Since(start).Round(time.Millisecond))
	if code, err := uac.Wait(ctx); err != nil || code != 0 {
		t.Errorf("SIPp caller exited %d (%v), want 0", code, err)
	}
	if ev, err := support.Ctrl.WaitEvent(ctx, "CALL_CLOSED", ""); err != nil {
		t.Error(err)
	} else if ev.Param != "Connection reset by peer" {
		t.Errorf("support's call closed with %q, want the server's BYE", ev.Param)
	}
	st.tap.wait(ctx, t, "sessionCompleted")
	if got, want := st.tap.Names(), withRinging(flowWant(t, "autoattendant")); !slices.Equal(got, want) {
		t.Errorf("callbacks\n got  %v\n want %v", got, want)
	}
	support.Quit(10 * time.Second)
	if heard, err := support.HeardSamples(); err != nil {
		t.Error(err)
	} else {
		checkTone(t, "baresip support", heard, uacHz, supportHz)
	}
	if capture == nil {
		t.Logf("what SIPp heard is not checked: %s", noCapture)
	} else {
		pkts, err := capture.Stop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("RTP seen on lo:\n%s", interop.StreamSummary(interop.RTPAll(pkts)))
		heard := interop.DecodePCMU(interop.WithPT(interop.RTPTo(pkts, uacMediaPort), 0))
		checkSpeech(t, "the SIPp caller", heard[:min(len(heard), 3*interop.SampleRate)])
		checkTone(t, "the SIPp caller, at the end", last(heard, 2*time.Second), supportHz, uacHz)
	}
	st.ms.shutdown(t)
}

// TestInteropBaresipToSIPp: a baresip caller calls cmd/mediaserver, hears
// the spoken greeting (its sndfile recording), presses 1 (RFC 4733,
// sndcode) and is connected to a SIPp "sales" callee that rings first.
// Baresip hears SIPp's 2000 Hz (not the 440+480 Hz ringback before),
// SIPp (captured) baresip's 600 Hz; baresip
// hangs up and SIPp gets the BYE and exits 0. The callbacks are the table's
// auto-attendant flow with the callee's ringing.
func TestInteropBaresipToSIPp(t *testing.T) {
	ctx, dir := interopSetup(t, "sipp", "baresip")
	alice := interop.StartBaresip(ctx, t, interop.Baresip{
		User: "alice", Dir: dir, ToneHz: aliceHz,
		SIPPort: aliceSIPPort, CtrlPort: aliceCtrlPort, RTPMin: aliceRTPMin, RTPMax: aliceRTPMax,
	})
	st := startWebhookStack(t, dir, fmt.Sprintf("sip:sales@127.0.0.1:%d", uasSIPPort), "sip:support@127.0.0.1:9")
	if err := interop.WriteULaw(filepath.Join(dir, "uas-tone.ulaw"), interop.Tone(uasHz, 0.5, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	capture, noCapture := startCapture(ctx, t, dir, uasSIPPort, uasMediaPort)
	uas := interop.StartSIPp(ctx, t, interop.SIPp{
		Name: "uas", Dir: dir, Scenario: interop.UASScenario{ToneFile: "uas-tone.ulaw", Ring: true, ByeTimeout: 90 * time.Second}.XML(),
		SIPPort: uasSIPPort, MediaPort: uasMediaPort, ControlPort: uasControlPort, Timeout: 2 * time.Minute,
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("alice's events: %v\ncallbacks: %v", alice.Ctrl.Events(), st.tap.Names())
		}
	})
	if _, err := alice.Ctrl.Command(ctx, "dial", "sip:attendant@"+st.ms.sipAddr); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"CALL_ESTABLISHED", "CALL_RTPESTAB"} {
		if _, err := alice.Ctrl.WaitEvent(ctx, ev, ""); err != nil {
			t.Fatalf("alice: %v", err)
		}
	}
	waitRecording(ctx, t, alice, "the spoken greeting", func(s []int16) bool {
		return !espeak() || mediaservertest.LevelDBFS(last(s, 500*time.Millisecond)) > -35
	})
	if _, err := alice.Ctrl.Command(ctx, "sndcode", "1"); err != nil {
		t.Fatal(err)
	}
	st.tap.waitN(ctx, t, "callAnswered", 1) // alice with sales
	waitRecording(ctx, t, alice, "sales' tone", func(s []int16) bool {
		return interop.Share(last(s, time.Second), uasHz) > 0.8
	})
	// They talk for a while: baresip's recording is no clock (its null audio
	// device is not paced), so the call's length is set here.
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if _, err := alice.Ctrl.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	if code, err := uas.Wait(ctx); err != nil || code != 0 {
		t.Errorf("SIPp callee exited %d (%v), want 0 (it got the BYE)", code, err)
	}
	st.tap.wait(ctx, t, "sessionCompleted")
	if got, want := st.tap.Names(), withRinging(flowWant(t, "autoattendant")); !slices.Equal(got, want) {
		t.Errorf("callbacks\n got  %v\n want %v", got, want)
	}
	alice.Quit(10 * time.Second)
	if heard, err := alice.HeardSamples(); err != nil {
		t.Error(err)
	} else {
		checkSpeech(t, "baresip alice", heard[:min(len(heard), 3*interop.SampleRate)])
		checkTone(t, "baresip alice, at the end", last(heard, time.Second), uasHz, aliceHz)
	}
	if capture == nil {
		t.Logf("what SIPp heard is not checked: %s", noCapture)
	} else {
		pkts, err := capture.Stop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("RTP seen on lo:\n%s", interop.StreamSummary(interop.RTPAll(pkts)))
		checkTone(t, "the SIPp callee", interop.DecodePCMU(interop.WithPT(interop.RTPTo(pkts, uasMediaPort), 0)), aliceHz, uasHz)
	}
	st.ms.shutdown(t)
}

// withRinging returns the auto-attendant's callbacks when the department
// rings before it answers, as baresip and a ringing SIPp do: callNotify
// ringing before the second callAnswered.
func withRinging(want []string) []string {
	i := slices.Index(want, "callEvent:calledPartyDrop")
	return slices.Insert(slices.Clone(want), i+1, "callNotify:ringing")
}

// waitRecording polls ua's recording of what it hears until ok says yes.
func waitRecording(ctx context.Context, t *testing.T, ua *interop.UA, what string, ok func([]int16) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var samples []int16
	var err error
	for {
		if samples, err = ua.HeardSamples(); err == nil && len(samples) > interop.SampleRate/2 && ok(samples) {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("%s does not hear %s: %v; recording: %s", ua.URI, what, err, interop.Describe(samples))
		}
	}
}
