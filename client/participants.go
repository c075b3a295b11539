package client

import (
	"context"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/view"
)

// RoomState is where self stands in the room (meeting.self.roomState);
// left, kicked and ended are also roomLeft's state.
type RoomState = view.RoomState

// The room states.
const (
	StateInit   = view.StateInit   // not joined yet
	StateJoined = view.StateJoined // in the room
	StateLeft   = view.StateLeft   // left (Leave)
	StateKicked = view.StateKicked // removed by a host
	StateEnded  = view.StateEnded  // the session ended (kick all)
)

// Permissions are self's host controls, named as the SDK's
// meeting.self.permissions.
type Permissions struct {
	CanDisableParticipantAudio bool // disableAudio, disableAllAudio
	CanDisableParticipantVideo bool // disableVideo, disableAllVideo
	PinParticipant             bool // pin, unpin
	KickParticipant            bool // kick, kickAll
}

func permissionsOf(p core.Permissions) Permissions {
	return Permissions{
		CanDisableParticipantAudio: p.DisableParticipantAudio,
		CanDisableParticipantVideo: p.DisableParticipantVideo,
		PinParticipant:             p.PinParticipant,
		KickParticipant:            p.KickParticipant,
	}
}

// The payloads of the SDK events. Seq is the seq of the session event that
// caused it; By is the participant whose command did ("" after a resync
// from a snapshot, which cannot know).

// AudioUpdate is the payload of audioUpdate.
type AudioUpdate struct {
	AudioEnabled bool
	By           string
	Seq          uint64
}

// VideoUpdate is the payload of videoUpdate.
type VideoUpdate struct {
	VideoEnabled bool
	By           string
	Seq          uint64
}

// PinUpdate is the payload of pinned and unpinned.
type PinUpdate struct {
	By  string
	Seq uint64
}

// ParticipantJoined is the payload of a map's participantJoined. On the
// pinned map, By pinned the participant.
type ParticipantJoined struct {
	By  string
	Seq uint64
}

// ParticipantLeft is the payload of a map's participantLeft: State is left
// or kicked when the participant left the room ("" after a resync), empty
// on the pinned map when the participant was only unpinned.
type ParticipantLeft struct {
	State RoomState
	By    string
	Seq   uint64
}

// RoomLeft is the payload of self's roomLeft: State is left, kicked or
// ended.
type RoomLeft struct {
	State RoomState
	By    string
	Seq   uint64
}

// Self is the local participant, meeting.self. Its getters read the
// meeting as it is now.
type Self struct {
	m *Meeting
	updates
	joined handlers[func()]
	left   handlers[func(RoomLeft)]
}

// updates are the handlers self and a participant object both have.
type updates struct {
	audio    handlers[func(AudioUpdate)]
	video    handlers[func(VideoUpdate)]
	pinned   handlers[func(PinUpdate)]
	unpinned handlers[func(PinUpdate)]
}

// call returns the calls of the handlers for n, or nil.
func (u *updates) call(n view.Notification) func() {
	switch n.Event {
	case view.AudioUpdate:
		return bind(&u.audio, func(h func(AudioUpdate)) { h(AudioUpdate{n.AudioEnabled, n.By, n.Seq}) })
	case view.VideoUpdate:
		return bind(&u.video, func(h func(VideoUpdate)) { h(VideoUpdate{n.VideoEnabled, n.By, n.Seq}) })
	case view.Pinned:
		return bind(&u.pinned, func(h func(PinUpdate)) { h(PinUpdate{n.By, n.Seq}) })
	case view.Unpinned:
		return bind(&u.unpinned, func(h func(PinUpdate)) { h(PinUpdate{n.By, n.Seq}) })
	}
	return nil
}

func (s *Self) info() view.Self {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.v.Self()
}

// ID is self's participant id.
func (s *Self) ID() string { return s.m.self }

// Name is the name self joined with.
func (s *Self) Name() string { return s.info().Name }

// Preset is self's preset.
func (s *Self) Preset() string {
	if p := s.info().Preset; p != "" {
		return p
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.preset
}

// Permissions are the host controls self's preset grants.
func (s *Self) Permissions() Permissions { return permissionsOf(s.m.permissions()) }

// AudioEnabled reports whether self's audio is on.
func (s *Self) AudioEnabled() bool { return s.info().AudioEnabled }

// VideoEnabled reports whether self's video is on.
func (s *Self) VideoEnabled() bool { return s.info().VideoEnabled }

// IsPinned reports whether self is the pinned participant.
func (s *Self) IsPinned() bool { return s.info().IsPinned }

// RoomState is where self stands in the room.
func (s *Self) RoomState() RoomState { return s.info().RoomState }

// EnableAudio turns self's audio on.
func (s *Self) EnableAudio(ctx context.Context) error { return s.setMedia(ctx, core.SetAudio, true) }

// DisableAudio turns self's audio off.
func (s *Self) DisableAudio(ctx context.Context) error { return s.setMedia(ctx, core.SetAudio, false) }

// EnableVideo turns self's video on.
func (s *Self) EnableVideo(ctx context.Context) error { return s.setMedia(ctx, core.SetVideo, true) }

// DisableVideo turns self's video off.
func (s *Self) DisableVideo(ctx context.Context) error { return s.setMedia(ctx, core.SetVideo, false) }

func (s *Self) setMedia(ctx context.Context, t core.CommandType, on bool) error {
	return s.m.do(ctx, core.Command{Type: t, Enabled: on})
}

// Leave leaves the room: roomLeft fires with state left and the meeting
// ends.
func (s *Self) Leave(ctx context.Context) error { return s.m.do(ctx, core.Command{Type: core.Leave}) }

// OnAudioUpdate calls h when self's audio is turned on or off, by self or
// by a host (By). It returns the function that removes h.
func (s *Self) OnAudioUpdate(h func(AudioUpdate)) (off func()) { return s.audio.add(h) }

// OnVideoUpdate calls h when self's video is turned on or off.
func (s *Self) OnVideoUpdate(h func(VideoUpdate)) (off func()) { return s.video.add(h) }

// OnPinned calls h when self is pinned.
func (s *Self) OnPinned(h func(PinUpdate)) (off func()) { return s.pinned.add(h) }

// OnUnpinned calls h when self is unpinned.
func (s *Self) OnUnpinned(h func(PinUpdate)) (off func()) { return s.unpinned.add(h) }

// OnRoomJoined calls h when self joins the room.
func (s *Self) OnRoomJoined(h func()) (off func()) { return s.joined.add(h) }

// OnRoomLeft calls h when self leaves the room: left, kicked or ended.
func (s *Self) OnRoomLeft(h func(RoomLeft)) (off func()) { return s.left.add(h) }

// call returns the calls of self's handlers for n, or nil.
func (s *Self) call(n view.Notification) func() {
	switch n.Event {
	case view.RoomJoined:
		return bind(&s.joined, func(h func()) { h() })
	case view.RoomLeft:
		return bind(&s.left, func(h func(RoomLeft)) { h(RoomLeft{n.State, n.By, n.Seq}) })
	}
	return s.updates.call(n)
}

// Participant is a remote participant. The meeting keeps one object per
// participant while it is joined (a rejoin makes a new one); its getters
// read the meeting as it is now, or as the participant was when it left.
type Participant struct {
	m    *Meeting
	id   string
	last view.Participant // guarded by m.mu: as last seen
	updates
}

func (p *Participant) info() view.Participant {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	if vp, ok := p.m.v.Participant(p.id); ok && p.m.parts[p.id] == p {
		return vp
	}
	return p.last
}

// ID is the participant's id.
func (p *Participant) ID() string { return p.id }

// Name is the name the participant joined with.
func (p *Participant) Name() string { return p.info().Name }

// Preset is the participant's preset.
func (p *Participant) Preset() string { return p.info().Preset }

// AudioEnabled reports whether the participant's audio is on.
func (p *Participant) AudioEnabled() bool { return p.info().AudioEnabled }

// VideoEnabled reports whether the participant's video is on.
func (p *Participant) VideoEnabled() bool { return p.info().VideoEnabled }

// IsPinned reports whether the participant is pinned.
func (p *Participant) IsPinned() bool { return p.info().IsPinned }

// DisableAudio turns the participant's audio off (disable_participant_audio).
func (p *Participant) DisableAudio(ctx context.Context) error { return p.act(ctx, core.DisableAudio) }

// DisableVideo turns the participant's video off (disable_participant_video).
func (p *Participant) DisableVideo(ctx context.Context) error { return p.act(ctx, core.DisableVideo) }

// Pin pins the participant for everyone (pin_participant).
func (p *Participant) Pin(ctx context.Context) error { return p.act(ctx, core.Pin) }

// Unpin unpins the participant (pin_participant).
func (p *Participant) Unpin(ctx context.Context) error { return p.act(ctx, core.Unpin) }

// Kick removes the participant from the session (kick_participant).
func (p *Participant) Kick(ctx context.Context) error { return p.act(ctx, core.Kick) }

func (p *Participant) act(ctx context.Context, t core.CommandType) error {
	return p.m.do(ctx, core.Command{Type: t, Target: p.id})
}

// OnAudioUpdate calls h when the participant's audio is turned on or off.
func (p *Participant) OnAudioUpdate(h func(AudioUpdate)) (off func()) { return p.audio.add(h) }

// OnVideoUpdate calls h when the participant's video is turned on or off.
func (p *Participant) OnVideoUpdate(h func(VideoUpdate)) (off func()) { return p.video.add(h) }

// OnPinned calls h when the participant is pinned.
func (p *Participant) OnPinned(h func(PinUpdate)) (off func()) { return p.pinned.add(h) }

// OnUnpinned calls h when the participant is unpinned.
func (p *Participant) OnUnpinned(h func(PinUpdate)) (off func()) { return p.unpinned.add(h) }

// ParticipantMap is meeting.participants.joined or .pinned: remote
// participants only, never self.
type ParticipantMap struct {
	m      *Meeting
	pinned bool

	joined   handlers[func(*Participant, ParticipantJoined)]
	left     handlers[func(*Participant, ParticipantLeft)]
	audio    handlers[func(*Participant, AudioUpdate)]
	video    handlers[func(*Participant, VideoUpdate)]
	pinnedH  handlers[func(*Participant, PinUpdate)]
	unpinned handlers[func(*Participant, PinUpdate)]
}

// List returns the map's participants, in join order (toArray).
func (pm *ParticipantMap) List() []*Participant {
	m := pm.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if pm.pinned {
		if p, ok := m.v.Pinned(); ok {
			return []*Participant{m.objectLocked(p.ID, p)}
		}
		return nil
	}
	vs := m.v.Joined()
	ps := make([]*Participant, len(vs))
	for i, p := range vs {
		ps[i] = m.objectLocked(p.ID, p)
	}
	return ps
}

// Len is the number of participants in the map.
func (pm *ParticipantMap) Len() int {
	m := pm.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if pm.pinned {
		if _, ok := m.v.Pinned(); ok {
			return 1
		}
		return 0
	}
	return len(m.v.Joined())
}

// Get returns the participant id if the map holds it.
func (pm *ParticipantMap) Get(id string) (*Participant, bool) {
	m := pm.m
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.v.Participant(id)
	if !ok || (pm.pinned && !p.IsPinned) {
		return nil, false
	}
	return m.objectLocked(id, p), true
}

// OnParticipantJoined calls h when the map gains a participant.
func (pm *ParticipantMap) OnParticipantJoined(h func(*Participant, ParticipantJoined)) (off func()) {
	return pm.joined.add(h)
}

// OnParticipantLeft calls h when the map loses a participant.
func (pm *ParticipantMap) OnParticipantLeft(h func(*Participant, ParticipantLeft)) (off func()) {
	return pm.left.add(h)
}

// OnAudioUpdate calls h when the audio of a participant in the map changes.
func (pm *ParticipantMap) OnAudioUpdate(h func(*Participant, AudioUpdate)) (off func()) {
	return pm.audio.add(h)
}

// OnVideoUpdate calls h when the video of a participant in the map changes.
func (pm *ParticipantMap) OnVideoUpdate(h func(*Participant, VideoUpdate)) (off func()) {
	return pm.video.add(h)
}

// OnPinned calls h when a participant in the map is pinned.
func (pm *ParticipantMap) OnPinned(h func(*Participant, PinUpdate)) (off func()) {
	return pm.pinnedH.add(h)
}

// OnUnpinned calls h when a participant in the map is unpinned.
func (pm *ParticipantMap) OnUnpinned(h func(*Participant, PinUpdate)) (off func()) {
	return pm.unpinned.add(h)
}

// call returns the calls of the map's handlers for n about p, or nil.
func (pm *ParticipantMap) call(p *Participant, n view.Notification) func() {
	switch n.Event {
	case view.ParticipantJoined:
		return bind(&pm.joined, func(h func(*Participant, ParticipantJoined)) { h(p, ParticipantJoined{n.By, n.Seq}) })
	case view.ParticipantLeft:
		return bind(&pm.left, func(h func(*Participant, ParticipantLeft)) { h(p, ParticipantLeft{n.State, n.By, n.Seq}) })
	case view.AudioUpdate:
		return bind(&pm.audio, func(h func(*Participant, AudioUpdate)) { h(p, AudioUpdate{n.AudioEnabled, n.By, n.Seq}) })
	case view.VideoUpdate:
		return bind(&pm.video, func(h func(*Participant, VideoUpdate)) { h(p, VideoUpdate{n.VideoEnabled, n.By, n.Seq}) })
	case view.Pinned:
		return bind(&pm.pinnedH, func(h func(*Participant, PinUpdate)) { h(p, PinUpdate{n.By, n.Seq}) })
	case view.Unpinned:
		return bind(&pm.unpinned, func(h func(*Participant, PinUpdate)) { h(p, PinUpdate{n.By, n.Seq}) })
	}
	return nil
}

// Participants is meeting.participants: the joined and pinned maps and the
// commands on everyone.
type Participants struct {
	m *Meeting
	// Joined holds the joined participants other than self.
	Joined *ParticipantMap
	// Pinned holds the pinned participant, unless it is self.
	Pinned *ParticipantMap
}

// DisableAllAudio turns everyone's audio off, self's included
// (disable_participant_audio).
func (ps *Participants) DisableAllAudio(ctx context.Context) error {
	return ps.m.do(ctx, core.Command{Type: core.DisableAllAudio})
}

// DisableAllVideo turns everyone's video off, self's included
// (disable_participant_video).
func (ps *Participants) DisableAllVideo(ctx context.Context) error {
	return ps.m.do(ctx, core.Command{Type: core.DisableAllVideo})
}

// KickAll ends the session for everyone (kick_participant): every client,
// this one included, gets roomLeft with state ended.
func (ps *Participants) KickAll(ctx context.Context) error {
	return ps.m.do(ctx, core.Command{Type: core.KickAll})
}
