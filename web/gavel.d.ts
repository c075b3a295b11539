// Type declarations of gavel.js, gavel's browser SDK (RealtimeKit's
// web-core meeting object, over gavel's websocket protocol).

/** The SDK's error. `code` is a SPEC error code (1201 when self's preset
 * lacks the permission: thrown before anything is sent), or 0 for a failure
 * that is not the session's; `reason` names it either way. */
export declare class ClientError extends Error {
  readonly name: "ClientError";
  /** 1201 permission_denied, 1202 participant_not_found, 1203 cannot_act_on_self,
   * 1205 already_joined, 1208 not_joined, 1210 invalid_command, 1211 session_ended,
   * 1212 unknown_preset; 0 otherwise. */
  readonly code: number;
  /** The code's name, or rate_limited, unavailable, closed … for code 0. */
  readonly reason: string;
  /** True when the server refused the command; false when the client did. */
  readonly remote: boolean;
  constructor(code: number, message: string, options?: { reason?: string; remote?: boolean });
}

/** Self's host controls, as the SDK names them. */
export interface Permissions {
  readonly canDisableParticipantAudio: boolean;
  readonly canDisableParticipantVideo: boolean;
  readonly pinParticipant: boolean;
  readonly kickParticipant: boolean;
}

export type RoomState = "init" | "joined" | "left" | "kicked" | "ended";

/** Every payload says which session event caused it (`seq`) and whose
 * command did (`by`: empty after a resync from a snapshot). */
export interface Cause {
  readonly by: string;
  readonly seq: number;
}
export interface AudioUpdate extends Cause {
  readonly audioEnabled: boolean;
  readonly audioTrack: MediaStreamTrack | null;
}
export interface VideoUpdate extends Cause {
  readonly videoEnabled: boolean;
  readonly videoTrack: MediaStreamTrack | null;
}
export interface RoomLeft extends Cause {
  readonly state: "left" | "kicked" | "ended";
}
export interface ParticipantLeftInfo extends Cause {
  /** "left" or "kicked"; empty on the pinned map when only unpinned, and after a resync. */
  readonly state: "left" | "kicked" | "";
}
/** gavel's addition: a participant's forwarded track arrived (or went: null). */
export interface TrackUpdate {
  readonly kind: "audio" | "video";
  readonly track: MediaStreamTrack | null;
}

type Handler<A extends unknown[]> = (...args: A) => void;

interface Events<M> {
  on<K extends keyof M & string>(event: K, handler: M[K]): this;
  off<K extends keyof M & string>(event: K, handler: M[K]): this;
  once<K extends keyof M & string>(event: K, handler: M[K]): this;
}

export interface SelfEvents {
  roomJoined: Handler<[]>;
  roomLeft: Handler<[RoomLeft]>;
  audioUpdate: Handler<[AudioUpdate]>;
  videoUpdate: Handler<[VideoUpdate]>;
  pinned: Handler<[Self, Cause]>;
  unpinned: Handler<[Self, Cause]>;
}

/** What self and a remote participant both have. */
export interface ParticipantState {
  readonly id: string;
  readonly name: string;
  readonly preset: string;
  readonly audioEnabled: boolean;
  readonly videoEnabled: boolean;
  readonly isPinned: boolean;
  /** Self's: the microphone while its audio is on, else null. A remote
   * participant's: its audio as the media router forwards it, once it arrived. */
  readonly audioTrack: MediaStreamTrack | null;
  /** Self's camera, or a remote participant's forwarded video, as audioTrack. */
  readonly videoTrack: MediaStreamTrack | null;
}

/** meeting.self: the local participant. */
export interface Self extends ParticipantState, Events<SelfEvents> {
  readonly permissions: Permissions;
  readonly roomState: RoomState;
  readonly roomJoined: boolean;
  /** Takes the microphone (getUserMedia), publishes it and turns self's audio on. */
  enableAudio(): Promise<void>;
  /** Turns self's audio off, stops sending and releases the microphone. */
  disableAudio(): Promise<void>;
  enableVideo(): Promise<void>;
  disableVideo(): Promise<void>;
  /** Leaves the room: roomLeft fires with state "left". */
  leaveRoom(): Promise<void>;
}

export interface ParticipantEvents {
  audioUpdate: Handler<[AudioUpdate]>;
  videoUpdate: Handler<[VideoUpdate]>;
  pinned: Handler<[Participant, Cause]>;
  unpinned: Handler<[Participant, Cause]>;
  trackUpdate: Handler<[TrackUpdate]>;
}

/** A remote participant. */
export interface Participant extends ParticipantState, Events<ParticipantEvents> {
  /** Needs canDisableParticipantAudio, else rejects with ClientError 1201. */
  disableAudio(): Promise<void>;
  /** Needs canDisableParticipantVideo. */
  disableVideo(): Promise<void>;
  /** Needs pinParticipant. */
  pin(): Promise<void>;
  /** Needs pinParticipant. */
  unpin(): Promise<void>;
  /** Needs kickParticipant. */
  kick(): Promise<void>;
}

export interface MapEvents {
  participantJoined: Handler<[Participant, Cause]>;
  participantLeft: Handler<[Participant, ParticipantLeftInfo]>;
  audioUpdate: Handler<[Participant, AudioUpdate]>;
  videoUpdate: Handler<[Participant, VideoUpdate]>;
  pinned: Handler<[Participant, Cause]>;
  unpinned: Handler<[Participant, Cause]>;
  trackUpdate: Handler<[Participant, TrackUpdate]>;
}

/** meeting.participants.joined and .pinned: remote participants, never self. */
export interface ParticipantMap extends Events<MapEvents>, Iterable<Participant> {
  readonly size: number;
  get(id: string): Participant | undefined;
  has(id: string): boolean;
  /** In join order. */
  toArray(): Participant[];
}

/** meeting.participants. */
export interface Participants {
  readonly joined: ParticipantMap;
  readonly pinned: ParticipantMap;
  /** Everyone's audio off, self's included. Needs canDisableParticipantAudio. */
  disableAllAudio(): Promise<void>;
  /** Everyone's video off, self's included. Needs canDisableParticipantVideo. */
  disableAllVideo(): Promise<void>;
  /** Ends the session for everyone: roomLeft "ended" on every client. Needs kickParticipant. */
  kickAll(): Promise<void>;
}

export interface SocketConnectionUpdate {
  readonly state: "connected" | "reconnecting" | "disconnected";
  readonly reconnectionAttempt?: number;
  readonly reconnected?: boolean;
  /** After a reconnection: the missed events were replayed (else a fresh snapshot was applied). */
  readonly resumed?: boolean;
  /** The server's goodbye, or why the meeting ended (closed, failed …). */
  readonly reason?: string;
  /** With state "connected": the websocket endpoint the meeting is connected to (after a reconnection, the node it moved to). */
  readonly url?: string;
}

export interface MetaEvents {
  socketConnectionUpdate: Handler<[SocketConnectionUpdate]>;
  mediaConnectionUpdate: Handler<[{ readonly state: RTCPeerConnectionState }]>;
}

/** meeting.meta. */
export interface Meta extends Events<MetaEvents> {
  /** The session id. */
  readonly roomName: string;
  /** The seq of the last session event applied. */
  readonly seq: number;
}

export interface InitOptions {
  /** A token the service minted (ws.MintToken): one participant, preset and session. */
  authToken: string;
  /** The websocket endpoint; default: /gavel on the page's host (unless urls are given). */
  url?: string;
  /** More websocket endpoints of the same deployment (other gavel nodes, sharing the sessions and the
   * token key), tried after url: init tries each in turn until one welcomes it; a lost connection
   * reconnects to the next (after the last, the first) and resumes there. reconnect.wait applies
   * between whole rounds; each URL tried is one attempt. */
  urls?: string[];
  /** The name self joins with; default: the participant id. */
  name?: string;
  /** Whether join() takes the microphone and camera. Default both false. */
  defaults?: { audio?: boolean; video?: boolean };
  /** getUserMedia constraints for each kind. */
  mediaConstraints?: { audio?: boolean | MediaTrackConstraints; video?: boolean | MediaTrackConstraints };
  /** false: no media connection at all (a control-only client). Default true. */
  media?: boolean;
  iceServers?: RTCIceServer[];
  /** Reconnection after a lost connection: attempts (-1 without end), first wait and longest wait in ms. */
  reconnect?: { maxAttempts?: number; wait?: number; maxWait?: number };
}

/** A meeting: one participant in one session. */
export declare class GavelClient {
  /** Connects; resolves once the server has welcomed the meeting. */
  static init(options: InitOptions): Promise<GavelClient>;
  private constructor();
  readonly self: Self;
  readonly participants: Participants;
  readonly meta: Meta;
  readonly roomState: RoomState;
  /** An RTCPeerConnectionState, or "closed" without a media connection. */
  readonly mediaConnectionState: RTCPeerConnectionState;
  /** Joins the room (with the microphone and camera defaults asks for). */
  join(): Promise<void>;
  leaveRoom(): Promise<void>;
  /** WebRTC statistics of the media connection, or of one track. */
  getStats(track?: MediaStreamTrack): Promise<RTCStatsReport | Map<string, unknown>>;
  /** Closes the connection without leaving the room. */
  close(): void;
}

/** A participant's record in a SessionView. */
export type ViewParticipant = Omit<ParticipantState, "audioTrack" | "videoTrack">;

/** One SDK event firing on one object. */
export interface Notification {
  readonly seq: number;
  readonly event: "roomJoined" | "roomLeft" | "participantJoined" | "participantLeft" | "audioUpdate" | "videoUpdate" | "pinned" | "unpinned";
  readonly on: "self" | "participant" | "joined" | "pinned";
  readonly participant: ViewParticipant;
  readonly by: string;
  readonly audioEnabled: boolean;
  readonly videoEnabled: boolean;
  readonly state: string;
}

/** The session seen by one participant: a pure projection of its events
 * (SPEC §3), in the JSON of docs/events.md. */
export declare class SessionView {
  constructor(self: string, state: object, presets?: object);
  readonly seq: number;
  readonly roomState: RoomState;
  readonly pinnedId: string | null;
  readonly joinedCount: number;
  self(): ViewParticipant | null;
  participant(id: string): ViewParticipant | null;
  joined(): ViewParticipant[];
  apply(event: object): Notification[];
  resync(state: object): Notification[];
}
