/*
 * What the console knows while it runs: the session (me, with what its role may do), the
 * operator's settings (language, sound, overdue delay), the cameras, the events of the queue and
 * where the live stream is. One object, imported where needed; views do not keep their own copy.
 *
 * bus carries what happens to the views that care, for as long as they are shown:
 * 'feed' (detail: the event id a live message changed), 'logout' (the session is gone),
 * 'live' (the stream opened or dropped, the server stopped or started answering), 'handover' (a
 * shift hand-over note arrived).
 */
export const S = {
  lang: localStorage.getItem('vigie.lang') || (navigator.language.startsWith('fr') ? 'fr' : 'en'),
  sound: localStorage.getItem('vigie.sound') !== 'off',
  theme:
    localStorage.getItem('vigie.theme') ||
    (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'),
  overdue: Number(localStorage.getItem('vigie.overdue') || 60),
  me: null,
  cameras: [],
  instructions: {}, // event type -> what to do (the server's config)
  events: new Map(),
  order: [], // event ids, newest first
  olderOnServer: false, // the server has events older than the oldest in order
  incident: new Map(), // event id -> its incident { head, ids (newest first), key, last } (feed.js)
  openIncidents: new Map(), // key -> the incident a new alert of that key may join
  shown: 200, // rows of the queue in the page (the operator asks for more)
  dense: localStorage.getItem('vigie.dense') === 'on', // the compact queue
  grouped: localStorage.getItem('vigie.grouped') !== 'off', // one row per incident
  priority: localStorage.getItem('vigie.priority') === 'on', // undecided high-priority rows first
  handover: [], // the shift hand-over notes, newest first ({id, at, user, text})
  /* the queue's filter (this tab only): a camera, an event type, only what is still to decide */
  filter: { camera: '', type: '', undecided: false },
  handoverSeen: Number(localStorage.getItem('vigie.handoverSeen') || 0), // newest note read
  selected: null,
  lastSeq: 0,
  es: null,
  seenSeq: new Set(),
  reasonMode: false,
  offlineSince: null, // Date the server stopped answering (the banner), null while it answers
  drafts: new Map(), // event id -> { note, reason }: what the operator is writing, kept across redraws
  view: null,
  audio: null,
};

export const bus = new EventTarget();

/* What the role may do comes from the server's route table (login and GET /api/me: can). */
export function can(what) {
  return !!(S.me && S.me.can && S.me.can[what]);
}

export const REASONS = ['person_not_object', 'fixture', 'reflection_or_light', 'weather', 'other'];

/* Priorities, highest first: the queue's order on demand and the sound of a new alert. */
export const PRIORITY_RANK = { high: 3, normal: 2, low: 1 };
export const rankOf = (ev) => PRIORITY_RANK[ev.priority] || 2;

export function camOf(name) {
  return S.cameras.find((c) => c.name === name) || {};
}
