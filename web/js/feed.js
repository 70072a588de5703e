/*
 * The live queue's data: the feed's head is read first, then the newest events, then the live
 * stream (Server-Sent Events) from that head. Every message has the feed's sequence number; the
 * browser sends the last one back when it reconnects (Last-Event-ID), so a restart of the server
 * loses nothing, and messages are applied once (by sequence number and event id). Views hear of
 * each change on the bus ('feed', the event id); the stream's state too ('live').
 */
import { S, bus } from './state.js';
import { api, apiJson, setOnline } from './api.js';

/* The sound of a new alert, by its priority: three rising tones (high), one tone (normal),
 * none (low: the row alone). Exported for the browser test, which listens to what is played. */
export const TONES = { high: [660, 880, 1175], normal: [880], low: [] };
export function beep(priority) {
  const tones = TONES[priority] || TONES.normal;
  S.lastTones = tones; /* what was (or would have been) played: the browser test reads it */
  if (!S.sound || !tones.length) return;
  try {
    S.audio = S.audio || new AudioContext();
    tones.forEach((f, i) => {
      const o = S.audio.createOscillator(),
        g = S.audio.createGain(),
        at = S.audio.currentTime + i * 0.16;
      o.frequency.value = f;
      g.gain.value = 0.08;
      o.connect(g).connect(S.audio.destination);
      o.start(at);
      o.stop(at + 0.13);
    });
  } catch (e) {
    /* no audio: the visual cue stays */
  }
}

const live = () => bus.dispatchEvent(new Event('live'));
const changed = (id, added) =>
  bus.dispatchEvent(new CustomEvent('feed', { detail: { id, added } }));

export function stopStream() {
  if (S.es) S.es.close();
  S.es = null;
}

export function startStream() {
  stopStream();
  const es = new EventSource('/api/events/stream?after=' + S.lastSeq);
  S.es = es;
  es.onopen = () => {
    setOnline(true);
    live();
  };
  es.onerror = async () => {
    if (es.readyState !== 1) setOnline(false);
    live();
    if (es.readyState === 2) {
      /* refused (session gone) or the server answered an error: check and start again */
      try {
        const r = await api('GET', '/api/me');
        if (r.ok)
          setTimeout(() => {
            if (S.es === es) startStream();
          }, 2000);
        else bus.dispatchEvent(new CustomEvent('logout', { detail: { expired: true } }));
      } catch (e) {
        setTimeout(() => {
          if (S.es === es) startStream();
        }, 2000);
      }
    }
  };
  es.onmessage = (m) => {
    const seq = Number(m.lastEventId);
    if (seq && S.seenSeq.has(seq)) return;
    if (seq) {
      S.seenSeq.add(seq);
      S.lastSeq = Math.max(S.lastSeq, seq);
    }
    let d;
    try {
      d = JSON.parse(m.data);
    } catch (e) {
      return;
    }
    applyMessage(d);
  };
}

/* One message of the live stream (a start, end, acknowledgement or decision) applied to what the
 * console knows; the views hear of it on the bus ('feed', with the event id and whether it is a
 * new alert). Exported for the browser test, which measures what one message costs. */
export function applyMessage(d) {
  const id = d.id;
  if (d.phase === 'handover') {
    if (!d.text || S.handover.some((n) => n.id === d.note)) return; /* purged, or known */
    S.handover.unshift({ id: d.note, at: d.wall, user: d.user, text: d.text });
    bus.dispatchEvent(new CustomEvent('handover', { detail: { id: d.note } }));
    return;
  }
  let ev = S.events.get(id);
  if (d.phase === 'start') {
    if (ev) return;
    ev = {
      id,
      camera: d.camera,
      type: d.type,
      zone: d.zone,
      start: d.wall,
      t: d.t,
      score: d.score,
      box: d.box,
      details: d.details,
      evidence: d.evidence,
      priority: d.priority,
      open: 1,
      arrived: Date.now(),
      fresh: true,
    };
    S.events.set(id, ev);
    S.order.unshift(id);
    join(ev, S.openIncidents);
    beep(ev.priority);
    changed(id, true);
    return;
  }
  if (!ev) return;
  if (d.phase === 'end') {
    ev.open = 0;
    ev.end = d.wall;
  }
  if (d.phase === 'ack') {
    ev.ack_at = d.wall;
    ev.ack_by = d.user;
  }
  if (d.phase === 'claim') {
    ev.claimed_by = d.user || null;
    ev.claimed_at = d.user ? d.wall : null;
  }
  if (d.phase === 'decision') {
    if (!ev.qualification) decidedOne(ev);
    ev.qualification = d.qualification;
    ev.reason = d.reason;
    ev.note = d.note;
    ev.decided_by = d.user;
  }
  changed(id);
}

/* Incidents: alerts of one camera, type and zone, each within INCIDENT_GAP_MS of the previous
 * one, are one incident, shown as one row and decided once (each alert is still recorded and
 * audited on its own). */
export const INCIDENT_GAP_MS = 60000;
export const INCIDENT_SPAN_MS = 600000; /* one incident spans at most ten minutes */
const keyOf = (ev) => `${ev.camera}|${ev.type}|${ev.zone || ''}`;
const timeOf = (ev) => Date.parse(ev.start) || ev.arrived || 0;

/* @ev joins the open incident of its key, or starts one. ids: oldest first (head: the last);
 * undecided: how many are not qualified (kept as messages come, never recounted). */
function join(ev, open) {
  const key = keyOf(ev),
    at = timeOf(ev);
  let inc = open.get(key);
  if (inc && at - inc.last <= INCIDENT_GAP_MS && at - inc.first <= INCIDENT_SPAN_MS) {
    inc.ids.push(ev.id);
    inc.head = ev.id;
    inc.last = Math.max(inc.last, at);
  } else {
    inc = { head: ev.id, ids: [ev.id], key, first: at, last: at, undecided: 0 };
    open.set(key, inc);
  }
  if (!ev.qualification) inc.undecided++;
  S.incident.set(ev.id, inc);
  return inc;
}

/* @ev was just qualified (it was not): its incident has one undecided alert fewer. */
export function decidedOne(ev) {
  const inc = S.incident.get(ev.id);
  if (inc && inc.undecided > 0) inc.undecided--;
}

/* The incidents of every known alert, from the oldest. */
export function regroup() {
  S.incident = new Map();
  S.openIncidents = new Map();
  for (let i = S.order.length - 1; i >= 0; i--) join(S.events.get(S.order[i]), S.openIncidents);
}

const PAGE = 200;

export async function loadEvents() {
  const head = await apiJson('GET', '/api/feed/head');
  const list = await apiJson('GET', '/api/events?limit=' + PAGE);
  S.events.clear();
  S.order = [];
  for (const e of list) {
    S.events.set(e.id, e);
    S.order.push(e.id);
  }
  S.olderOnServer = list.length === PAGE;
  regroup();
  S.lastSeq = head.seq;
  await loadHandover().catch(() => {});
  startStream();
}

/* The newest shift hand-over notes (the live stream brings the next ones). */
export async function loadHandover() {
  S.handover = await apiJson('GET', '/api/handover?limit=50');
}

/* The next page back from the server (older than the oldest known): how many came. */
export async function loadOlder() {
  if (!S.olderOnServer) return 0;
  const oldest = S.order.length ? Math.min(...S.order.slice(-PAGE)) : 0;
  const list = await apiJson(
    'GET',
    `/api/events?limit=${PAGE}` + (oldest ? `&before=${oldest}` : ''),
  );
  let n = 0;
  for (const e of list)
    if (!S.events.has(e.id)) {
      S.events.set(e.id, e);
      S.order.push(e.id);
      n++;
    }
  S.olderOnServer = list.length === PAGE;
  regroup();
  return n;
}
