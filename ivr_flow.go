package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mediaserver-go/mediaserver/ivr"
	"github.com/mediaserver-go/mediaserver/sip"
)

// startIVR answers p if needed, connects it to a new IVR participant and
// starts the getIvrCommand loop (API.md §5.1).
func (ss *Session) startIVR(p *Participant, first *IvrCommand) error {
	if err := p.answer(); err != nil {
		return err
	}
	if p.callee != nil {
		ss.hangup(p.callee, ReasonHangup, 0)
	}
	v := ss.newParticipant(KindIVR, sip.Address{})
	v.state = stateUp
	v.player = ivr.NewPlayer(ivr.PlayerConfig{
		Loader:     ss.srv.library,
		Recordings: ss.srv.store,
		Logger:     v.log,
		OnResult: func(r ivr.Result) {
			v.post(func(ss *Session) { ss.onIvrResult(v, r) })
		},
	})
	ss.connect(p, v)
	if first != nil {
		ss.applyIvrCommand(v, *first)
		return nil
	}
	ss.askIVR(v, &IvrCommandRequest{Reason: "connected"})
	return nil
}

// askIVR sends getIvrCommand for v and carries the answer out.
func (ss *Session) askIVR(v *Participant, req *IvrCommandRequest) {
	c := v.conn
	if v.gone() || c == nil || ss.closing {
		return
	}
	req.Meta = ss.meta()
	req.ConnectionID = c.id
	req.ParticipantID = v.id
	req.ReplyID = c.replyID()
	h := ss.srv.handler
	cmd, err := invoke(ss, CallbackGetIvrCommand, v, true, func(ctx context.Context) (IvrCommand, error) { return h.GetIvrCommand(ctx, req) })
	ss.traceCallback(CallbackGetIvrCommand, req, cmd, err)
	if err != nil {
		if errors.Is(err, errParticipantLeft) || ss.ctx.Err() != nil {
			return
		}
		cmd = IvrCommand{Hangup: true} // API.md §6 fallback
	}
	ss.applyIvrCommand(v, cmd)
}

// applyIvrCommand executes an answer to getIvrCommand: a command for the
// player, or action call/drop that replaces the IVR.
func (ss *Session) applyIvrCommand(v *Participant, cmd IvrCommand) {
	if v.gone() || v.conn == nil {
		return
	}
	caller := v.conn.other(v)
	switch cmd.Action {
	case "":
	case ActionCall:
		// The IVR is replaced by a new leg (API.md §5.1, examples document
		// /placeivrcall flow): no callEvent for the caller.
		ss.removeIVR(v)
		if err := ss.call(caller, cmd.DestAddr, cmd.CallerID); err != nil {
			caller.log.Warn("getIvrCommand action call failed; dropping", logErr, err)
			ss.hangup(caller, ReasonHangup, 0)
		}
		ss.completeIfEmpty()
		return
	case ActionDrop:
		ss.removeIVR(v)
		ss.hangup(caller, ReasonHangup, 0)
		ss.completeIfEmpty()
		return
	case ActionJoinConferenceConnection, ActionConnect:
		// Decision 2: valid from getIvrCommand too; the IVR leaves
		// silently.
		ss.removeIVR(v)
		ss.apply(caller, Action{Action: cmd.Action, ConnectionID: cmd.ConnectionID, ParticipantID: cmd.ParticipantID})
		return
	default:
		v.log.Warn("getIvrCommand: unknown action; hanging the IVR up", "action", cmd.Action)
		cmd = IvrCommand{Hangup: true}
	}
	if cmd.Echo {
		v.log.Warn("getIvrCommand: echo is not supported; ignored") // decision 23
	}
	ss.ivrHears(v, &cmd)
	v.player.Execute(toIvrCommand(cmd))
}

// onIvrResult takes a finished command: hangup:true makes the IVR leave
// (the caller gets calledPartyDrop), else the next getIvrCommand goes out.
func (ss *Session) onIvrResult(v *Participant, r ivr.Result) {
	if v.gone() || v.conn == nil {
		return
	}
	if r.Hangup {
		v.log.Info("IVR hangs up")
		ss.leave(v, ReasonHangup)
		return
	}
	req := &IvrCommandRequest{Reason: r.Reason}
	if r.Collected {
		req.DtmfParams = &DtmfParams{DtmfMatch: r.Digits, Reason: r.DigitsReason}
	}
	if rec := r.Recording; rec != nil {
		req.RecordParams = &RecordParams{FileName: rec.FileName, Duration: rec.Duration.Seconds(), Reason: rec.Reason}
	}
	ss.askIVR(v, req)
}

// finalIvrReport tells the application about a recording the caller cut
// short by hanging up: one last getIvrCommand with reason "hangup" and
// recordParams; its answer is ignored.
func (ss *Session) finalIvrReport(v *Participant, c *Connection, rec *ivr.RecordResult) {
	req := &IvrCommandRequest{
		Meta:          ss.meta(),
		ConnectionID:  c.id,
		ParticipantID: v.id,
		ReplyID:       c.replyID(),
		Reason:        ReasonHangup,
		RecordParams:  &RecordParams{FileName: rec.FileName, Duration: rec.Duration.Seconds(), Reason: rec.Reason},
	}
	h := ss.srv.handler
	cmd, err := invoke(ss, CallbackGetIvrCommand, nil, false, func(ctx context.Context) (IvrCommand, error) { return h.GetIvrCommand(ctx, req) })
	ss.traceCallback(CallbackGetIvrCommand, req, cmd, err)
}

// removeIVR takes v out of the session without asking anyone: its
// connection is dissolved and the caller stays up on silence.
func (ss *Session) removeIVR(v *Participant) {
	if c := v.conn; c != nil {
		ss.dissolve(c)
	}
	v.release()
	delete(ss.parts, v.id)
	ss.refreshTap()
}

// wireIVR makes the caller's leg play from and record into the player.
func (ss *Session) wireIVR(caller, v *Participant) {
	if caller.ep == nil {
		return
	}
	caller.ep.Isolate()
	caller.ep.SetSource(v.player)
	if ss.srv.cfg.InbandDTMF {
		caller.ep.AddSink(v.player) // in-band detection needs the audio
	}
	ss.srv.clock.AddProcessor(v.player)
}

// ivrHears attaches the IVR as a sink of its caller's audio only while
// it needs it (a record command, or in-band DTMF detection), so that an
// IVR that only plays and collects RFC 4733 digits costs no decoding.
func (ss *Session) ivrHears(v *Participant, cmd *IvrCommand) {
	c := v.conn
	if c == nil {
		return
	}
	caller := c.other(v)
	if caller.ep == nil {
		return
	}
	if cmd.Record != nil || ss.srv.cfg.InbandDTMF {
		caller.ep.AddSink(v.player)
	} else {
		caller.ep.RemoveSink(v.player)
	}
}

// unwireIVR undoes wireIVR.
func (ss *Session) unwireIVR(caller, v *Participant) {
	ss.srv.clock.RemoveProcessor(v.player)
	if caller.ep != nil {
		caller.ep.RemoveSink(v.player)
		caller.ep.SetSource(nil)
	}
}

// toIvrCommand converts the protocol's command for package ivr.
func toIvrCommand(c IvrCommand) ivr.Command {
	out := ivr.Command{
		BargeIn: c.BargeIn == "all",
		After:   seconds(c.GetIVRCommandAfter),
		Hangup:  c.Hangup,
	}
	for _, p := range c.Phrases {
		out.Phrases = append(out.Phrases, toPhrase(p))
	}
	if c.BackgroundPrompt != nil {
		bg := toPhrase(*c.BackgroundPrompt)
		out.Background = &bg
	}
	if d := c.Dtmf; d != nil {
		out.Dtmf = &ivr.Collect{
			MaxDigits:         d.MaxDigits,
			TerminationKey:    firstByte(d.TerminationKey),
			Timeout:           seconds(d.Timeout),
			InterDigitTimeout: seconds(d.InterDigitTimeout),
		}
	}
	if r := c.Record; r != nil {
		out.Record = &ivr.Record{
			FileName:       r.FileName,
			MaxDuration:    seconds(r.MaxDuration),
			TerminationKey: firstByte(r.TerminationKey),
			SilenceTimeout: seconds(r.SilenceTimeout),
			Beep:           r.Beep,
		}
	}
	return out
}

func toPhrase(p Phrase) ivr.Phrase {
	out := ivr.Phrase{
		Format:      p.Format,
		FileName:    p.FileName,
		URL:         p.URL,
		Repeat:      p.Repeat,
		RepeatPause: seconds(p.RepeatPause),
	}
	if t := p.AwsTTSParameters; t != nil {
		out.TTS = &ivr.TTSRequest{Text: t.Text, TextType: t.TextType, Voice: t.VoiceID, Language: t.LanguageCode, Engine: t.Engine}
	}
	return out
}

// seconds converts protocol seconds, bounding absurd values to a day.
func seconds(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(min(s, 86400) * float64(time.Second))
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// InterruptIvrCommand stops the IVR command being executed (API.md §3.4);
// a getIvrCommand with reason "interrupted" follows. replyId is the IVR
// connection's.
func (s *Server) InterruptIvrCommand(ctx context.Context, req InterruptIvrCommandRequest) error {
	if s.closed.Load() {
		return ErrServerClosed
	}
	r, err := s.resolve(req.ReplyID)
	if err != nil {
		return err
	}
	c := r.obj.conn
	if c == nil {
		return fmt.Errorf("replyId does not name an IVR connection: %w", ErrInvalidState)
	}
	if req.ConnectionID != "" && req.ConnectionID != c.id {
		return fmt.Errorf("connectionId %s does not match the replyId: %w", req.ConnectionID, ErrInvalid)
	}
	if c.caller.kind != KindIVR && c.callee.kind != KindIVR { // set at creation, never changed
		return fmt.Errorf("connection %s has no IVR: %w", c.id, ErrInvalidState)
	}
	ss := c.ss
	ss.traceREST("interruptivrcommand", req)
	ss.post(func() {
		if c.dead.Load() {
			return
		}
		for _, p := range []*Participant{c.caller, c.callee} {
			if p.kind == KindIVR && p.player != nil {
				p.player.Interrupt()
			}
		}
	})
	return nil
}
