package main

import (
	"context"
	"sync"

	"github.com/mediaserver-go/mediaserver"
)

// Attendant is the auto-attendant of the examples document: it greets the
// caller, collects one digit, and routes 1 to sales and 2 to support;
// anything else is asked again, up to three times, then the call ends.
type Attendant struct {
	Sales, Support string
	// Speech says how prompts are spoken: "tts" speaks the texts (awstts
	// phrases: espeak-ng or Amazon Polly), "file" plays the bundled WAVs.
	Speech string
	// Log is called for every callback; nil logs nothing.
	Log func(format string, args ...any)

	mu    sync.Mutex
	calls map[string]*attempt // by sessionId
}

type attempt struct {
	tries int
	dest  string
}

// prompt texts and the bundled files that say them.
var prompts = map[string]string{
	"greeting":   "Welcome. Press 1 for sales and 2 for support.",
	"to-sales":   "Thank you. You will be connected to sales.",
	"to-support": "Thank you. You will be connected to support.",
	"retry":      "Sorry, I did not get that.",
	"goodbye":    "Goodbye.",
}

func (a *Attendant) say(names ...string) []mediaserver.Phrase {
	var out []mediaserver.Phrase
	for _, n := range names {
		if a.Speech == "file" {
			out = append(out, mediaserver.Phrase{Format: "file", FileName: n})
			continue
		}
		out = append(out, mediaserver.Phrase{Format: "awstts", AwsTTSParameters: &mediaserver.AwsTTSParameters{
			Text: prompts[n], VoiceID: "Joanna", LanguageCode: "en-US",
		}})
	}
	return out
}

func (a *Attendant) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}

func (a *Attendant) state(session string) *attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls == nil {
		a.calls = make(map[string]*attempt)
	}
	st := a.calls[session]
	if st == nil {
		st = &attempt{}
		a.calls[session] = st
	}
	return st
}

// NewCall puts every caller on the IVR.
func (a *Attendant) NewCall(_ context.Context, req *mediaserver.NewCallRequest) (mediaserver.Action, error) {
	a.logf("newCall          from %s", req.CallingParty)
	return mediaserver.Action{Action: mediaserver.ActionIvr}, nil
}

// GetIvrCommand greets, collects one digit and decides.
func (a *Attendant) GetIvrCommand(_ context.Context, req *mediaserver.IvrCommandRequest) (mediaserver.IvrCommand, error) {
	st := a.state(req.SessionID)
	if d := req.DtmfParams; d != nil {
		a.logf("getIvrCommand    dtmfMatch=%q reason=%s", d.DtmfMatch, d.Reason)
		switch d.DtmfMatch {
		case "1":
			st.dest = a.Sales
			return mediaserver.IvrCommand{Phrases: a.say("to-sales"), Hangup: true}, nil
		case "2":
			st.dest = a.Support
			return mediaserver.IvrCommand{Phrases: a.say("to-support"), Hangup: true}, nil
		}
		st.tries++
		if st.tries >= 3 {
			return mediaserver.IvrCommand{Phrases: a.say("goodbye"), Hangup: true}, nil
		}
		return mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 1}, Phrases: a.say("retry", "greeting")}, nil
	}
	a.logf("getIvrCommand    reason=%s", req.Reason)
	return mediaserver.IvrCommand{Dtmf: &mediaserver.DtmfCommand{MaxDigits: 1}, Phrases: a.say("greeting")}, nil
}

// CallEvent connects the caller once the IVR hung up with a choice, and
// drops whoever is left otherwise.
func (a *Attendant) CallEvent(_ context.Context, req *mediaserver.CallEventRequest) (mediaserver.Action, error) {
	a.logf("callEvent        %s user=%s", req.Event, req.User)
	if req.Event == mediaserver.EventCalledPartyDrop {
		if dest := a.state(req.SessionID).dest; dest != "" {
			a.state(req.SessionID).dest = ""
			return mediaserver.Action{Action: mediaserver.ActionCall, DestAddr: dest}, nil
		}
	}
	return mediaserver.Action{Action: mediaserver.ActionDrop}, nil
}

// CallNotify logs progress.
func (a *Attendant) CallNotify(_ context.Context, req *mediaserver.CallNotifyRequest) error {
	a.logf("callNotify       %s user=%s", req.Event, req.User)
	return nil
}

// CallAnswered logs new connections.
func (a *Attendant) CallAnswered(_ context.Context, req *mediaserver.CallAnsweredRequest) error {
	who := req.CalleeUser
	if req.IVR {
		who = "IVR"
	}
	a.logf("callAnswered     %s with %s", req.CallerUser, who)
	return nil
}

// SessionCompleted forgets the session.
func (a *Attendant) SessionCompleted(_ context.Context, req *mediaserver.SessionCompletedRequest) error {
	a.logf("sessionCompleted after %s s", req.SessionDuration)
	a.mu.Lock()
	delete(a.calls, req.SessionID)
	a.mu.Unlock()
	return nil
}
