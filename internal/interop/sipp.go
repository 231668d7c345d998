package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SIPp keywords such as [service] are replaced in message text only, never in
// XML attributes (INTEROP.md §1), so file names and pause lengths are written
// into the scenario here, not passed with -key.

// UACScenario is a SIPp caller (INTEROP.md §1, uac.xml): it sends an INVITE
// offering PCMU and telephone-event, ACKs the 200, streams a tone, plays one
// RFC 4733 digit from a pcap in a gap of the tone, holds, and sends BYE.
type UACScenario struct {
	// ToneFile is a raw µ-law file (see WriteULaw) streamed in a loop with
	// rtp_stream from the answer on, as payload type 0. "" streams nothing.
	ToneFile string
	// TelephoneEventPT is the payload type offered for telephone-event.
	// Default 101, the type of SIPp's shipped DTMF pcaps.
	TelephoneEventPT uint8
	// DTMFPcap is a pcap of RFC 4733 packets, played with play_pcap_audio
	// DTMFAfter after the answer, with the tone paused for DTMFGap around it
	// (two interleaved SSRCs make receivers drop the digit). Its payload
	// type must be TelephoneEventPT. "" plays none.
	DTMFPcap string
	// DTMFAfter is the time from the answer to the digit. Default 1 s.
	DTMFAfter time.Duration
	// DTMFGap is the pause of the tone around the digit. Default 200 ms.
	DTMFGap time.Duration
	// DTMFOverTone plays the digit while the tone keeps streaming: the
	// tone's SSRC and the pcap's alternate, which receivers may not expect
	// (INTEROP.md §1). A test of how a relay merges two sources.
	DTMFOverTone bool
	// Hold is the time from the digit (or the answer) to the BYE. Default 3 s.
	Hold time.Duration
	// AnswerTimeout bounds the wait for the 200. Default 10 s.
	AnswerTimeout time.Duration
}

// XML returns the scenario.
func (s UACScenario) XML() string {
	if s.TelephoneEventPT == 0 {
		s.TelephoneEventPT = 101
	}
	s.DTMFAfter = orDefault(s.DTMFAfter, time.Second)
	s.DTMFGap = orDefault(s.DTMFGap, 200*time.Millisecond)
	s.Hold = orDefault(s.Hold, 3*time.Second)
	s.AnswerTimeout = orDefault(s.AnswerTimeout, 10*time.Second)

	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=uac 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
`)
	fmt.Fprintf(&b, `      m=audio [media_port] RTP/AVP 0 %[1]d
      a=rtpmap:0 PCMU/8000
      a=rtpmap:%[1]d telephone-event/8000
      a=fmtp:%[1]d 0-15
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" timeout="%[2]d"/>
`, s.TelephoneEventPT, s.AnswerTimeout.Milliseconds())
	b.WriteString(`  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0
  ]]></send>
`)
	if s.ToneFile != "" {
		fmt.Fprintf(&b, "  <nop><action><exec rtp_stream=%q/></action></nop>\n", s.ToneFile+",-1,0")
	}
	writeDigit(&b, s.DTMFPcap, s.DTMFAfter, s.DTMFGap, s.DTMFOverTone)
	fmt.Fprintf(&b, "  <pause milliseconds=\"%d\"/>\n", s.Hold.Milliseconds())
	b.WriteString(`  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Content-Length: 0
  ]]></send>
  <recv response="200" timeout="5000"/>
</scenario>
`)
	return b.String()
}

// UASScenario is a SIPp callee (INTEROP.md §1, uas.xml): it answers an
// INVITE with PCMU and telephone-event, streams a tone until the BYE
// (optionally with one RFC 4733 digit in a gap), and answers the BYE. It answers telephone-event with the payload type of the
// offer, and fails the call if the offer has none.
type UASScenario struct {
	// ToneFile is a raw µ-law file streamed in a loop from the ACK on, as
	// payload type 0. "" streams nothing.
	ToneFile string
	// Ring sends 180 Ringing before the 200.
	Ring bool
	// DTMFPcap, DTMFAfter and DTMFGap play one RFC 4733 digit from a pcap
	// DTMFAfter after the ACK, as in UACScenario. The pcap's payload type
	// must be the one the offer maps to telephone-event. "" plays none.
	DTMFPcap string
	// DTMFAfter is the time from the ACK to the digit. Default 2 s.
	DTMFAfter time.Duration
	// DTMFGap is the pause of the tone around the digit. Default 200 ms.
	DTMFGap time.Duration
	// DTMFOverTone plays the digit while the tone keeps streaming, as in
	// UACScenario.
	DTMFOverTone bool
	// ByeTimeout bounds the wait for the BYE. Default 30 s.
	ByeTimeout time.Duration
}

// XML returns the scenario.
func (s UASScenario) XML() string {
	s.ByeTimeout = orDefault(s.ByeTimeout, 30*time.Second)
	s.DTMFAfter = orDefault(s.DTMFAfter, 2*time.Second)
	s.DTMFGap = orDefault(s.DTMFGap, 200*time.Millisecond)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="a=rtpmap:([0-9]+) telephone-event/8000" search_in="body" check_it="true" assign_to="te,tept"/>
    </action>
  </recv>
  <Reference variables="te"/>
`)
	if s.Ring {
		b.WriteString(`  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Content-Length: 0
  ]]></send>
`)
	}
	b.WriteString(`  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=uas 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 [$tept]
      a=rtpmap:0 PCMU/8000
      a=rtpmap:[$tept] telephone-event/8000
      a=fmtp:[$tept] 0-15
  ]]></send>
  <recv request="ACK" timeout="5000"/>
`)
	if s.ToneFile != "" {
		fmt.Fprintf(&b, "  <nop><action><exec rtp_stream=%q/></action></nop>\n", s.ToneFile+",-1,0")
	}
	writeDigit(&b, s.DTMFPcap, s.DTMFAfter, s.DTMFGap, s.DTMFOverTone)
	fmt.Fprintf(&b, `  <recv request="BYE" timeout="%d"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
</scenario>
`, s.ByeTimeout.Milliseconds())
	return b.String()
}

// writeDigit writes the steps that play the RFC 4733 pcap after a pause,
// with rtp_stream paused for gap around it unless overTone: played while
// the stream runs, the two SSRCs alternate and receivers may drop the digit
// (INTEROP.md §1).
func writeDigit(b *strings.Builder, pcap string, after, gap time.Duration, overTone bool) {
	if pcap == "" {
		return
	}
	fmt.Fprintf(b, "  <pause milliseconds=\"%d\"/>\n", after.Milliseconds())
	if overTone {
		fmt.Fprintf(b, "  <nop><action><exec play_pcap_audio=%q/></action></nop>\n", pcap)
		fmt.Fprintf(b, "  <pause milliseconds=\"%d\"/>\n", gap.Milliseconds())
		return
	}
	fmt.Fprintf(b, "  <nop><action><exec rtp_stream=\"pause\"/><exec play_pcap_audio=%q/></action></nop>\n", pcap)
	fmt.Fprintf(b, "  <pause milliseconds=\"%d\"/>\n", gap.Milliseconds())
	b.WriteString("  <nop><action><exec rtp_stream=\"resume\"/></action></nop>\n")
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// SIPp describes one SIPp run on 127.0.0.1 for StartSIPp.
type SIPp struct {
	// Name names the process and its logs: Name.log (SIPp's screen),
	// Name-err.log (-trace_err) and Name-msg.log (-trace_msg, every SIP
	// message). Required.
	Name string
	// Dir is SIPp's working directory, holding the scenario and the files
	// it names. Required.
	Dir string
	// Scenario is the scenario's XML (UACScenario.XML, UASScenario.XML),
	// written to Dir/Name.xml. Required.
	Scenario string
	// Remote is the host:port a caller sends its INVITE to; "" for a callee.
	Remote string
	// Service is the Request-URI user of a caller (-s). Default "service".
	Service string
	// SIPPort, MediaPort and ControlPort are -p, -mp and -cp. SIPp also
	// binds MediaPort+2. Required: fixed ports the test owns.
	SIPPort, MediaPort, ControlPort uint16
	// Timeout is SIPp's own hard limit (-timeout with -timeout_error, exit
	// 255). Default 60 s.
	Timeout time.Duration
}

// StartSIPp writes the scenario and starts SIPp for exactly one call (-m 1).
// A callee is waited for until its SIP port is bound, so a caller started
// next reaches it. It skips the test when sipp is not installed.
//
// Exit codes (INTEROP.md §1): 0 the call succeeded, 1 it failed (see
// Name-err.log), 99 no call, 254 a port was taken, 255 fatal or -timeout.
func StartSIPp(ctx context.Context, tb testing.TB, s SIPp) *Process {
	tb.Helper()
	path := RequireTool(tb, "sipp", "sip-tester")
	if s.Name == "" || s.Dir == "" || s.Scenario == "" || s.SIPPort == 0 || s.MediaPort == 0 || s.ControlPort == 0 {
		tb.Fatal("interop: SIPp needs Name, Dir, Scenario and its ports")
	}
	if s.Timeout <= 0 {
		s.Timeout = time.Minute
	}
	if s.Service == "" {
		s.Service = "service"
	}
	if err := os.WriteFile(filepath.Join(s.Dir, s.Name+".xml"), []byte(s.Scenario), 0o644); err != nil {
		tb.Fatal(err)
	}
	var args []string
	if s.Remote != "" {
		args = append(args, s.Remote, "-s", s.Service, "-l", "1", "-r", "1")
	}
	args = append(args, "-sf", s.Name+".xml",
		"-i", "127.0.0.1", "-p", itoa(s.SIPPort),
		"-mi", "127.0.0.1", "-mp", itoa(s.MediaPort), "-cp", itoa(s.ControlPort),
		"-m", "1", "-nostdin",
		"-timeout", fmt.Sprintf("%ds", int(s.Timeout.Seconds())), "-timeout_error",
		"-trace_err", "-error_file", s.Name+"-err.log",
		"-trace_msg", "-message_file", s.Name+"-msg.log")
	p := Start(ctx, tb, Command{
		Name: s.Name, Dir: s.Dir, Path: path, Args: args,
		Logs: []string{s.Name + "-err.log", s.Name + "-msg.log"},
	})
	if s.Remote == "" {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := WaitUDPBound(wctx, p, s.SIPPort); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// RequireTool returns the path of program, or skips the test saying that
// it (from Debian package pkg) is not installed.
func RequireTool(tb testing.TB, program, pkg string) string {
	tb.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		tb.Skipf("%s is not installed (Debian: apt-get install %s)", program, pkg)
	}
	return path
}

// RequireRoot skips the test unless it runs as root, saying what needs it.
func RequireRoot(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("%s needs root (or CAP_NET_RAW); running as uid %d", what, os.Geteuid())
	}
}
