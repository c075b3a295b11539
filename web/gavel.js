// gavel.js: gavel's browser SDK, shaped like RealtimeKit's web-core meeting
// object. One dependency-free ES module; types in gavel.d.ts.
//
//   import { GavelClient } from "/gavel.js";
//   const meeting = await GavelClient.init({ authToken, name: "Hana", defaults: { audio: true, video: true } });
//   meeting.self.on("roomLeft", ({ state }) => { … });
//   await meeting.join();
//   for (const p of meeting.participants.joined.toArray()) await p.disableAudio();
//
// It speaks the websocket protocol of docs/ws-protocol.md: commands and the
// session's events over the socket, and one WebRTC connection with gavel's
// media router, signalled over the same socket. What each event means for
// the page (which SDK event fires, on what) is SessionView, a pure
// projection of the event stream: the rules of SPEC.md §3, as package view
// has them in Go.

/** The SDK's error: `code` is a SPEC error code (1201 permission_denied …),
 * or 0 for a failure that is not the session's (`reason` says which). */
export class ClientError extends Error {
  constructor(code, message, { reason = "", remote = false } = {}) {
    super(message);
    this.name = "ClientError";
    this.code = code;
    this.reason = reason || CODE_NAMES[code] || "";
    this.remote = remote;
  }
}

const CODE_NAMES = {
  1201: "permission_denied",
  1202: "participant_not_found",
  1203: "cannot_act_on_self",
  1205: "already_joined",
  1208: "not_joined",
  1210: "invalid_command",
  1211: "session_ended",
  1212: "unknown_preset",
};

// The permission each host control needs (SPEC §1), by command type.
const NEEDS = {
  disable_audio: "disable_participant_audio",
  disable_all_audio: "disable_participant_audio",
  disable_video: "disable_participant_video",
  disable_all_video: "disable_participant_video",
  pin: "pin_participant",
  unpin: "pin_participant",
  kick: "kick_participant",
  kick_all: "kick_participant",
};

/** The SDK's names of a preset's permissions. */
function sdkPermissions(p = {}) {
  return Object.freeze({
    canDisableParticipantAudio: p.disable_participant_audio === true,
    canDisableParticipantVideo: p.disable_participant_video === true,
    pinParticipant: p.pin_participant === true,
    kickParticipant: p.kick_participant === true,
  });
}

// A handler that throws must not break the SDK or the handlers after it.
function report(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else console.error(err);
}

class Emitter {
  #handlers = new Map();

  /** Calls fn on each `name` event; returns this. */
  on(name, fn) {
    const list = this.#handlers.get(name) ?? [];
    this.#handlers.set(name, [...list, fn]); // a new list: an emit under way is unaffected
    return this;
  }

  /** Removes fn (the last one added, if added twice); returns this. */
  off(name, fn) {
    const list = this.#handlers.get(name);
    const i = list ? list.lastIndexOf(fn) : -1;
    if (i >= 0) this.#handlers.set(name, list.toSpliced(i, 1));
    return this;
  }

  /** Calls fn on the next `name` event only; returns this. */
  once(name, fn) {
    const wrapped = (...args) => {
      this.off(name, wrapped);
      fn(...args);
    };
    return this.on(name, wrapped);
  }

  emit(name, ...args) {
    for (const fn of this.#handlers.get(name) ?? []) {
      try {
        fn(...args);
      } catch (err) {
        report(err);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The view: SPEC §3's client view, a pure projection of the event stream.

/** A participant as the state has it: immutable records, replaced on change. */
function record(p) {
  return Object.freeze({
    id: p.id,
    name: p.name,
    preset: p.preset,
    audioEnabled: p.audio_enabled === true,
    videoEnabled: p.video_enabled === true,
  });
}

/**
 * SessionView is the session seen by one participant: it folds the events
 * of the session (in the JSON of docs/events.md) and says, for each, which
 * SDK events fire and on what (`self`, `participant`, `joined`, `pinned`),
 * in order. It does no IO and keeps no timers; GavelClient dispatches its
 * notifications to handlers. See package view (Go) for the same rules.
 */
export class SessionView {
  #self;
  #room;
  #seq;
  #ended;
  #pinned;
  #people; // Map id → record, in join order (a rejoin goes to the end)
  #presets;
  #last = null; // self as it was when it left

  /** A view of `self` in the session at `state` (the welcome's). */
  constructor(self, state, presets = {}) {
    this.#self = self;
    this.#presets = presets;
    this.#load(state);
    this.#room = this.#people.has(self) ? "joined" : "init";
  }

  #load(state) {
    this.#seq = state.seq;
    this.#ended = state.ended === true;
    this.#pinned = state.pinned ?? null;
    this.#people = new Map((state.participants ?? []).map((p) => [p.id, record(p)]));
  }

  /** The seq of the last event applied. */
  get seq() { return this.#seq; }
  /** Where self stands: "init", "joined", "left", "kicked" or "ended". */
  get roomState() { return this.#room; }
  /** The id of the pinned participant (self included), or null. */
  get pinnedId() { return this.#pinned; }
  get presets() { return this.#presets; }

  /** Self's record with isPinned, as it was last once self has left; null before it joins. */
  self() {
    const p = this.#people.get(this.#self);
    if (p) return this.#seen(p, this.#pinned);
    return this.#over() ? this.#last : null;
  }

  /** The joined participant id, with isPinned, unless it is self. */
  participant(id) {
    const p = id === this.#self ? undefined : this.#people.get(id);
    return p ? this.#seen(p, this.#pinned) : null;
  }

  /** The joined participants other than self, in join order. */
  joined() {
    const out = [];
    for (const p of this.#people.values()) if (p.id !== this.#self) out.push(this.#seen(p, this.#pinned));
    return out;
  }

  /** The number of joined participants other than self. */
  get joinedCount() { return this.#people.size - (this.#people.has(this.#self) ? 1 : 0); }

  #seen(p, pinned) { return { ...p, isPinned: p.id === pinned }; }
  #over() { return this.#room !== "init" && this.#room !== "joined"; }

  /** Folds one event and returns the notifications it fires, in order. An
   * event at or below the view's seq, or after self left, fires nothing. */
  apply(e) {
    if (!e || this.#over() || !(e.seq > this.#seq)) return [];
    const c = { seq: e.seq, by: e.by ?? "", left: "" };
    let ids;
    switch (e.type) {
      case "participant_left":
        c.left = e.reason === "kicked" ? "kicked" : "left";
        ids = [e.participant];
        break;
      case "session_ended":
        ids = [this.#self];
        break;
      case "all_audio_disabled":
        ids = [...this.#people.values()].filter((p) => p.audioEnabled).map((p) => p.id);
        break;
      case "all_video_disabled":
        ids = [...this.#people.values()].filter((p) => p.videoEnabled).map((p) => p.id);
        break;
      default:
        ids = e.participant === undefined ? [] : [e.participant];
    }
    const before = new Map(ids.map((id) => [id, this.#people.get(id)]));
    const pinnedBefore = this.#pinned;
    this.#fold(e);
    const ns = [];
    for (const id of ids) this.#change(ns, before.get(id), id, c, pinnedBefore);
    this.#pinChange(ns, pinnedBefore, c);
    return ns;
  }

  // #fold is the reducer's Evolve for the client's needs.
  #fold(e) {
    this.#seq = e.seq;
    const people = this.#people;
    const set = (id, change) => {
      const p = people.get(id);
      if (p) people.set(id, Object.freeze({ ...p, ...change }));
    };
    switch (e.type) {
      case "participant_joined":
        people.delete(e.participant);
        people.set(e.participant, record({ id: e.participant, ...e }));
        break;
      case "participant_left":
        people.delete(e.participant);
        if (this.#pinned === e.participant) this.#pinned = null;
        break;
      case "audio_update":
        set(e.participant, { audioEnabled: e.audio_enabled === true });
        break;
      case "video_update":
        set(e.participant, { videoEnabled: e.video_enabled === true });
        break;
      case "all_audio_disabled":
        for (const p of people.values()) if (p.audioEnabled) set(p.id, { audioEnabled: false });
        break;
      case "all_video_disabled":
        for (const p of people.values()) if (p.videoEnabled) set(p.id, { videoEnabled: false });
        break;
      case "pinned":
        this.#pinned = e.participant;
        break;
      case "unpinned":
        if (this.#pinned === e.participant) this.#pinned = null;
        break;
      case "session_ended":
        people.clear();
        this.#pinned = null;
        this.#ended = true;
        break;
    }
  }

  /** Moves the view to a later state of the session (a fresh welcome after
   * a gap too long to replay) and returns what differs, as notifications:
   * departures (old join order), arrivals and media changes (new order),
   * then the pin. `by` and participantLeft's state are empty: a snapshot
   * cannot know them. A self gone from a session that has not ended is
   * taken to be kicked. */
  resync(state) {
    if (this.#over() || !(state.seq > this.#seq)) return [];
    const old = this.#people;
    const pinnedBefore = this.#pinned;
    this.#load(state);
    const c = { seq: state.seq, by: "", left: "" };
    const ns = [];
    if (this.#room === "init" || !this.#people.has(this.#self)) {
      this.#change(ns, old.get(this.#self), this.#self, c, pinnedBefore);
      return ns;
    }
    for (const id of old.keys()) if (!this.#people.has(id)) this.#change(ns, old.get(id), id, c, pinnedBefore);
    for (const id of this.#people.keys()) this.#change(ns, old.get(id), id, c, pinnedBefore);
    this.#pinChange(ns, pinnedBefore, c);
    return ns;
  }

  #notify(c, event, participant) {
    return { seq: c.seq, event, on: "", participant, by: c.by, audioEnabled: false, videoEnabled: false, state: "" };
  }

  #change(ns, before, id, c, pinnedBefore) {
    const after = this.#people.get(id);
    const self = id === this.#self;
    if (self && !before && after && this.#room === "init") {
      this.#room = "joined";
      ns.push({ ...this.#notify(c, "roomJoined", this.#seen(after, this.#pinned)), on: "self" });
      return;
    }
    if (this.#room !== "joined") return;
    if (before && !after) {
      const gone = this.#seen(before, pinnedBefore);
      if (self) {
        this.#room = this.#ended ? "ended" : c.left || "kicked";
        this.#last = gone;
        ns.push({ ...this.#notify(c, "roomLeft", gone), on: "self", state: this.#room });
        return;
      }
      const n = { ...this.#notify(c, "participantLeft", gone), on: "joined", state: c.left };
      ns.push(n);
      if (gone.isPinned) ns.push({ ...n, on: "pinned" });
      return;
    }
    if (!before && after) {
      if (!self) ns.push({ ...this.#notify(c, "participantJoined", this.#seen(after, this.#pinned)), on: "joined" });
      return;
    }
    if (!after) return;
    // The pinned map re-emits the update if it holds the participant, as
    // before any pin change, which comes after (#pinChange).
    const now = this.#seen(after, this.#pinned);
    const held = pinnedBefore === id;
    if (before.audioEnabled !== after.audioEnabled) {
      this.#fire(ns, { ...this.#notify(c, "audioUpdate", now), audioEnabled: after.audioEnabled }, held);
    }
    if (before.videoEnabled !== after.videoEnabled) {
      this.#fire(ns, { ...this.#notify(c, "videoUpdate", now), videoEnabled: after.videoEnabled }, held);
    }
  }

  #pinChange(ns, old, c) {
    const now = this.#pinned;
    if (this.#room !== "joined" || old === now) return;
    const was = old === null ? undefined : this.#people.get(old);
    if (was) this.#fire(ns, this.#notify(c, "unpinned", this.#seen(was, now)), true);
    const is = now === null ? undefined : this.#people.get(now);
    if (is) this.#fire(ns, this.#notify(c, "pinned", this.#seen(is, now)), true);
  }

  // #fire appends n where the SDK emits it: on self for self; else on the
  // participant and the joined map, then on the pinned map when it is
  // concerned (it re-emits its participant's events, and announces its own
  // gains and losses as participantJoined and participantLeft).
  #fire(ns, n, pinned) {
    if (n.participant.id === this.#self) {
      ns.push({ ...n, on: "self" });
      return;
    }
    ns.push({ ...n, on: "participant" }, { ...n, on: "joined" });
    if (!pinned) return;
    const event = n.event === "pinned" ? "participantJoined" : n.event === "unpinned" ? "participantLeft" : n.event;
    ns.push({ ...n, event, on: "pinned" });
  }
}

// ---------------------------------------------------------------------------
// The meeting.

const DEFAULT_RECONNECT = { maxAttempts: 60, wait: 100, maxWait: 5000 };
const MEDIA_RETRIES = 5;

/** The m-sections of an offer that the router receives on (a=recvonly):
 * the participant's send slots, by kind → mid. */
function sendSlots(sdp) {
  const slots = {};
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const kind = section.slice(0, section.indexOf(" "));
    const mid = /\r?\na=mid:([^\r\n]+)/.exec(section)?.[1];
    if (mid !== undefined && /\r?\na=recvonly\b/.test(section) && !(kind in slots)) slots[kind] = mid;
  }
  return slots;
}

function defaultURL() {
  const u = new URL("/gavel", globalThis.location?.href ?? "http://127.0.0.1:8080/");
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}

/**
 * GavelClient is a meeting: one participant (self) in one session, over
 * one websocket. `GavelClient.init` connects; `join` enters the room.
 */
export class GavelClient {
  /** The local participant, meeting.self. */
  self;
  /** The remote participants, meeting.participants. */
  participants;
  /** The session and the connection: roomName, on/off socketConnectionUpdate and mediaConnectionUpdate. */
  meta;

  #opts;
  #url;
  #token;
  #selfId = "";
  #preset = "";
  #perms = {};
  #view = null;
  #ws = null;
  #bye = "";
  #closing = false;
  #over = false;
  #idPrefix;
  #nextId = 0;
  #pending = new Map(); // id → { n, frame, resolve, reject }
  #parts = new Map(); // id → Participant: the object of each joined participant
  #lastSeen = new WeakMap(); // Participant → its record as last seen
  #reconnecting = false;

  // Media.
  #media;
  #pc = null;
  #mediaGen = 0; // bumped whenever the media connection is replaced or closed
  #signals = Promise.resolve(); // signals are handled one at a time, in order
  #slots = null; // kind → RTCRtpSender, from the first offer
  #local = { audio: null, video: null };
  #remote = new Map(); // "id/kind" → MediaStreamTrack
  #mediaRetries = 0;

  /** Connects with `authToken` (minted by the service) and resolves once
   * the server has welcomed the meeting; `join()` then enters the room. */
  static async init(options) {
    const m = new GavelClient(options, GavelClient.#key);
    await m.#connectFirst();
    return m;
  }

  static #key = Symbol("init");

  constructor(options, key) {
    if (key !== GavelClient.#key) throw new TypeError("use GavelClient.init()");
    if (!options || typeof options.authToken !== "string" || options.authToken === "") {
      throw new ClientError(0, "GavelClient.init needs an authToken", { reason: "invalid_option" });
    }
    this.#opts = {
      ...options,
      defaults: { audio: false, video: false, ...options.defaults },
      reconnect: { ...DEFAULT_RECONNECT, ...options.reconnect },
    };
    this.#url = options.url ?? defaultURL();
    this.#token = options.authToken;
    this.#media = options.media !== false && typeof globalThis.RTCPeerConnection === "function";
    const rnd = crypto.getRandomValues(new Uint8Array(8));
    this.#idPrefix = Array.from(rnd, (b) => b.toString(16).padStart(2, "0")).join("") + "-";
    const m = this;
    const self = new Self({
      id: () => m.#selfId,
      info: () => m.#view?.self() ?? null,
      name: () => m.#view?.self()?.name ?? m.#opts.name ?? m.#selfId,
      preset: () => m.#view?.self()?.preset ?? m.#preset,
      permissions: () => sdkPermissions(m.#permissions()),
      roomState: () => m.#view?.roomState ?? "init",
      track: (kind) => m.#local[kind],
      setMedia: (kind, on) => m.#setMedia(kind, on),
      leave: () => m.#do({ type: "leave" }),
    });
    this.self = self;
    const find = (id) => {
      const p = this.#view?.participant(id);
      return p ? this.#object(p) : undefined;
    };
    const joined = new ParticipantMap({
      list: () => this.#view?.joined().map((p) => this.#object(p)) ?? [],
      get: find,
      size: () => this.#view?.joinedCount ?? 0,
    });
    const pinnedOne = () => (this.#view?.pinnedId ? find(this.#view.pinnedId) : undefined);
    const pinned = new ParticipantMap({
      list: () => {
        const p = pinnedOne();
        return p ? [p] : [];
      },
      get: (id) => {
        const p = pinnedOne();
        return p?.id === id ? p : undefined;
      },
      size: () => (pinnedOne() ? 1 : 0),
    });
    this.participants = new Participants(joined, pinned, (type) => this.#do({ type }));
    this.meta = new Meta(() => this.#view?.seq ?? 0);
  }

  /** Where self stands: "init", "joined", "left", "kicked" or "ended". */
  get roomState() { return this.#view?.roomState ?? "init"; }

  /** Joins the room with the name of init's options (default: the
   * participant id) and, when `defaults` ask, the microphone and camera.
   * roomJoined fires before it resolves. */
  async join() {
    if (this.roomState === "joined") return;
    const want = this.#opts.defaults;
    // Without media (a control-only client) defaults only say what to join with.
    const take = async (kind) => (!want[kind] ? null : this.#media ? await this.#acquire(kind).catch(report) : true);
    const audio = await take("audio");
    const video = await take("video");
    try {
      await this.#do({ type: "join", name: this.#opts.name ?? this.#selfId, audio: !!audio, video: !!video });
    } catch (err) {
      this.#release("audio");
      this.#release("video");
      throw err;
    }
    this.#mediaRetries = 0;
    this.#startMedia();
  }

  /** Leaves the room: roomLeft fires with state "left". */
  leaveRoom() { return this.self.leaveRoom(); }

  /** The WebRTC statistics of the media connection (of one track, if
   * given: a remote track's inbound-rtp, a local track's outbound-rtp). */
  async getStats(track) {
    if (!this.#pc) return new Map();
    return this.#pc.getStats(track ?? null);
  }

  /** Closes the connection without leaving the room (as a closed tab):
   * self stays joined until it leaves or a host removes it. */
  close() {
    if (this.#over) return;
    this.#closing = true;
    this.#ws?.close(1000);
    this.#finish("closed");
  }

  // --- connection -----------------------------------------------------------

  #open(after) {
    const u = new URL(this.#url);
    u.searchParams.set("token", this.#token);
    if (after !== undefined) u.searchParams.set("after", String(after));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(u);
      // Frames after the welcome wait in queue until the meeting adopts
      // the connection (#adopt).
      const conn = { ws, welcome: null, queue: [], adopted: false, closed: null };
      let welcomed = false;
      ws.onmessage = (msg) => {
        let f;
        try {
          f = JSON.parse(msg.data);
        } catch {
          ws.close(1002);
          return;
        }
        if (!welcomed) {
          if (f.type !== "welcome") {
            ws.close(1002);
            reject(new ClientError(0, `${f.type} frame before the welcome`, { reason: "protocol" }));
            return;
          }
          welcomed = true;
          conn.welcome = f;
          resolve(conn);
          return;
        }
        if (!conn.adopted) conn.queue.push(f);
        else if (this.#ws === ws) this.#frame(f);
      };
      ws.onclose = (ev) => {
        if (!welcomed) {
          reject(new ClientError(0, `connection refused (${ev.code} ${ev.reason})`, { reason: "unavailable" }));
        } else if (!conn.adopted) {
          conn.closed = ev;
        } else if (this.#ws === ws) {
          this.#lost(ev);
        }
      };
    });
  }

  // #adopt makes conn the meeting's connection and handles the frames that
  // came after its welcome.
  #adopt(conn) {
    this.#ws = conn.ws;
    this.#bye = "";
    conn.adopted = true;
    for (const f of conn.queue.splice(0)) if (this.#ws === conn.ws) this.#frame(f);
    if (conn.closed && this.#ws === conn.ws) this.#lost(conn.closed);
  }

  async #connectFirst() {
    const conn = await this.#open();
    const { ws, welcome } = conn;
    if (welcome.state?.ended) {
      ws.close(1000);
      throw new ClientError(1211, "the session has ended", { remote: true });
    }
    this.#selfId = welcome.self;
    this.#preset = welcome.preset;
    this.#perms = welcome.permissions ?? {};
    this.#view = new SessionView(welcome.self, welcome.state, welcome.presets);
    this.meta._set(welcome.session);
    this.meta._emit("socketConnectionUpdate", { state: "connected", reconnectionAttempt: 0, reconnected: false });
    this.#adopt(conn);
  }

  #frame(f) {
    switch (f.type) {
      case "event":
        this.#apply([f.event]);
        break;
      case "result":
        this.#apply(f.events ?? []);
        this.#complete(f);
        break;
      case "goodbye":
        this.#bye = f.reason;
        this.#closeMedia(); // the router closes the PeerConnection too
        break;
      case "signal":
        this.#signal(f);
        break;
      case "media_closed":
        this.#mediaClosed(f);
        break;
    }
  }

  #apply(evs) {
    for (const e of evs) this.#dispatch(this.#view.apply(e));
  }

  #dispatch(ns) {
    const gone = [];
    for (const n of ns) {
      if (n.on === "self") {
        this.#selfNotification(n);
        continue;
      }
      const p = this.#object(n.participant);
      const payload = this.#payload(n, p.id);
      switch (n.on) {
        case "participant":
          p._emit(n.event, payload);
          break;
        case "joined":
          if (n.event === "participantLeft") gone.push(p.id);
          this.participants.joined._emit(n.event, p, payload);
          break;
        case "pinned":
          this.participants.pinned._emit(n.event, p, payload);
          break;
      }
    }
    for (const id of gone) {
      // After the event's notifications: the pinned map's may follow.
      this.#parts.delete(id);
      this.#remote.delete(`${id}/audio`);
      this.#remote.delete(`${id}/video`);
    }
  }

  #payload(n, id) {
    switch (n.event) {
      case "audioUpdate":
        return { audioEnabled: n.audioEnabled, audioTrack: this.#track(id, "audio"), by: n.by, seq: n.seq };
      case "videoUpdate":
        return { videoEnabled: n.videoEnabled, videoTrack: this.#track(id, "video"), by: n.by, seq: n.seq };
      case "participantLeft":
      case "roomLeft":
        return { state: n.state, by: n.by, seq: n.seq };
      default:
        return { by: n.by, seq: n.seq };
    }
  }

  #track(id, kind) {
    return id === this.#selfId ? this.#local[kind] : this.#remote.get(`${id}/${kind}`) ?? null;
  }

  #selfNotification(n) {
    switch (n.event) {
      case "audioUpdate":
      case "videoUpdate": {
        const kind = n.event === "audioUpdate" ? "audio" : "video";
        if (!n[`${kind}Enabled`]) this.#release(kind); // off by self or a host: stop sending
        else this.#attach(kind);
        this.self._emit(n.event, this.#payload(n, this.#selfId));
        break;
      }
      case "pinned":
      case "unpinned":
        this.self._emit(n.event, this.self, this.#payload(n, this.#selfId));
        break;
      case "roomJoined":
        this.self._emit("roomJoined");
        break;
      case "roomLeft":
        this.#closeMedia();
        this.#release("audio");
        this.#release("video");
        this.self._emit("roomLeft", this.#payload(n, this.#selfId));
        break;
    }
  }

  // #object returns the participant object of p's id, one per stay in the
  // room, and notes p as how it was last seen (what its getters say once
  // it has left).
  #object(p) {
    let o = this.#parts.get(p.id);
    if (!o) {
      const m = this;
      const id = p.id;
      o = new Participant(id, {
        info: () => (m.#parts.get(id) === o ? m.#view.participant(id) : null) ?? m.#lastSeen.get(o),
        track: (kind) => (m.#parts.get(id) === o ? m.#track(id, kind) : null),
        act: (type) => m.#do({ type, target: id }),
      });
      this.#parts.set(p.id, o);
    }
    this.#lastSeen.set(o, p);
    return o;
  }

  #permissions() {
    const s = this.#view?.self();
    if (s && this.roomState === "joined") return this.#view.presets?.[s.preset] ?? this.#perms;
    return this.#perms;
  }

  #do(cmd) {
    const needs = NEEDS[cmd.type];
    if (needs && this.#permissions()[needs] !== true) {
      return Promise.reject(new ClientError(1201, `self's preset does not allow ${cmd.type}`));
    }
    if (this.#over) return Promise.reject(new ClientError(0, "the meeting is over", { reason: "closed" }));
    const n = ++this.#nextId;
    const id = this.#idPrefix + n;
    const frame = JSON.stringify({ type: "command", cmd: { id, ...cmd } });
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { n, frame, resolve, reject });
      if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(frame);
    });
  }

  #complete(r) {
    const call = this.#pending.get(r.id);
    if (!call) return;
    this.#pending.delete(r.id);
    if (r.error) call.reject(new ClientError(r.error.code, r.error.message, { remote: true }));
    else if (r.refused) call.reject(new ClientError(0, `refused: ${r.refused}`, { reason: r.refused, remote: true }));
    else call.resolve();
  }

  #lost(ev) {
    this.#ws = null;
    this.#closeMedia();
    const bye = this.#bye || ev.reason;
    if (this.#closing) return;
    if (this.#view.roomState !== "init" && this.#view.roomState !== "joined") {
      this.#finish(bye || this.#view.roomState);
      return;
    }
    if (bye === "replaced" || bye === "left" || bye === "kicked" || bye === "ended") {
      this.#finish(bye);
      return;
    }
    this.#reconnect(bye);
  }

  async #reconnect(bye) {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    const { maxAttempts, wait: first, maxWait } = this.#opts.reconnect;
    let wait = 0;
    for (let attempt = 1; maxAttempts < 0 || attempt <= maxAttempts; attempt++) {
      this.meta._emit("socketConnectionUpdate", { state: "reconnecting", reconnectionAttempt: attempt, reconnected: false, reason: bye });
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(Math.max(2 * wait, first), maxWait);
      if (this.#closing || this.#over) break;
      let conn;
      try {
        conn = await this.#open(this.#view.seq);
      } catch {
        continue;
      }
      if (this.#closing || this.#over) {
        conn.ws.close(1000);
        break;
      }
      this.#reconnecting = false;
      this.#resumed(conn);
      return;
    }
    this.#reconnecting = false;
    if (!this.#over) this.#finish("failed");
  }

  // #resumed brings the view up to date with a new connection's welcome and
  // sends again every command still waiting for its result: the server
  // answers one it has seen with its first outcome.
  #resumed(conn) {
    const { ws, welcome: w } = conn;
    if (w.resumed && w.seq !== this.#view.seq) {
      ws.close(1002);
      this.#reconnect("protocol");
      return;
    }
    this.#preset = w.preset;
    this.#perms = w.permissions ?? {};
    if (!w.resumed) {
      if (w.state.seq >= this.#view.seq) {
        this.#dispatch(this.#view.resync(w.state));
      } else {
        // Not the history this view followed: start again from the snapshot.
        this.#view = new SessionView(this.#selfId, w.state, w.presets);
        this.#parts.clear();
      }
    }
    this.meta._emit("socketConnectionUpdate", { state: "connected", reconnected: true, resumed: !!w.resumed });
    this.#adopt(conn);
    for (const call of [...this.#pending.values()].sort((a, b) => a.n - b.n)) {
      if (ws.readyState === WebSocket.OPEN) ws.send(call.frame);
    }
    if (this.roomState === "joined") {
      this.#mediaRetries = 0;
      this.#startMedia();
    }
  }

  #finish(reason) {
    if (this.#over) return;
    this.#over = true;
    this.#closeMedia();
    this.#release("audio");
    this.#release("video");
    const err = new ClientError(0, `the meeting is over (${reason})`, { reason: "closed" });
    for (const call of this.#pending.values()) call.reject(err);
    this.#pending.clear();
    this.meta._emit("socketConnectionUpdate", { state: "disconnected", reason });
  }

  // --- self's media ---------------------------------------------------------

  async #acquire(kind) {
    if (this.#local[kind]) return this.#local[kind];
    const constraints = this.#opts.mediaConstraints?.[kind] ?? true;
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraints });
    const track = stream.getTracks().find((t) => t.kind === kind);
    for (const t of stream.getTracks()) if (t !== track) t.stop();
    if (this.#local[kind]) {
      track.stop(); // another call got one meanwhile
      return this.#local[kind];
    }
    this.#local[kind] = track;
    return track;
  }

  // #attach sends self's local track of kind, if the slot and a track exist.
  #attach(kind) {
    const sender = this.#slots?.[kind];
    const track = this.#local[kind];
    if (sender && track && sender.track !== track) sender.replaceTrack(track).catch(report);
  }

  // #release stops sending self's track of kind and lets the device go.
  #release(kind) {
    const track = this.#local[kind];
    this.#local[kind] = null;
    const sender = this.#slots?.[kind];
    if (sender && sender.track) sender.replaceTrack(null).catch(report);
    track?.stop();
  }

  async #setMedia(kind, on) {
    const type = kind === "audio" ? "set_audio" : "set_video";
    if (!on) {
      await this.#do({ type, enabled: false });
      this.#release(kind); // also when it was off already
      return;
    }
    if (this.#media) await this.#acquire(kind);
    try {
      await this.#do({ type, enabled: true });
    } catch (err) {
      if (!this.self[`${kind}Enabled`]) this.#release(kind);
      throw err;
    }
    if (this.self[`${kind}Enabled`]) this.#attach(kind);
  }

  // --- the media connection ------------------------------------------------------

  #startMedia() {
    if (!this.#media || this.#over || !this.#ws) return;
    this.#closeMedia();
    this.#ws.send(JSON.stringify({ type: "media_connect" }));
  }

  #closeMedia() {
    this.#mediaGen++;
    this.#slots = null;
    const pc = this.#pc;
    this.#pc = null;
    if (pc) {
      pc.close();
      this.meta._emit("mediaConnectionUpdate", { state: "closed" });
    }
    const tracks = [...this.#remote.keys()];
    this.#remote.clear();
    for (const key of tracks) {
      const [id, kind] = key.split("/");
      this.#trackUpdate(id, kind, null);
    }
  }

  #mediaClosed(f) {
    this.#closeMedia();
    // A refusal by the session (not_joined, session_ended) or of a signal
    // (invalid_command) would come again. Otherwise (a rate limit, no
    // router now, a failed connection) try again, later, while self is in
    // the room; a goodbye that follows (a media_closed precedes each)
    // cancels the retry. The session's media moved to another node
    // (reason "moved"): at once; it counts as a retry, so a server that
    // only ever says so is not asked forever.
    if (f.error || this.roomState !== "joined" || this.#mediaRetries >= MEDIA_RETRIES) return;
    const wait = f.reason === "moved" ? 0 : 250 * 2 ** this.#mediaRetries;
    this.#mediaRetries++;
    const gen = this.#mediaGen;
    setTimeout(() => {
      if (gen === this.#mediaGen && this.roomState === "joined") this.#startMedia();
    }, wait);
  }

  #signal(f) {
    const gen = this.#mediaGen;
    this.#signals = this.#signals
      .then(() => (gen === this.#mediaGen ? this.#handleSignal(f, gen) : undefined))
      .catch((err) => {
        report(err);
        if (gen === this.#mediaGen) this.#closeMedia();
      });
  }

  async #handleSignal(f, gen) {
    if (f.description?.type === "offer") {
      const first = !this.#pc;
      const pc = this.#pc ?? this.#newPeerConnection(gen);
      await pc.setRemoteDescription(f.description);
      if (gen !== this.#mediaGen) return;
      if (first) {
        this.#slots = {};
        for (const [kind, mid] of Object.entries(sendSlots(f.description.sdp))) {
          const tr = pc.getTransceivers().find((t) => t.mid === mid);
          if (!tr) continue;
          tr.direction = "sendonly";
          this.#slots[kind] = tr.sender;
        }
        if (this.self.audioEnabled) this.#attach("audio");
        if (this.self.videoEnabled) this.#attach("video");
      }
      const answer = await pc.createAnswer();
      if (gen !== this.#mediaGen) return;
      await pc.setLocalDescription(answer);
      if (gen !== this.#mediaGen) return;
      this.#send({ type: "signal", description: { type: answer.type, sdp: answer.sdp } });
    } else if (f.candidate && this.#pc) {
      await this.#pc.addIceCandidate(f.candidate);
    }
  }

  #newPeerConnection(gen) {
    const pc = new RTCPeerConnection({ iceServers: this.#opts.iceServers ?? [] });
    this.#pc = pc;
    pc.onicecandidate = (e) => {
      if (gen !== this.#mediaGen || !e.candidate || !e.candidate.candidate) return;
      const c = e.candidate.toJSON();
      const candidate = { candidate: c.candidate };
      if (c.sdpMid != null) candidate.sdpMid = c.sdpMid;
      if (c.sdpMLineIndex != null) candidate.sdpMLineIndex = c.sdpMLineIndex;
      if (c.usernameFragment != null) candidate.usernameFragment = c.usernameFragment;
      this.#send({ type: "signal", candidate });
    };
    pc.onconnectionstatechange = () => {
      if (gen !== this.#mediaGen) return;
      this.meta._emit("mediaConnectionUpdate", { state: pc.connectionState });
      if (pc.connectionState === "connected") this.#mediaRetries = 0;
    };
    pc.ontrack = (e) => {
      const stream = e.streams[0];
      if (gen !== this.#mediaGen || !stream) return;
      // Track ids repeat across publishers: the stream id says whose it is.
      const id = stream.id;
      const kind = e.track.kind;
      const key = `${id}/${kind}`;
      this.#remote.set(key, e.track);
      stream.addEventListener("removetrack", (ev) => {
        if (this.#remote.get(key) !== ev.track) return;
        this.#remote.delete(key);
        this.#trackUpdate(id, kind, null);
      });
      this.#trackUpdate(id, kind, e.track);
    };
    return pc;
  }

  #trackUpdate(id, kind, track) {
    const vp = this.#view?.participant(id);
    if (!vp) return; // not joined (yet): participantJoined's participant has the track
    const p = this.#object(vp);
    p._emit("trackUpdate", { kind, track });
    this.participants.joined._emit("trackUpdate", p, { kind, track });
  }

  #send(frame) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(frame));
  }

  /** The state of the media connection: an RTCPeerConnectionState, or "closed" without one. */
  get mediaConnectionState() { return this.#pc?.connectionState ?? "closed"; }
}

/** meeting.meta: the session and the connection. */
class Meta extends Emitter {
  #seq;
  roomName = "";
  constructor(seq) {
    super();
    this.#seq = seq;
  }
  /** The seq of the last session event the meeting applied. */
  get seq() { return this.#seq(); }
  _set(room) { this.roomName = room; }
  _emit(name, ...args) { this.emit(name, ...args); }
}

/** meeting.self: the local participant. */
class Self extends Emitter {
  #m;
  constructor(m) {
    super();
    this.#m = m;
  }
  get id() { return this.#m.id(); }
  get name() { return this.#m.name(); }
  get preset() { return this.#m.preset(); }
  get permissions() { return this.#m.permissions(); }
  get roomState() { return this.#m.roomState(); }
  get roomJoined() { return this.#m.roomState() === "joined"; }
  get audioEnabled() { return this.#m.info()?.audioEnabled ?? false; }
  get videoEnabled() { return this.#m.info()?.videoEnabled ?? false; }
  get isPinned() { return this.#m.info()?.isPinned ?? false; }
  /** Self's microphone track while its audio is on, else null. */
  get audioTrack() { return this.#m.track("audio"); }
  /** Self's camera track while its video is on, else null. */
  get videoTrack() { return this.#m.track("video"); }
  enableAudio() { return this.#m.setMedia("audio", true); }
  disableAudio() { return this.#m.setMedia("audio", false); }
  enableVideo() { return this.#m.setMedia("video", true); }
  disableVideo() { return this.#m.setMedia("video", false); }
  leaveRoom() { return this.#m.leave(); }
  _emit(name, ...args) { this.emit(name, ...args); }
}

/** A remote participant. Its getters read the meeting as it is now, or as
 * the participant was when it left. */
class Participant extends Emitter {
  #id;
  #m;
  constructor(id, m) {
    super();
    this.#id = id;
    this.#m = m;
  }
  get id() { return this.#id; }
  get name() { return this.#m.info().name; }
  get preset() { return this.#m.info().preset; }
  get audioEnabled() { return this.#m.info().audioEnabled; }
  get videoEnabled() { return this.#m.info().videoEnabled; }
  get isPinned() { return this.#m.info().isPinned; }
  /** The participant's audio as the router forwards it, once it arrived. */
  get audioTrack() { return this.#m.track("audio"); }
  /** The participant's video as the router forwards it, once it arrived. */
  get videoTrack() { return this.#m.track("video"); }
  disableAudio() { return this.#m.act("disable_audio"); }
  disableVideo() { return this.#m.act("disable_video"); }
  pin() { return this.#m.act("pin"); }
  unpin() { return this.#m.act("unpin"); }
  kick() { return this.#m.act("kick"); }
  _emit(name, ...args) { this.emit(name, ...args); }
}

/** meeting.participants.joined and .pinned: remote participants, never self. */
class ParticipantMap extends Emitter {
  #m;
  constructor(m) {
    super();
    this.#m = m;
  }
  get size() { return this.#m.size(); }
  get(id) { return this.#m.get(id); }
  has(id) { return this.#m.get(id) !== undefined; }
  /** The participants, in join order. */
  toArray() { return this.#m.list(); }
  [Symbol.iterator]() { return this.#m.list()[Symbol.iterator](); }
  _emit(name, ...args) { this.emit(name, ...args); }
}

/** meeting.participants: the maps and the commands on everyone. */
class Participants {
  joined;
  pinned;
  #do;
  constructor(joined, pinned, act) {
    this.joined = joined;
    this.pinned = pinned;
    this.#do = act;
  }
  /** Everyone's audio off, self's included (disable_participant_audio). */
  disableAllAudio() { return this.#do("disable_all_audio"); }
  /** Everyone's video off, self's included (disable_participant_video). */
  disableAllVideo() { return this.#do("disable_all_video"); }
  /** Ends the session for everyone (kick_participant): roomLeft "ended". */
  kickAll() { return this.#do("kick_all"); }
}
