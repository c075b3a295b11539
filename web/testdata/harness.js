// The page side of the Chromium tests: a meeting on gavel.js whose
// notifications are recorded, and helpers the Go tests call through
// chromedp. Waiting is the Go side's business (it polls with a deadline).
import { GavelClient, SessionView, ClientError } from "/gavel.js";

export { GavelClient, SessionView, ClientError };

// Every frame the page's websockets send, and a switch that makes new
// connections fail (the SDK then retries), so a test can hold a
// reconnection.
export const sent = [];
export const sockets = [];
let blocked = false;
const Native = WebSocket;
globalThis.WebSocket = class extends Native {
  constructor(url, ...rest) {
    super(blocked ? String(url).replace("/gavel", "/blocked") : url, ...rest);
    sockets.push(this);
  }
  send(data) {
    sent.push(String(data));
    super.send(data);
  }
};
export function block(on) { blocked = on; }
/** Closes the meeting's socket as a network failure would (no goodbye). */
export function drop() { sockets.at(-1).close(4000, "test drop"); }

/** The notifications fired, as "on event id [enabled|state] by seq". */
export const log = [];
export const connection = [];
export let meeting = null;

function note(on, event, p, extra = "", payload = {}) {
  log.push({ on, event, id: p?.id ?? "", extra: String(extra), by: payload.by ?? "", seq: payload.seq ?? 0 });
}

export function record(m) {
  const self = m.self;
  self.on("roomJoined", () => note("self", "roomJoined", self));
  self.on("roomLeft", (x) => note("self", "roomLeft", self, x.state, x));
  self.on("audioUpdate", (x) => note("self", "audioUpdate", self, x.audioEnabled, x));
  self.on("videoUpdate", (x) => note("self", "videoUpdate", self, x.videoEnabled, x));
  self.on("pinned", (s, x) => note("self", "pinned", s, "", x));
  self.on("unpinned", (s, x) => note("self", "unpinned", s, "", x));
  for (const [on, map] of [["joined", m.participants.joined], ["pinned", m.participants.pinned]]) {
    map.on("participantJoined", (p, x) => note(on, "participantJoined", p, "", x));
    map.on("participantLeft", (p, x) => note(on, "participantLeft", p, x.state, x));
    map.on("audioUpdate", (p, x) => note(on, "audioUpdate", p, x.audioEnabled, x));
    map.on("videoUpdate", (p, x) => note(on, "videoUpdate", p, x.videoEnabled, x));
    map.on("pinned", (p, x) => note(on, "pinned", p, "", x));
    map.on("unpinned", (p, x) => note(on, "unpinned", p, "", x));
  }
  m.meta.on("socketConnectionUpdate", (u) => connection.push(u));
}

/** Connects (to url, or the page's server) and joins; resolves to self's id. */
export async function start(token, { name = "", audio = false, video = false, media = true, url = undefined } = {}) {
  meeting = await GavelClient.init({ authToken: token, name: name || undefined, defaults: { audio, video }, media, url,
    reconnect: { wait: 50, maxWait: 200 } });
  record(meeting);
  await meeting.join();
  return meeting.self.id;
}

/** Calls fn(meeting) and reports how it settled: "ok", or the error's code and reason. */
export async function act(fn) {
  try {
    await fn(meeting);
    return { ok: true };
  } catch (err) {
    return { ok: false, code: err?.code ?? -1, reason: err?.reason ?? String(err), client: err instanceof ClientError };
  }
}

/** The inbound-rtp counters of participant id's track of kind, or null. */
export async function inbound(id, kind) {
  const p = meeting.participants.joined.get(id);
  const track = p?.[`${kind}Track`];
  if (!track) return null;
  const stats = await meeting.getStats(track);
  for (const r of stats.values()) {
    if (r.type === "inbound-rtp") {
      return { packets: r.packetsReceived ?? 0, frames: r.framesDecoded ?? 0, last: r.lastPacketReceivedTimestamp ?? 0 };
    }
  }
  return null;
}

/** The outbound-rtp packets sent of self's kind, summed over the connection. */
export async function outbound(kind) {
  let n = 0;
  for (const r of (await meeting.getStats()).values()) if (r.type === "outbound-rtp" && r.kind === kind) n += r.packetsSent ?? 0;
  return n;
}

/** Watches decoded frames of participant id's video: frames[] gets each frame's arrival (performance.now). */
export const frames = {};
export function watchFrames(id) {
  const p = meeting.participants.joined.get(id);
  const track = p?.videoTrack;
  if (!track) return false;
  const v = document.createElement("video");
  v.muted = true;
  v.autoplay = true;
  v.playsInline = true;
  v.srcObject = new MediaStream([track]);
  document.body.append(v);
  const seen = (frames[id] = []);
  const next = (now) => {
    seen.push(performance.timeOrigin + now);
    v.requestVideoFrameCallback(next);
  };
  v.requestVideoFrameCallback(next);
  v.play().catch(() => {});
  // And the frames as the decoder gives them, before any rendering.
  const decoded = (frames[`${id}/decoded`] = []);
  if (typeof MediaStreamTrackProcessor === "function") {
    const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        decoded.push(performance.timeOrigin + performance.now());
        value.close();
      }
    })();
  }
  return true;
}

/** Makes this page a publisher that ignores mutes: it never stops sending
 * (replaceTrack(null) and track.stop() do nothing), as a client written
 * without gavel.js may. The router must withhold its media all the same. */
export function stubborn() {
  const replace = RTCRtpSender.prototype.replaceTrack;
  RTCRtpSender.prototype.replaceTrack = function (track) {
    return track === null ? Promise.resolve() : replace.call(this, track);
  };
  MediaStreamTrack.prototype.stop = function () {};
}

/** Runs fn(meeting) and returns when its promise settled, in epoch ms. */
export async function timed(fn) {
  await fn(meeting);
  return performance.timeOrigin + performance.now();
}

/** Round trips of gavel.js commands that change nothing (unpin of someone
 * not pinned: through the session and its log, no event) and of a raw
 * websocket echo on this page, interleaved, n of each, paced under the
 * command rate limit. */
export async function roundTrips(target, n, paceMs) {
  const echo = new Native(new URL("/test/echo", location.href).toString().replace(/^http/, "ws"));
  await new Promise((r, j) => { echo.onopen = r; echo.onerror = j; });
  const frame = JSON.stringify({ type: "command", cmd: { id: "x".repeat(24), type: "unpin", target } });
  const gavel = [], raw = [];
  const p = meeting.participants.joined.get(target);
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    await p.unpin();
    gavel.push(performance.now() - t);
    t = performance.now();
    await new Promise((r) => { echo.onmessage = r; echo.send(frame); });
    raw.push(performance.now() - t);
    if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
  }
  echo.close();
  return { gavel, raw };
}
