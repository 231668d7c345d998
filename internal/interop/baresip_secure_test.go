package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecureBaresipConfig(t *testing.T) {
	dir := t.TempDir()
	b := Baresip{User: "alice", Dir: dir, SIPPort: 25200, CtrlPort: 25210, RTPMin: 27200, RTPMax: 27219, MicLength: time.Second}
	if err := writeBaresipConfig(dir, "/modules", b); err != nil {
		t.Fatal(err)
	}
	if err := secureBaresipConfig(dir, BaresipSecurity{CAFile: "/tmp/ca.pem", MediaEnc: "srtp-mand"}); err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nmodule srtp.so\n", "\nsip_cafile /tmp/ca.pem\n", "\nsip_listen 127.0.0.1:25200\n"} {
		if !strings.Contains("\n"+string(config), want) {
			t.Errorf("config has no %q:\n%s", want, config)
		}
	}
	account, err := os.ReadFile(filepath.Join(dir, "accounts"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "<sip:alice@127.0.0.1:25200>;regint=0;answermode=auto;audio_codecs=pcmu,pcma;mediaenc=srtp-mand\n"; string(account) != want {
		t.Errorf("accounts %q, want %q", account, want)
	}
	if err := secureBaresipConfig(dir, BaresipSecurity{CAFile: "x", MediaEnc: "srtp;evil"}); err == nil {
		t.Error("a MediaEnc with a separator was accepted")
	}
}
