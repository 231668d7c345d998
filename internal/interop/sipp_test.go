package interop

import (
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScenarioXML(t *testing.T) {
	for _, tc := range []struct {
		name string
		xml  string
		want []string
	}{
		{"uac", UACScenario{ToneFile: "t.ulaw", DTMFPcap: "d.pcap", TelephoneEventPT: 96, Hold: 1500 * time.Millisecond}.XML(), []string{
			`RTP/AVP 0 96`, `a=rtpmap:96 telephone-event/8000`, `<exec rtp_stream="t.ulaw,-1,0"/>`,
			`<exec play_pcap_audio="d.pcap"/>`, `<pause milliseconds="1000"/>`, `<pause milliseconds="200"/>`,
			`<pause milliseconds="1500"/>`, `<recv response="200" rrs="true" timeout="10000"/>`,
		}},
		{"uac-plain", UACScenario{}.XML(), []string{`RTP/AVP 0 101`, `<pause milliseconds="3000"/>`}},
		{"uac-over-tone", UACScenario{ToneFile: "t.ulaw", DTMFPcap: "d.pcap", DTMFOverTone: true}.XML(), []string{
			`<nop><action><exec play_pcap_audio="d.pcap"/></action></nop>`,
		}},
		{"uas", UASScenario{ToneFile: "u.ulaw", Ring: true}.XML(), []string{
			`SIP/2.0 180 Ringing`, `assign_to="te,tept"`, `RTP/AVP 0 [$tept]`, `<exec rtp_stream="u.ulaw,-1,0"/>`,
			`<recv request="BYE" timeout="30000"/>`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.HasPrefix(tc.xml, `<?xml version="1.0"`) {
				t.Error("no XML declaration: SIPp requires it")
			}
			d := xml.NewDecoder(strings.NewReader(tc.xml))
			d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
			for {
				if _, err := d.Token(); err != nil {
					if err != io.EOF {
						t.Fatalf("not well-formed: %v\n%s", err, tc.xml)
					}
					break
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(tc.xml, w) {
					t.Errorf("missing %q in\n%s", w, tc.xml)
				}
			}
			if tc.name == "uac-plain" && (strings.Contains(tc.xml, "rtp_stream") || strings.Contains(tc.xml, "play_pcap")) {
				t.Errorf("media without files:\n%s", tc.xml)
			}
			if tc.name == "uac-over-tone" && strings.Contains(tc.xml, `rtp_stream="pause"`) {
				t.Errorf("the tone is paused:\n%s", tc.xml)
			}
		})
	}
}

// TestSIPpScenarios runs the generated scenarios against each other, as
// INTEROP.md §1 does: both exit 0 and, when a capture is possible, each
// received the other's tone and the callee the digit.
func TestSIPpScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("runs SIPp: skipped with -short")
	}
	RequireTool(t, "sipp", "sip-tester")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	LockPorts(ctx, t, "internal-interop")
	dir := t.TempDir()
	root := os.Geteuid() == 0
	for name, hz := range map[string]float64{"a.ulaw": 1000, "b.ulaw": 440} {
		if err := WriteULaw(filepath.Join(dir, name), Tone(hz, 0.5, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	uacScenario := UACScenario{ToneFile: "a.ulaw", Hold: 2 * time.Second}
	if root {
		src := ShippedDTMFPcap(t, "5")
		if err := PrepareDTMFPcap(src, filepath.Join(dir, "d.pcap"), DTMFPcapOptions{}); err != nil {
			t.Fatal(err)
		}
		uacScenario.DTMFPcap = "d.pcap"
	}
	var capture *Capture
	if CaptureUnavailable() == "" {
		capture = StartCapture(ctx, t, CaptureConfig{Dir: dir, Ports: []uint16{testUACMediaPort, testUASMediaPort}, ProbePort: testProbePort})
	}
	uas := StartSIPp(ctx, t, SIPp{Name: "uas", Dir: dir, Scenario: UASScenario{ToneFile: "b.ulaw"}.XML(),
		SIPPort: testUASSIPPort, MediaPort: testUASMediaPort, ControlPort: testUASControlPort})
	uac := StartSIPp(ctx, t, SIPp{Name: "uac", Dir: dir, Scenario: uacScenario.XML(), Remote: "127.0.0.1:" + itoa(testUASSIPPort),
		SIPPort: testUACSIPPort, MediaPort: testUACMediaPort, ControlPort: testUACControlPort})
	for _, p := range []*Process{uac, uas} {
		if code, err := p.Wait(ctx); code != 0 || err != nil {
			t.Errorf("%s exited with %d, %v", p.Name(), code, err)
		}
	}
	if capture == nil {
		t.Skipf("the scenarios work; media not checked: %s", CaptureUnavailable())
	}
	pkts, err := capture.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	toUAC, toUAS := RTPTo(pkts, testUACMediaPort), RTPTo(pkts, testUASMediaPort)
	if a := DecodePCMU(WithPT(toUAC, 0)); Share(a, 440) < 0.9 {
		t.Errorf("the caller received %s", Describe(a, 440))
	}
	if b := DecodePCMU(WithPT(toUAS, 0)); Share(b, 1000) < 0.9 {
		t.Errorf("the callee received %s", Describe(b, 1000))
	}
	if evs := TelephoneEvents(WithPT(toUAS, 101)); root && (len(evs) != 10 || evs[0].Event != 5) {
		t.Errorf("the callee received events %v, want SIPp's 10 packets of digit 5", evs)
	}
}
