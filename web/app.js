// The meeting page: a grid of tiles on gavel.js, with host controls shown
// only where meeting.self.permissions allow them.
import { GavelClient } from "/gavel.js";

const $ = (sel, root = document) => root.querySelector(sel);
const screens = { lobby: $("#lobby"), room: $("#room"), ended: $("#ended") };
const show = (name) => {
  for (const [n, el] of Object.entries(screens)) el.hidden = n !== name;
};

const params = new URLSearchParams(location.hash.slice(1));
let meeting = null;
const tiles = new Map(); // participant id (self included) → tile element

// --- the lobby -----------------------------------------------------------------

async function lobby() {
  const form = $("#join-form");
  for (const name of ["room", "name", "preset"]) if (params.has(name)) form.elements[name].value = params.get(name);
  if (params.has("token")) {
    // The service handed this page a token: it says the room and the preset.
    $("#preset-field").hidden = true;
    form.elements.room.closest("label").hidden = true;
    $("#dev-hint").hidden = true;
  } else {
    try {
      const res = await fetch("/dev/presets");
      if (!res.ok) throw new Error(await res.text());
      const select = form.elements.preset;
      for (const p of await res.json()) select.append(new Option(p, p, false, p === (params.get("preset") ?? "host")));
    } catch (err) {
      fail(`This server mints no tokens for the page (${err.message.trim()}): open it with #token=… from your service.`);
      form.querySelector("button").disabled = true;
    }
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    enter(Object.fromEntries(new FormData(form))).catch((err) => fail(err.message));
  });
  if (params.get("join") === "1") form.requestSubmit();
}

function fail(msg) {
  const el = $("#join-error");
  el.textContent = msg;
  el.hidden = false;
}

async function enter({ room, name, preset, audio, video }) {
  $("#join-error").hidden = true;
  let token = params.get("token");
  if (!token) {
    const res = await fetch("/dev/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ room, name, preset }),
    });
    if (!res.ok) throw new Error(await res.text());
    ({ token } = await res.json());
  }
  meeting = await GavelClient.init({ authToken: token, name, defaults: { audio: !!audio, video: !!video } });
  window.meeting = meeting; // for the console
  wire(meeting);
  await meeting.join();
}

// --- the room -------------------------------------------------------------------

function wire(m) {
  const self = m.self;
  self.on("roomJoined", () => {
    performance.mark("gavel:roomJoined");
    $("#room-name").textContent = m.meta.roomName;
    show("room");
    permissions();
    tile(selfView());
    for (const p of m.participants.joined.toArray()) tile(p);
    layout();
  });
  self.on("audioUpdate", ({ audioEnabled, by }) => {
    if (!audioEnabled && by && by !== self.id) toast(`${nameOf(by)} muted you`);
    refresh(self.id);
  });
  self.on("videoUpdate", ({ videoEnabled, by }) => {
    if (!videoEnabled && by && by !== self.id) toast(`${nameOf(by)} turned off your camera`);
    refresh(self.id);
  });
  self.on("pinned", (_, { by }) => {
    toast(by === self.id ? "You pinned yourself" : `${nameOf(by)} pinned you`);
    layout();
  });
  self.on("unpinned", () => layout());
  self.on("roomLeft", ({ state, by }) => ended(state, by));

  const joined = m.participants.joined;
  joined.on("participantJoined", (p) => {
    tile(p);
    layout();
  });
  joined.on("participantLeft", (p, { state, by }) => {
    tiles.get(p.id)?.remove();
    tiles.delete(p.id);
    if (state === "kicked") toast(`${p.name} was removed by ${nameOf(by)}`);
    layout();
  });
  joined.on("audioUpdate", (p, { audioEnabled, by }) => {
    if (!audioEnabled && by && by !== p.id) toast(`${nameOf(by)} muted ${p.name}`);
    refresh(p.id);
  });
  joined.on("videoUpdate", (p) => refresh(p.id));
  joined.on("pinned", (p, { by }) => {
    toast(`${nameOf(by)} pinned ${p.name}`);
    layout();
  });
  joined.on("unpinned", () => layout());
  joined.on("trackUpdate", (p) => attach(p));
  m.meta.on("socketConnectionUpdate", ({ state }) => {
    const el = $("#conn");
    el.textContent = state === "connected" ? "connected" : state;
    el.classList.toggle("warn", state !== "connected");
  });

  $("#mic").onclick = () => act(self.audioEnabled ? self.disableAudio() : self.enableAudio());
  $("#cam").onclick = () => act(self.videoEnabled ? self.disableVideo() : self.enableVideo());
  $("#mute-all").onclick = () => act(m.participants.disableAllAudio());
  $("#cams-off").onclick = () => act(m.participants.disableAllVideo());
  $("#end-all").onclick = () => {
    if (confirm("End the meeting for everyone?")) act(m.participants.kickAll());
  };
  $("#leave").onclick = () => act(self.leaveRoom());
}

// selfView is self with the participant interface a tile needs.
function selfView() {
  const s = meeting.self;
  return {
    get id() { return s.id; },
    get name() { return `${s.name} (you)`; },
    get audioEnabled() { return s.audioEnabled; },
    get videoEnabled() { return s.videoEnabled; },
    get isPinned() { return s.isPinned; },
    get audioTrack() { return null; }, // never play oneself
    get videoTrack() { return s.videoTrack; },
    self: true,
  };
}

function nameOf(id) {
  if (id === meeting.self.id) return "You";
  return meeting.participants.joined.get(id)?.name ?? "A host";
}

// act runs a host control; a refusal becomes a toast, not an exception.
function act(promise) {
  promise.catch((err) => toast(err.code === 1201 ? "You are not allowed to do that" : err.message, true));
}

function permissions() {
  const perms = meeting.self.permissions;
  let any = false;
  for (const b of document.querySelectorAll("#host-controls [data-perm]")) {
    b.hidden = !perms[b.dataset.perm];
    any ||= !b.hidden;
  }
  $("#host-controls").hidden = !any;
}

function tile(p) {
  let el = tiles.get(p.id);
  if (!el) {
    el = $("#tile").content.firstElementChild.cloneNode(true);
    el.dataset.id = p.id;
    el.participant = p;
    const perms = meeting.self.permissions;
    for (const b of el.querySelectorAll("[data-act]")) {
      b.hidden = p.self || !perms[b.dataset.perm]; // controls only where allowed (seed page: check first)
      b.onclick = () => {
        const target = meeting.participants.joined.get(p.id);
        if (!target) return;
        if (b.dataset.act === "pin") act(target.isPinned ? target.unpin() : target.pin());
        else act(target[b.dataset.act]());
      };
    }
    if (p.self && perms.pinParticipant) {
      // A host may pin themselves; there is no participant object for self.
      const pin = el.querySelector('[data-act="pin"]');
      pin.hidden = true;
    }
    tiles.set(p.id, el);
  }
  refresh(p.id);
  attach(p);
  return el;
}

function attach(p) {
  const el = tiles.get(p.id);
  if (!el) return;
  const video = el.querySelector("video");
  const tracks = [p.videoTrack, p.audioTrack].filter(Boolean);
  const current = video.srcObject?.getTracks() ?? [];
  if (tracks.length === current.length && tracks.every((t) => current.includes(t))) return;
  video.muted = !!p.self;
  video.srcObject = tracks.length ? new MediaStream(tracks) : null;
  if (!p.self && p.videoTrack && !performance.getEntriesByName("gavel:firstRemoteFrame").length) {
    video.requestVideoFrameCallback?.(() => {
      if (!performance.getEntriesByName("gavel:firstRemoteFrame").length) performance.mark("gavel:firstRemoteFrame");
    });
  }
  video.play().catch(() => {});
}

function refresh(id) {
  const el = tiles.get(id);
  if (!el) return;
  const p = el.participant;
  if (p.self) attach(p); // self's camera comes and goes with its video
  el.querySelector(".name").textContent = p.name;
  el.querySelector(".avatar").textContent = initials(p.name);
  el.classList.toggle("muted", !p.audioEnabled);
  el.classList.toggle("no-video", !p.videoEnabled);
  el.classList.toggle("pinned", p.isPinned);
  el.querySelector(".mic").className = `mic ${p.audioEnabled ? "on" : "off"}`;
  el.querySelector(".cam").className = `cam ${p.videoEnabled ? "on" : "off"}`;
  const pin = el.querySelector('[data-act="pin"]');
  pin.textContent = p.isPinned ? "Unpin" : "Pin";
  el.querySelector('[data-act="disableAudio"]').disabled = !p.audioEnabled;
  el.querySelector('[data-act="disableVideo"]').disabled = !p.videoEnabled;
  if (id === meeting.self.id) {
    $("#mic").classList.toggle("off", !p.audioEnabled);
    $("#mic").textContent = p.audioEnabled ? "Mic on" : "Mic off";
    $("#cam").classList.toggle("off", !p.videoEnabled);
    $("#cam").textContent = p.videoEnabled ? "Cam on" : "Cam off";
  }
}

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

// layout puts the pinned participant on the stage and everyone else in the grid.
function layout() {
  const stage = $("#stage");
  const grid = $("#grid");
  let pinned = null;
  for (const [id, el] of tiles) {
    refresh(id);
    if (el.participant.isPinned) pinned = el;
  }
  for (const el of tiles.values()) {
    const parent = el === pinned ? stage : grid;
    if (el.parentElement !== parent) parent.append(el);
  }
  stage.hidden = !pinned;
  $("#room").classList.toggle("has-stage", !!pinned);
  grid.dataset.count = String(Math.min(grid.children.length, 9));
  const n = tiles.size;
  $("#count").textContent = n === 1 ? "1 participant" : `${n} participants`;
}

function toast(text, warn = false) {
  const el = document.createElement("div");
  el.className = warn ? "toast warn" : "toast";
  el.textContent = text;
  $("#toasts").append(el);
  setTimeout(() => el.remove(), 4000);
}

function ended(state, by) {
  for (const el of tiles.values()) el.querySelector("video").srcObject = null;
  tiles.clear();
  const who = by && by !== meeting.self.id ? nameOf(by) : "";
  const [title, text] = {
    kicked: ["You were removed", who ? `${who} removed you from the meeting.` : "A host removed you from the meeting."],
    ended: ["The meeting has ended", who && who !== "You" ? `${who} ended the meeting for everyone.` : "The meeting was ended for everyone."],
    left: ["You left the meeting", "See you next time."],
  }[state] ?? ["Disconnected", ""];
  $("#ended-title").textContent = title;
  $("#ended-text").textContent = text;
  show("ended");
}

$("#again").onclick = () => {
  location.hash = "";
  location.reload();
};

lobby();
