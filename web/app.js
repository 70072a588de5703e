/*
 * vigie console: the page an operator works in all shift (docs/console.md).
 *
 * One script, no framework, nothing fetched from outside. Views by location.hash: #/alerts (the
 * live queue), #/event/ID, #/cameras, #/scene/NAME (editor), #/stats, #/audit, #/users.
 *
 * The live queue: the feed's head is read first, then the newest events, then the live stream
 * (Server-Sent Events) from that head. Every message has the feed's sequence number; the browser
 * sends the last one back when it reconnects (Last-Event-ID), so a restart of the server loses
 * nothing, and messages are applied once (by sequence number and event id).
 */
'use strict';

const T = {
  en: {
    skip: 'Skip to content', login: 'Log in', user: 'User name', password: 'Password',
    logout: 'Log out', alerts: 'Alerts', cameras: 'Cameras', stats: 'Statistics', audit: 'Audit',
    users: 'Users', live: 'live', reconnecting: 'reconnecting…', sound_on: 'Sound on',
    sound_off: 'Sound off', lang: 'Français', no_alerts: 'No alert. New ones appear here at once.',
    new_alerts: 'new alerts', unacked: 'unacknowledged', overdue_after: 'Highlight unacknowledged after (s)',
    ack: 'Acknowledge', confirmed: 'Confirmed', false_alert: 'False alert', not_relevant: 'Not relevant',
    reason: 'Reason', note: 'Note', person_not_object: 'Person, not an object', fixture: 'Fixture',
    reflection_or_light: 'Reflection or light', weather: 'Weather', other: 'Other',
    acknowledged_by: 'Acknowledged by', decided: 'Decision', unblur: 'Unblur…',
    unblur_reason: 'Why is the unblurred picture needed? (recorded in the audit trail)',
    open: 'Open', back: 'Back to alerts', camera: 'Camera', type: 'Type', zone: 'Zone', time: 'Time',
    score: 'Score', ended: 'ended', ongoing: 'ongoing', details: 'Details', evidence: 'Evidence',
    status: 'Status', fps: 'frames/s', dropped: 'dropped', frames: 'frames', edit_scene: 'Edit scene',
    people: 'People', per_m2: 'persons/m²', no_counts: 'No count yet', whole_picture: 'whole picture',
    export_counts: 'Export people counts (CSV)',
    save: 'Save', cancel: 'Cancel', new_zone: 'New zone', new_line: 'New line', new_fixture: 'New fixture',
    delete: 'Delete', name: 'Name', kind: 'Kind', direction: 'Allowed direction', tolerance: 'Tolerance (°)',
    forbidden: 'Forbidden crossing', options: 'Event options (this camera)', saved: 'Scene saved: the camera restarted with it',
    saved_live: 'Options saved and in force: the camera goes on without a restart',
    draw_hint: 'Click to add points; Enter or double-click closes; Escape cancels; drag a point to move it.',
    set_direction: 'Set direction (2 clicks)', none: 'none', from: 'From', to: 'To', show: 'Show',
    export_csv: 'Export CSV', verify: 'Verify the chain', actor: 'Actor', action: 'Action', target: 'Target',
    filter: 'Filter', role: 'Role', add_user: 'Add user', disable: 'Disable', disabled: 'disabled',
    help: 'Keyboard', keys: 'Keys', put_down_at: 'Put down at', unattended_since: 'Unattended since',
    owner_distance: 'Owner distance', owner: 'Owner', reason_label: 'Reason',
    alerts_n: 'Alerts', confirmed_rate: 'Confirmed rate', fa_per_hour: 'False alerts / camera-hour',
    median_decide: 'Median time to decide (s)', camera_hours: 'Camera hours', no_data: 'No data for this period.',
    forbidden_k: 'forbidden', pedestrian_only: 'pedestrian only', watch: 'watch',
    left_to_right: 'left to right', right_to_left: 'right to left', both: 'both',
    k_next: 'next / previous alert', k_open: 'open the selected alert', k_back: 'back to the queue',
    k_ack: 'acknowledge', k_conf: 'confirmed', k_false: 'false alert, then 1–5 for the reason',
    k_nr: 'not relevant', k_help: 'this help', choose_reason: 'False alert: press 1–5 for the reason',
    logged_out: 'Your session ended: log in again.', wrong_login: 'Wrong user name or password.',
    abandoned_object: 'Abandoned object', weapon: 'Weapon', wrong_way: 'Wrong way', intrusion: 'Intrusion',
    fall: 'Person on the ground', crowd_movement: 'Crowd movement', density: 'Excessive density',
    fire: 'Fire start', verified: 'Chain verified', broken: 'CHAIN BROKEN', undecided: 'Undecided',
  },
  fr: {
    skip: 'Aller au contenu', login: 'Se connecter', user: 'Identifiant', password: 'Mot de passe',
    logout: 'Se déconnecter', alerts: 'Alertes', cameras: 'Caméras', stats: 'Statistiques', audit: 'Audit',
    users: 'Utilisateurs', live: 'en direct', reconnecting: 'reconnexion…', sound_on: 'Son activé',
    sound_off: 'Son coupé', lang: 'English', no_alerts: 'Aucune alerte. Les nouvelles apparaissent ici aussitôt.',
    new_alerts: 'nouvelles alertes', unacked: 'non acquittées', overdue_after: 'Signaler les non-acquittées après (s)',
    ack: 'Acquitter', confirmed: 'Confirmée', false_alert: 'Fausse alerte', not_relevant: 'Non pertinente',
    reason: 'Motif', note: 'Note', person_not_object: 'Personne, pas un objet', fixture: 'Mobilier fixe',
    reflection_or_light: 'Reflet ou lumière', weather: 'Météo', other: 'Autre',
    acknowledged_by: 'Acquittée par', decided: 'Décision', unblur: 'Déflouter…',
    unblur_reason: 'Pourquoi l’image non floutée est-elle nécessaire ? (inscrit au journal d’audit)',
    open: 'Ouvrir', back: 'Retour aux alertes', camera: 'Caméra', type: 'Type', zone: 'Zone', time: 'Heure',
    score: 'Score', ended: 'terminée', ongoing: 'en cours', details: 'Détails', evidence: 'Image',
    status: 'État', fps: 'images/s', dropped: 'perdues', frames: 'images', edit_scene: 'Modifier la scène',
    people: 'Personnes', per_m2: 'personnes/m²', no_counts: 'Pas encore de comptage', whole_picture: 'image entière',
    export_counts: 'Exporter les comptages (CSV)',
    save: 'Enregistrer', cancel: 'Annuler', new_zone: 'Nouvelle zone', new_line: 'Nouvelle ligne',
    new_fixture: 'Nouveau mobilier', delete: 'Supprimer', name: 'Nom', kind: 'Type', direction: 'Sens autorisé',
    tolerance: 'Tolérance (°)', forbidden: 'Franchissement interdit', options: 'Réglages des événements (cette caméra)',
    saved: 'Scène enregistrée : la caméra a redémarré avec elle',
    saved_live: 'Réglages enregistrés et appliqués : la caméra continue sans redémarrer',
    draw_hint: 'Cliquer pour ajouter des points ; Entrée ou double-clic pour fermer ; Échap pour annuler ; glisser un point pour le déplacer.',
    set_direction: 'Fixer le sens (2 clics)', none: 'aucun', from: 'Du', to: 'Au', show: 'Afficher',
    export_csv: 'Exporter en CSV', verify: 'Vérifier la chaîne', actor: 'Acteur', action: 'Action', target: 'Cible',
    filter: 'Filtrer', role: 'Rôle', add_user: 'Ajouter', disable: 'Désactiver', disabled: 'désactivé',
    help: 'Clavier', keys: 'Touches', put_down_at: 'Déposé à', unattended_since: 'Sans surveillance depuis',
    owner_distance: 'Distance du propriétaire', owner: 'Propriétaire', reason_label: 'Motif',
    alerts_n: 'Alertes', confirmed_rate: 'Taux de confirmation', fa_per_hour: 'Fausses alertes / heure-caméra',
    median_decide: 'Délai médian de décision (s)', camera_hours: 'Heures-caméra', no_data: 'Aucune donnée sur cette période.',
    forbidden_k: 'interdite', pedestrian_only: 'piétons seulement', watch: 'surveillée',
    left_to_right: 'de gauche à droite', right_to_left: 'de droite à gauche', both: 'les deux',
    k_next: 'alerte suivante / précédente', k_open: 'ouvrir l’alerte choisie', k_back: 'retour à la file',
    k_ack: 'acquitter', k_conf: 'confirmée', k_false: 'fausse alerte, puis 1–5 pour le motif',
    k_nr: 'non pertinente', k_help: 'cette aide', choose_reason: 'Fausse alerte : touche 1–5 pour le motif',
    logged_out: 'Votre session a pris fin : reconnectez-vous.', wrong_login: 'Identifiant ou mot de passe incorrect.',
    abandoned_object: 'Objet abandonné', weapon: 'Arme', wrong_way: 'Contresens', intrusion: 'Intrusion',
    fall: 'Personne au sol', crowd_movement: 'Mouvement de foule', density: 'Densité excessive',
    fire: 'Départ de feu', verified: 'Chaîne vérifiée', broken: 'CHAÎNE ROMPUE', undecided: 'Non qualifiées',
  },
};
const REASONS = ['person_not_object', 'fixture', 'reflection_or_light', 'weather', 'other'];

const S = {
  lang: localStorage.getItem('vigie.lang') || (navigator.language.startsWith('fr') ? 'fr' : 'en'),
  sound: localStorage.getItem('vigie.sound') !== 'off',
  overdue: Number(localStorage.getItem('vigie.overdue') || 60),
  me: null, cameras: [], events: new Map(), order: [], selected: null, lastSeq: 0, es: null,
  seenSeq: new Set(), reasonMode: false, view: null, timer: null, audio: null,
};
const t = (k) => (T[S.lang] && T[S.lang][k]) || T.en[k] || k;
const $ = (sel, root) => (root || document).querySelector(sel);

function el(tag, attrs, ...kids) {
  const svg = ['svg', 'polygon', 'polyline', 'line', 'circle', 'text', 'g', 'rect', 'path', 'marker', 'defs', 'title'].includes(tag);
  const e = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k.nodeType ? k : String(k));
  return e;
}

function toast(msg, bad) {
  const d = el('div', { class: bad ? 'bad' : '' }, msg);
  $('#toast').append(d);
  setTimeout(() => d.remove(), bad ? 8000 : 4000);
}

async function api(method, path, body, raw) {
  const opt = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = S.me ? S.me.csrf : '';
  if (body !== undefined) {
    opt.headers['Content-Type'] = raw ? 'application/yaml' : 'application/json';
    opt.body = raw ? body : JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  if (r.status === 401 && path !== '/api/login' && path !== '/api/me') {
    S.me = null;
    toast(t('logged_out'), true);
    showLogin();
    throw new Error('401');
  }
  return r;
}
async function apiJson(method, path, body) {
  const r = await api(method, path, body);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(S.lang === 'fr' ? 'fr-FR' : 'en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}
const typeName = (ty) => t(ty);

/* ---- sound ---- */
function beep() {
  if (!S.sound) return;
  try {
    S.audio = S.audio || new AudioContext();
    const o = S.audio.createOscillator(), g = S.audio.createGain();
    o.frequency.value = 880;
    g.gain.value = 0.08;
    o.connect(g).connect(S.audio.destination);
    o.start();
    o.stop(S.audio.currentTime + 0.18);
  } catch (e) { /* no audio: the visual cue stays */ }
}

/* ---- frame ---- */
// What the role may do comes from the server's route table (GET /api/me: can).
function can(what) { return !!(S.me && S.me.can && S.me.can[what]); }
function chrome() {
  const top = $('#top');
  top.hidden = !S.me;
  if (!S.me) return;
  const nav = $('#nav');
  nav.textContent = '';
  const links = [];
  if (can('alerts')) links.push(['#/alerts', 'alerts']);
  if (can('cameras')) links.push(['#/cameras', 'cameras']);
  if (can('stats')) links.push(['#/stats', 'stats']);
  if (can('audit')) links.push(['#/audit', 'audit']);
  if (can('users')) links.push(['#/users', 'users']);
  const here = location.hash.split('/')[1] || '';
  for (const [href, k] of links)
    nav.append(el('a', { href, 'aria-current': href.split('/')[1] === here ? 'page' : null }, t(k)));
  $('#who').textContent = S.me.user + ' (' + S.me.role + ')';
  $('#logout').textContent = t('logout');
  $('#lang').textContent = t('lang');
  $('#sound').textContent = S.sound ? t('sound_on') : t('sound_off');
  $('#sound').setAttribute('aria-pressed', S.sound ? 'true' : 'false');
  $('#sound').hidden = !can('alerts');
  document.documentElement.lang = S.lang;
  $('.skip').textContent = t('skip');
  liveStatus();
}
function liveStatus() {
  const l = $('#live');
  l.hidden = !S.es || !can('alerts');
  if (l.hidden) return;
  const open = S.es.readyState === 1;
  l.textContent = open ? '● ' + t('live') : '○ ' + t('reconnecting');
  l.className = 'live ' + (open ? 'on' : 'off');
}

/* ---- login ---- */
function showLogin(msg) {
  stopStream();
  S.me = null;
  chrome();
  const main = $('#main');
  main.textContent = '';
  const err = el('p', { class: 'error', role: 'alert' }, msg || '');
  const form = el('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const r = await api('POST', '/api/login', { user: form.user.value, password: form.password.value });
      const j = await r.json().catch(() => ({}));
      if (!r.ok) { err.textContent = r.status === 401 ? t('wrong_login') : (j.error || r.status); return; }
      S.me = j;
      start();
    },
  },
  el('label', {}, t('user'), el('input', { name: 'user', id: 'login-user', autocomplete: 'username', required: true })),
  el('label', {}, t('password'), el('input', { name: 'password', id: 'login-password', type: 'password', autocomplete: 'current-password', required: true })),
  el('button', { type: 'submit', id: 'login-submit' }, t('login')), err);
  main.append(el('section', { class: 'login panel' }, el('h1', {}, 'vigie'), form));
  $('#login-user').focus();
}

/* ---- live stream ---- */
function stopStream() {
  if (S.es) S.es.close();
  S.es = null;
}
function startStream() {
  stopStream();
  const es = new EventSource('/api/events/stream?after=' + S.lastSeq);
  S.es = es;
  es.onopen = liveStatus;
  es.onerror = async () => {
    liveStatus();
    if (es.readyState === 2) {
      /* refused (session gone) or the server answered an error: check and start again */
      try {
        const r = await api('GET', '/api/me');
        if (r.ok) setTimeout(() => { if (S.es === es) startStream(); }, 2000);
        else showLogin(t('logged_out'));
      } catch (e) { setTimeout(() => { if (S.es === es) startStream(); }, 2000); }
    }
  };
  es.onmessage = (m) => {
    const seq = Number(m.lastEventId);
    if (seq && S.seenSeq.has(seq)) return;
    if (seq) { S.seenSeq.add(seq); S.lastSeq = Math.max(S.lastSeq, seq); }
    let d;
    try { d = JSON.parse(m.data); } catch (e) { return; }
    applyFeed(d);
  };
}
function applyFeed(d) {
  const id = d.id;
  let ev = S.events.get(id);
  if (d.phase === 'start') {
    if (ev) return;
    ev = { id, camera: d.camera, type: d.type, zone: d.zone, start: d.wall, t: d.t, score: d.score,
           box: d.box, details: d.details, evidence: d.evidence, open: 1, arrived: Date.now(), fresh: true };
    S.events.set(id, ev);
    S.order.unshift(id);
    beep();
    if (S.view === 'alerts') renderAlerts();
    return;
  }
  if (!ev) return;
  if (d.phase === 'end') { ev.open = 0; ev.end = d.wall; }
  if (d.phase === 'ack') { ev.ack_at = d.wall; ev.ack_by = d.user; }
  if (d.phase === 'decision') {
    ev.qualification = d.qualification; ev.reason = d.reason; ev.note = d.note; ev.decided_by = d.user;
  }
  if (S.view === 'alerts') renderAlerts();
  if (S.view === 'event' && S.selected === id) renderEvent(id);
}

async function loadEvents() {
  const head = await apiJson('GET', '/api/feed/head');
  const list = await apiJson('GET', '/api/events?limit=200');
  S.events.clear();
  S.order = [];
  for (const e of list) { S.events.set(e.id, e); S.order.push(e.id); }
  S.lastSeq = head.seq;
  startStream();
}

/* ---- alerts ---- */
function camOf(name) { return S.cameras.find((c) => c.name === name) || {}; }
function shot(ev, cls) {
  const c = camOf(ev.camera);
  const wrap = el('span', { class: 'shot ' + (cls || '') });
  if (ev.evidence) wrap.append(el('img', { src: '/api/evidence/' + ev.evidence, alt: t('evidence') + ' ' + ev.id }));
  else wrap.append(el('span', { class: 'muted' }, '—'));
  if (ev.box && c.width && c.height) {
    const b = el('span', { class: 'box' });
    b.style.left = (100 * ev.box[0] / c.width) + '%';
    b.style.top = (100 * ev.box[1] / c.height) + '%';
    b.style.width = (100 * ev.box[2] / c.width) + '%';
    b.style.height = (100 * ev.box[3] / c.height) + '%';
    wrap.append(b);
  }
  return wrap;
}
function alertNode(ev) {
  const li = el('li', { class: 'alert', id: 'alert-' + ev.id, 'data-id': ev.id, tabindex: '-1' });
  li.thumb = shot(ev, 'thumb');
  li.addEventListener('click', () => { S.selected = ev.id; markSelected(); });
  li.addEventListener('dblclick', () => { location.hash = '#/event/' + ev.id; });
  return li;
}
function fillAlert(li, ev) {
  const status = [];
  if (ev.qualification) status.push(el('span', { class: 'badge ' + (ev.qualification === 'confirmed' ? 'alert-b' : 'ok') },
    t(ev.qualification) + (ev.reason ? ' · ' + t(ev.reason) : '')));
  else if (ev.ack_at) status.push(el('span', { class: 'badge warn' }, t('acknowledged_by') + ' ' + ev.ack_by));
  else status.push(el('span', { class: 'badge alert-b' }, t('unacked')));
  status.push(el('span', { class: 'badge' }, ev.open ? t('ongoing') : t('ended')));
  li.textContent = '';
  li.append(li.thumb,
    el('div', {},
      el('div', { class: 'type' }, typeName(ev.type)),
      el('div', { class: 'meta' }, `${t('camera')}: ${ev.camera}` + (ev.zone ? ` · ${t('zone')}: ${ev.zone}` : '') +
        ` · ${fmtTime(ev.start)} · ${t('score')} ${Number(ev.score).toFixed(2)}`),
      el('div', {}, status)),
    el('button', { class: 'secondary', type: 'button', onclick: (e) => { e.stopPropagation(); location.hash = '#/event/' + ev.id; } }, t('open')));
  li.classList.toggle('decided', !!ev.qualification);
  li.classList.toggle('new', !!ev.fresh);
  ev.fresh = false;
}
function overdueTick() {
  const now = Date.now();
  let unacked = 0;
  for (const id of S.order) {
    const ev = S.events.get(id);
    if (ev.ack_at) continue;
    unacked++;
    const li = document.getElementById('alert-' + id);
    const since = ev.arrived || Date.parse(ev.start);
    if (li) li.classList.toggle('overdue', now - since > S.overdue * 1000);
  }
  document.title = (unacked ? `(${unacked}) ` : '') + 'vigie';
}
function markSelected() {
  for (const li of document.querySelectorAll('.alert')) {
    const on = Number(li.dataset.id) === S.selected;
    li.classList.toggle('selected', on);
    li.setAttribute('aria-selected', on ? 'true' : 'false');
    if (on) li.focus({ preventScroll: false });
  }
}
function renderAlerts() {
  const main = $('#main');
  let list = $('#queue');
  if (!list) {
    main.textContent = '';
    const od = el('input', { type: 'number', min: 5, max: 3600, value: S.overdue, id: 'overdue',
      onchange: (e) => { S.overdue = Number(e.target.value) || 60; localStorage.setItem('vigie.overdue', S.overdue); overdueTick(); } });
    main.append(el('div', { class: 'queue-head' },
      el('h1', {}, t('alerts')),
      el('div', { class: 'row' }, el('label', {}, t('overdue_after'), od),
        el('button', { class: 'secondary', type: 'button', onclick: showHelp }, '? ' + t('help')))));
    list = el('ol', { id: 'queue', class: 'queue', 'aria-live': 'polite', 'aria-label': t('alerts') });
    main.append(list);
  }
  if (!S.order.length) {
    list.textContent = '';
    list.append(el('li', { class: 'muted' }, t('no_alerts')));
    return;
  }
  const empty = list.querySelector('li.muted');
  if (empty) empty.remove();
  /* keep nodes (their pictures are loaded once): insert new ones in order, refresh the rest */
  let prev = null;
  for (const id of S.order) {
    let li = document.getElementById('alert-' + id);
    const ev = S.events.get(id);
    if (!li) {
      li = alertNode(ev);
      if (prev) prev.after(li); else list.prepend(li);
    }
    fillAlert(li, ev);
    prev = li;
  }
  if (S.selected === null && S.order.length) S.selected = S.order[0];
  markSelected();
  overdueTick();
}

/* ---- decisions ---- */
async function ack(id) {
  const ev = S.events.get(id);
  if (!ev || ev.ack_at) return true;
  const r = await api('POST', `/api/events/${id}/ack`, {});
  if (r.ok || r.status === 409) { ev.ack_at = ev.ack_at || new Date().toISOString(); ev.ack_by = ev.ack_by || S.me.user; return true; }
  toast((await r.json().catch(() => ({}))).error || 'HTTP ' + r.status, true);
  return false;
}
async function qualify(id, qualification, reason, note) {
  if (!(await ack(id))) return;
  const body = { qualification };
  if (reason) body.reason = reason;
  if (note) body.note = note;
  const r = await api('POST', `/api/events/${id}/decision`, body);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) { toast(j.error || 'HTTP ' + r.status, true); return; }
  const ev = S.events.get(id);
  Object.assign(ev, { qualification, reason: reason || null, decided_by: S.me.user });
  toast(`${typeName(ev.type)} #${id}: ${t(qualification)}${reason ? ' · ' + t(reason) : ''}`);
  if (S.view === 'alerts') renderAlerts(); else renderEvent(id);
}

/* ---- one event ---- */
async function renderEvent(id) {
  S.view = 'event';
  S.selected = id;
  let ev = S.events.get(id);
  if (!ev || ev.details === undefined) {
    try { ev = Object.assign(ev || {}, await apiJson('GET', '/api/events/' + id)); S.events.set(id, ev); }
    catch (e) { $('#main').textContent = e.message; return; }
  }
  const main = $('#main');
  main.textContent = '';
  const facts = el('dl', { class: 'facts' });
  const add = (k, v) => { if (v !== undefined && v !== null && v !== '') facts.append(el('dt', {}, t(k)), el('dd', {}, v)); };
  add('type', typeName(ev.type)); add('camera', ev.camera); add('zone', ev.zone); add('time', fmtTime(ev.start));
  add('score', Number(ev.score).toFixed(2)); add('status', ev.open ? t('ongoing') : t('ended') + ' ' + fmtTime(ev.end));
  const d = ev.details || {};
  if (ev.type === 'abandoned_object') {
    if (d.put_down_at !== undefined) add('put_down_at', Number(d.put_down_at).toFixed(1) + ' s');
    if (d.unattended_since !== undefined) add('unattended_since', Number(d.unattended_since).toFixed(1) + ' s');
    if (d.owner_distance !== undefined) add('owner_distance', Number(d.owner_distance).toFixed(1) + ' ' + (d.unit || ''));
    if (d.owner !== undefined) add('owner', d.owner);
  }
  if (d.reason !== undefined) add('reason_label', String(d.reason));
  const rest = Object.entries(d).filter(([k]) => !['put_down_at', 'unattended_since', 'owner_distance', 'owner', 'reason'].includes(k));
  if (rest.length) add('details', rest.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · '));
  if (ev.ack_at) add('acknowledged_by', `${ev.ack_by} · ${fmtTime(ev.ack_at)}`);
  if (ev.qualification) add('decided', `${t(ev.qualification)}${ev.reason ? ' · ' + t(ev.reason) : ''} (${ev.decided_by})${ev.note ? ' — ' + ev.note : ''}`);

  const reasonSel = el('select', { id: 'reason' }, REASONS.map((r, i) => el('option', { value: r }, `${i + 1}. ${t(r)}`)));
  const note = el('textarea', { id: 'note', rows: 3 });
  const decide = el('div', { class: 'decide panel' },
    el('h2', {}, t('decided')),
    el('div', { class: 'buttons' },
      el('button', { type: 'button', id: 'btn-ack', disabled: !!ev.ack_at, onclick: async () => { await ack(id); renderEvent(id); } }, t('ack') + ' (a)'),
      el('button', { type: 'button', id: 'btn-confirmed', class: 'danger', onclick: () => qualify(id, 'confirmed', null, note.value) }, t('confirmed') + ' (c)'),
      el('button', { type: 'button', id: 'btn-not-relevant', class: 'secondary', onclick: () => qualify(id, 'not_relevant', null, note.value) }, t('not_relevant') + ' (n)')),
    el('div', { class: 'row' }, el('label', {}, t('reason'), reasonSel),
      el('button', { type: 'button', id: 'btn-false', onclick: () => qualify(id, 'false_alert', reasonSel.value, note.value) }, t('false_alert') + ' (f)')),
    el('label', {}, t('note'), note));
  const picture = el('div', {}, shot(ev), el('p', { class: 'muted' }, t('evidence')));
  if (can('original') && ev.evidence) {
    picture.append(el('button', { type: 'button', class: 'secondary', id: 'btn-unblur', onclick: () => unblur(ev, picture) }, t('unblur')));
  }
  main.append(el('p', {}, el('a', { href: '#/alerts' }, '← ' + t('back'))),
    el('h1', {}, `${typeName(ev.type)} #${id}`),
    el('div', { class: 'detail' }, el('div', { class: 'panel' }, picture), el('div', {}, el('div', { class: 'panel' }, facts), decide)));
}
async function unblur(ev, host) {
  const reason = await ask(t('unblur_reason'));
  if (!reason) return;
  const r = await api('POST', `/api/evidence/${ev.evidence}/original`, { reason });
  if (!r.ok) { toast((await r.json().catch(() => ({}))).error || 'HTTP ' + r.status, true); return; }
  const url = URL.createObjectURL(await r.blob());
  host.append(el('img', { src: url, alt: 'original', class: 'original' }));
}
function ask(question) {
  return new Promise((resolve) => {
    const input = el('input', { id: 'ask-input', minlength: 3 });
    const close = (v) => { dlg.remove(); resolve(v); };
    const dlg = el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true' },
      el('form', { class: 'panel', onsubmit: (e) => { e.preventDefault(); close(input.value.trim()); } },
        el('label', {}, question, input),
        el('div', { class: 'row' }, el('button', { type: 'submit' }, 'OK'),
          el('button', { type: 'button', class: 'secondary', onclick: () => close(null) }, t('cancel')))));
    $('#dialog-host').append(dlg);
    input.focus();
  });
}
function showHelp() {
  const rows = [['j / ↓, k / ↑', 'k_next'], ['Enter', 'k_open'], ['Esc', 'k_back'], ['a', 'k_ack'], ['c', 'k_conf'],
    ['f, 1–5', 'k_false'], ['n', 'k_nr'], ['?', 'k_help']];
  const dlg = el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', onclick: (e) => { if (e.target === dlg) dlg.remove(); } },
    el('div', { class: 'panel help' }, el('h2', {}, t('keys')),
      el('table', {}, rows.map(([k, v]) => el('tr', {}, el('td', {}, el('kbd', {}, k)), el('td', {}, t(v))))),
      el('p', {}, REASONS.map((r, i) => `${i + 1}. ${t(r)}`).join(' · ')),
      el('button', { type: 'button', onclick: () => dlg.remove() }, 'OK')));
  $('#dialog-host').append(dlg);
}

/* keyboard: the queue and the event page */
document.addEventListener('keydown', (e) => {
  if (!S.me || e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = (e.target.tagName || '').toLowerCase();
  if (['input', 'textarea', 'select'].includes(tag)) return;
  if ($('.dialog')) { if (e.key === 'Escape') $('.dialog').remove(); return; }
  if (S.view !== 'alerts' && S.view !== 'event') return;
  const id = S.selected;
  if (S.reasonMode) {
    const n = Number(e.key);
    S.reasonMode = false;
    if (n >= 1 && n <= 5 && id) { e.preventDefault(); qualify(id, 'false_alert', REASONS[n - 1], $('#note') ? $('#note').value : ''); }
    return;
  }
  const i = S.order.indexOf(id);
  switch (e.key) {
    case 'j': case 'ArrowDown':
      if (S.view === 'alerts' && i < S.order.length - 1) { S.selected = S.order[i + 1]; markSelected(); e.preventDefault(); }
      break;
    case 'k': case 'ArrowUp':
      if (S.view === 'alerts' && i > 0) { S.selected = S.order[i - 1]; markSelected(); e.preventDefault(); }
      break;
    case 'Enter': case 'o':
      if (S.view === 'alerts' && id) location.hash = '#/event/' + id;
      break;
    case 'Escape':
      if (S.view === 'event') location.hash = '#/alerts';
      break;
    case 'a': if (id) ack(id).then(() => (S.view === 'alerts' ? renderAlerts() : renderEvent(id))); break;
    case 'c': if (id) qualify(id, 'confirmed', null, $('#note') ? $('#note').value : ''); break;
    case 'n': if (id) qualify(id, 'not_relevant', null, $('#note') ? $('#note').value : ''); break;
    case 'f': if (id) { S.reasonMode = true; toast(t('choose_reason')); } break;
    case '?': showHelp(); break;
    default: return;
  }
});

/* ---- cameras and scenes ---- */
function sceneSvg(scene, w, h, extra) {
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' });
  const pts = (p) => p.map((q) => q.join(',')).join(' ');
  const stroke = Math.max(2, w / 300);
  for (const m of (scene.masks && scene.masks.privacy) || []) svg.append(el('polygon', { points: pts(m), class: 'privacy' }));
  for (const m of (scene.masks && scene.masks.ignore) || []) svg.append(el('polygon', { points: pts(m), class: 'ignore', 'stroke-width': stroke }));
  for (const f of (scene.fixtures || []).concat(scene.decision_fixtures || [])) svg.append(el('polygon', { points: pts(f.polygon), class: 'fixture', 'stroke-width': stroke }));
  (scene.zones || []).forEach((z, i) => {
    const g = el('g', { 'data-kind': 'zone', 'data-index': i });
    g.append(el('polygon', { points: pts(z.polygon), class: 'zone-' + (z.kind || 'watch') + (extra && extra.sel === 'zone' + i ? ' sel' : ''), 'stroke-width': stroke }));
    const cx = z.polygon.reduce((a, p) => a + p[0], 0) / z.polygon.length, cy = z.polygon.reduce((a, p) => a + p[1], 0) / z.polygon.length;
    g.append(el('text', { x: cx, y: cy, 'font-size': w / 40, 'text-anchor': 'middle' }, z.name));
    if (z.direction) g.append(arrow(cx, cy + w / 30, cx + z.direction[0] * w / 12, cy + w / 30 + z.direction[1] * w / 12, stroke));
    svg.append(g);
  });
  (scene.lines || []).forEach((l, i) => {
    const [a, b] = l.points;
    svg.append(el('line', { x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: 'line' + (extra && extra.sel === 'line' + i ? ' sel' : ''), 'stroke-width': stroke * 1.5 }));
    if (l.forbidden && l.forbidden !== 'none') {
      /* the forbidden way: "left" as seen from a to b */
      const mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2, dx = b[0] - a[0], dy = b[1] - a[1], n = Math.hypot(dx, dy) || 1;
      const lx = dy / n, ly = -dx / n, len = w / 20;
      if (l.forbidden === 'left_to_right' || l.forbidden === 'both') svg.append(arrow(mx + lx * len, my + ly * len, mx - lx * len, my - ly * len, stroke));
      if (l.forbidden === 'right_to_left' || l.forbidden === 'both') svg.append(arrow(mx - lx * len, my - ly * len, mx + lx * len, my + ly * len, stroke));
    }
    svg.append(el('text', { x: a[0], y: a[1] - 6, 'font-size': w / 45 }, l.name));
  });
  return svg;
}
function arrow(x1, y1, x2, y2, stroke) {
  const g = el('g', { class: 'arrow' });
  const a = Math.atan2(y2 - y1, x2 - x1), h = stroke * 5;
  g.append(el('line', { x1, y1, x2, y2, 'stroke-width': stroke * 1.5 }));
  g.append(el('polygon', { points: `${x2},${y2} ${x2 - h * Math.cos(a - 0.4)},${y2 - h * Math.sin(a - 0.4)} ${x2 - h * Math.cos(a + 0.4)},${y2 - h * Math.sin(a + 0.4)}` }));
  return g;
}
async function loadCameras() { S.cameras = await apiJson('GET', '/api/cameras'); }
async function renderCameras() {
  S.view = 'cameras';
  await loadCameras();
  const main = $('#main');
  main.textContent = '';
  main.append(el('h1', {}, t('cameras')));
  const grid = el('div', { class: 'cams' });
  main.append(grid);
  for (const c of S.cameras) {
    const card = el('section', { class: 'cam panel', id: 'cam-' + c.name, 'aria-label': c.name });
    card.append(el('h2', {}, c.name),
      el('p', {}, el('span', { class: 'status-' + c.status }, c.status), ' · ', c.message),
      el('p', { class: 'muted' }, `${Number(c.fps).toFixed(1)} ${t('fps')} · ${c.frames} ${t('frames')} · ${c.dropped} ${t('dropped')}`));
    if (can('still') && c.width) {
      const wrap = el('div', { class: 'shot still' });
      const img = el('img', { src: `/api/cameras/${c.name}/still?ts=${Date.now()}`, alt: c.name });
      img.onerror = () => { img.alt = c.status; };
      wrap.append(img);
      try {
        const sc = await apiJson('GET', `/api/cameras/${c.name}/scene.json`);
        wrap.append(sceneSvg(sc, c.width, c.height));
      } catch (e) { /* no scene drawn */ }
      card.append(wrap);
    }
    if (can('counts')) {
      const box = el('div', { class: 'counts', 'data-camera': c.name });
      card.append(box);
      drawCounts(box, c.name);
    }
    if (can('scene_edit')) card.append(el('p', {}, el('a', { href: '#/scene/' + c.name, class: 'edit' }, t('edit_scene'))));
    grid.append(card);
  }
  let tick = 0;
  clearInterval(S.timer);
  S.timer = setInterval(() => {
    if (S.view !== 'cameras') return;
    for (const img of document.querySelectorAll('.still img')) img.src = img.src.replace(/ts=\d+/, 'ts=' + Date.now());
    if (++tick % 5 === 0) for (const box of document.querySelectorAll('.counts')) drawCounts(box, box.dataset.camera);
  }, 2000);
}
/* The camera's count series (density stage): one line per zone over the last samples, in
 * persons per m² where the scene is calibrated (with the warning level), else in people. */
async function drawCounts(box, name, query) {
  let rows;
  try { rows = await apiJson('GET', `/api/cameras/${encodeURIComponent(name)}/counts${query || '?limit=720'}`); } catch (e) { return; }
  box.textContent = '';
  if (!rows.length) { box.append(el('p', { class: 'muted' }, t('no_counts'))); return; }
  const dens = rows.every((r) => r.density !== null);
  const val = (r) => (dens ? r.density : r.count);
  const zones = [...new Set(rows.map((r) => r.zone))];
  const t0 = Date.parse(rows[0].wall), t1 = Math.max(t0 + 1, Date.parse(rows[rows.length - 1].wall));
  const max = Math.max(dens ? 5 : 1, ...rows.map(val)) * 1.1;
  const w = 320, h = 90, left = 30;
  const svg = el('svg', { class: 'chart countchart', viewBox: `0 0 ${w} ${h + 18}`, role: 'img', 'aria-label': t('people') });
  const y = (v) => 4 + h - (h * v) / max, x = (ts) => left + ((w - left - 4) * (ts - t0)) / (t1 - t0);
  svg.append(el('line', { x1: left, x2: w, y1: y(0), y2: y(0), stroke: '#d5d9e0' }), el('text', { x: 2, y: y(0) }, '0'),
    el('text', { x: 2, y: y(max / 1.1) + 8 }, (max / 1.1).toFixed(dens ? 1 : 0)));
  if (dens) svg.append(el('line', { x1: left, x2: w, y1: y(4), y2: y(4), stroke: '#8a5a00', 'stroke-dasharray': '4 3' }));
  const colours = ['#1f4e9c', '#b3261e', '#1b6e2e', '#8a5a00', '#6b3fa0'];
  zones.forEach((z, i) => {
    const pts = rows.filter((r) => r.zone === z).map((r) => `${x(Date.parse(r.wall)).toFixed(1)},${y(val(r)).toFixed(1)}`);
    svg.append(el('polyline', { points: pts.join(' '), fill: 'none', stroke: colours[i % colours.length], 'stroke-width': 1.5 }));
  });
  const last = zones.map((z) => {
    const r = rows.filter((q) => q.zone === z).pop();
    return `${z || t('whole_picture')}: ${dens ? r.density.toFixed(2) + ' ' + t('per_m2') : Math.round(r.count)}`;
  });
  svg.append(el('text', { x: left, y: h + 16 }, `${t('people')} — ${last.join(' · ')}`));
  box.append(svg);
}

/* the scene editor */
async function renderEditor(name) {
  S.view = 'scene';
  await loadCameras();
  const cam = camOf(name);
  const scene = await apiJson('GET', `/api/cameras/${name}/scene.json`);
  delete scene.decision_fixtures;
  const options = await apiJson('GET', '/api/options');
  const st = { scene, sel: null, drawing: null, drag: null, dirFor: null };
  const W = cam.width || scene.size && scene.size[0] || 640, H = cam.height || scene.size && scene.size[1] || 480;
  const main = $('#main');
  main.textContent = '';
  const canvas = el('div', { class: 'shot canvas', id: 'scene-canvas' });
  const img = el('img', { src: `/api/cameras/${name}/still?ts=${Date.now()}`, alt: name });
  canvas.append(img);
  const side = el('div', {});
  const msg = el('p', { class: 'error', role: 'alert', id: 'scene-error' });
  const toImage = (e) => {
    const r = canvas.getBoundingClientRect();
    return [Math.round((e.clientX - r.left) / r.width * W), Math.round((e.clientY - r.top) / r.height * H)];
  };
  function redraw() {
    for (const s of canvas.querySelectorAll('svg')) s.remove();
    const svg = sceneSvg(st.scene, W, H, { sel: st.sel });
    if (st.drawing && st.drawing.pts.length) {
      const pts = st.drawing.pts.map((p) => p.join(',')).join(' ');
      svg.append(st.drawing.kind === 'line' ? el('polyline', { points: pts, class: 'drawing', 'stroke-width': 3 }) : el('polygon', { points: pts, class: 'drawing', 'stroke-width': 3 }));
    }
    /* handles of the selected item */
    const item = selected();
    if (item) {
      const list = item.polygon || item.points;
      list.forEach((p, i) => svg.append(el('circle', { cx: p[0], cy: p[1], r: W / 120, class: 'arrow', 'data-handle': i })));
    }
    canvas.append(svg);
    renderSide();
  }
  function selected() {
    if (!st.sel) return null;
    const m = /^(zone|line|fixture)(\d+)$/.exec(st.sel);
    const arr = { zone: st.scene.zones, line: st.scene.lines, fixture: st.scene.fixtures }[m[1]] || [];
    return arr[Number(m[2])];
  }
  function finishDrawing() {
    const d = st.drawing;
    st.drawing = null;
    if (!d) return;
    if (d.kind === 'line') {
      if (d.pts.length < 2) return;
      st.scene.lines = st.scene.lines || [];
      st.scene.lines.push({ name: uniqueName('line', st.scene.lines), points: d.pts.slice(0, 2), forbidden: 'none' });
      st.sel = 'line' + (st.scene.lines.length - 1);
    } else {
      if (d.pts.length < 3) return;
      const key = d.kind === 'zone' ? 'zones' : 'fixtures';
      st.scene[key] = st.scene[key] || [];
      const item = { name: uniqueName(d.kind, st.scene[key]), polygon: d.pts };
      if (d.kind === 'zone') item.kind = 'forbidden';
      st.scene[key].push(item);
      st.sel = d.kind + (st.scene[key].length - 1);
    }
    redraw();
  }
  function uniqueName(base, arr) {
    for (let i = 1; ; i++) if (!arr.some((x) => x.name === base + '-' + i)) return base + '-' + i;
  }
  canvas.addEventListener('mousedown', (e) => {
    const h = e.target.getAttribute && e.target.getAttribute('data-handle');
    if (h !== null && h !== undefined && !st.drawing) { st.drag = Number(h); e.preventDefault(); }
  });
  window.onmousemove = (e) => {
    if (st.drag === null || S.view !== 'scene') return;
    const item = selected();
    (item.polygon || item.points)[st.drag] = toImage(e);
    redraw();
  };
  window.onmouseup = () => { st.drag = null; };
  canvas.addEventListener('click', (e) => {
    if (st.drag !== null) return;
    const p = toImage(e);
    if (st.dirFor) {
      st.dirFor.pts.push(p);
      if (st.dirFor.pts.length === 2) {
        const [a, b] = st.dirFor.pts, n = Math.hypot(b[0] - a[0], b[1] - a[1]);
        if (n > 0) st.dirFor.zone.direction = [+((b[0] - a[0]) / n).toFixed(3), +((b[1] - a[1]) / n).toFixed(3)];
        st.dirFor = null;
        redraw();
      }
      return;
    }
    if (!st.drawing) return;
    st.drawing.pts.push(p);
    if (st.drawing.kind === 'line' && st.drawing.pts.length === 2) finishDrawing(); else redraw();
  });
  canvas.addEventListener('dblclick', (e) => { e.preventDefault(); finishDrawing(); });
  document.onkeydown = (e) => {
    if (S.view !== 'scene') return;
    const tag = (e.target.tagName || '').toLowerCase();
    if (['input', 'textarea', 'select'].includes(tag)) return;
    if (e.key === 'Enter' && st.drawing) { e.preventDefault(); finishDrawing(); }
    if (e.key === 'Escape') { st.drawing = null; st.dirFor = null; redraw(); }
  };
  const startDraw = (kind) => { st.drawing = { kind, pts: [] }; st.sel = null; msg.textContent = ''; toast(t('draw_hint')); redraw(); };

  function renderSide() {
    side.textContent = '';
    const tools = el('div', { class: 'row' },
      el('button', { type: 'button', id: 'new-zone', onclick: () => startDraw('zone') }, t('new_zone')),
      el('button', { type: 'button', id: 'new-line', class: 'secondary', onclick: () => startDraw('line') }, t('new_line')),
      el('button', { type: 'button', id: 'new-fixture', class: 'secondary', onclick: () => startDraw('fixture') }, t('new_fixture')));
    if (st.drawing) tools.append(el('button', { type: 'button', id: 'finish', onclick: finishDrawing }, '✓'));
    const items = el('ul', { class: 'items' });
    const entry = (key, arr, label) => (arr || []).forEach((x, i) => items.append(el('li', {},
      el('button', { type: 'button', class: st.sel === key + i ? '' : 'secondary', onclick: () => { st.sel = key + i; redraw(); } }, `${label}: ${x.name}`))));
    entry('zone', st.scene.zones, t('zone'));
    entry('line', st.scene.lines, 'Line');
    entry('fixture', st.scene.fixtures, t('fixture'));
    side.append(el('div', { class: 'panel' }, tools, el('p', { class: 'muted' }, t('draw_hint')), items));
    const item = selected();
    if (item) side.append(props(item));
    side.append(optionsPanel());
    side.append(el('div', { class: 'row' }, el('button', { type: 'button', id: 'save-scene', onclick: save }, t('save')),
      el('a', { href: '#/cameras' }, t('cancel'))), msg);
  }
  function props(item) {
    const kind = st.sel.replace(/\d+$/, '');
    const box = el('div', { class: 'panel' });
    const name = el('input', { value: item.name, id: 'item-name', onchange: (e) => { item.name = e.target.value.trim(); redraw(); } });
    box.append(el('label', {}, t('name'), name));
    if (kind === 'zone') {
      box.append(el('label', {}, t('kind'), el('select', { id: 'zone-kind', onchange: (e) => { item.kind = e.target.value; redraw(); } },
        ['forbidden', 'pedestrian_only', 'watch'].map((k) => el('option', { value: k, selected: item.kind === k }, t(k === 'forbidden' ? 'forbidden_k' : k))))));
      box.append(el('div', { class: 'row' },
        el('button', { type: 'button', class: 'secondary', onclick: () => { st.dirFor = { zone: item, pts: [] }; toast(t('set_direction')); } }, t('set_direction')),
        item.direction ? el('button', { type: 'button', class: 'secondary', onclick: () => { delete item.direction; delete item.tolerance; redraw(); } }, t('direction') + ': ' + t('none')) : null));
      if (item.direction) box.append(el('label', {}, t('tolerance'), el('input', { type: 'number', min: 0, max: 180, value: item.tolerance || 45, onchange: (e) => { item.tolerance = Number(e.target.value); } })));
    }
    if (kind === 'line') {
      box.append(el('label', {}, t('forbidden'), el('select', { onchange: (e) => { item.forbidden = e.target.value; redraw(); } },
        ['none', 'left_to_right', 'right_to_left', 'both'].map((k) => el('option', { value: k, selected: item.forbidden === k }, t(k))))));
    }
    box.append(el('button', { type: 'button', class: 'danger', onclick: () => {
      const arr = { zone: st.scene.zones, line: st.scene.lines, fixture: st.scene.fixtures }[kind];
      arr.splice(Number(st.sel.replace(/^\D+/, '')), 1);
      st.sel = null;
      redraw();
    } }, t('delete')));
    return box;
  }
  function optionsPanel() {
    const box = el('details', { class: 'panel' }, el('summary', {}, t('options')));
    const list = el('div', { class: 'opts' });
    st.scene.settings = st.scene.settings || {};
    for (const g of options.filter((x) => ['intrusion', 'wrong_way', 'abandoned_object'].includes(x.group))) {
      list.append(el('h2', {}, g.group));
      for (const o of g.options) {
        const key = g.group + '.' + o.name;
        const input = el('input', { value: st.scene.settings[key] !== undefined ? st.scene.settings[key] : '', placeholder: o.default, title: `${o.help} [${o.range}${o.unit ? ' ' + o.unit : ''}]` + (o.live ? '' : ' — restart'),
          onchange: (e) => { if (e.target.value === '') delete st.scene.settings[key]; else st.scene.settings[key] = e.target.value; } });
        list.append(el('label', { title: o.help }, `${o.name}${o.unit ? ' (' + o.unit + ')' : ''}`, input));
      }
    }
    box.append(list);
    return box;
  }
  async function save() {
    msg.textContent = '';
    const s = JSON.parse(JSON.stringify(st.scene));
    if (s.settings && !Object.keys(s.settings).length) delete s.settings;
    for (const k of ['zones', 'lines', 'fixtures']) if (s[k] && !s[k].length) delete s[k];
    const r = await api('PUT', `/api/cameras/${name}/scene`, JSON.stringify(s, null, 1), true);
    const j = await r.json().catch(() => ({}));
    if (!r.ok) { msg.textContent = j.error || 'HTTP ' + r.status; return; }
    toast(j.applied === 'live' ? t('saved_live') : t('saved') + (j.why ? ' (' + j.why + ')' : ''));
    location.hash = '#/cameras';
  }
  main.append(el('h1', {}, `${t('edit_scene')}: ${name}`), el('div', { class: 'editor' }, canvas, side));
  img.onload = redraw;
  redraw();
}

/* ---- statistics ---- */
async function renderStats() {
  S.view = 'stats';
  const main = $('#main');
  main.textContent = '';
  const day = (d) => d.toISOString().slice(0, 10);
  const from = el('input', { type: 'date', id: 'stats-from', value: day(new Date(Date.now() - 7 * 86400e3)) });
  const to = el('input', { type: 'date', id: 'stats-to', value: day(new Date(Date.now() + 86400e3)) });
  const out = el('div', {});
  const q = () => `?from=${from.value}T00:00:00Z&to=${to.value}T00:00:00Z`;
  async function show() {
    out.textContent = '';
    const rows = await apiJson('GET', '/api/stats' + q());
    if (!rows.length) out.append(el('p', { class: 'muted' }, t('no_data')));
    else out.append(chart(rows));
    const num = (v, d) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
    if (rows.length) out.append(el('table', {}, el('thead', {}, el('tr', {}, [t('camera'), t('type'), t('alerts_n'), t('confirmed'), t('false_alert'), t('not_relevant'),
      t('confirmed_rate'), t('camera_hours'), t('fa_per_hour'), t('median_decide')].map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, r.camera), el('td', {}, typeName(r.type)),
      el('td', { class: 'num' }, r.alerts), el('td', { class: 'num' }, r.confirmed), el('td', { class: 'num' }, r.false_alerts),
      el('td', { class: 'num' }, r.not_relevant), el('td', { class: 'num' }, r.confirmed_rate === null ? '—' : Math.round(100 * r.confirmed_rate) + ' %'),
      el('td', { class: 'num' }, r.camera_hours > 0 && r.camera_hours < 1 ? Number(r.camera_hours).toPrecision(2) : num(r.camera_hours, 1)), el('td', { class: 'num' }, num(r.false_alerts_per_camera_hour, 2)),
      el('td', { class: 'num' }, num(r.median_decide_s, 1)))))));
    /* each camera's people count over the period (density stage), with its audited CSV */
    await loadCameras();
    for (const c of S.cameras) {
      const box = el('div', { class: 'counts', 'data-camera': c.name });
      out.append(el('h2', {}, `${t('people')} — ${c.name}`), box,
        el('p', {}, el('button', { type: 'button', class: 'secondary', onclick: () => download(`/api/cameras/${encodeURIComponent(c.name)}/counts.csv${q()}`, `vigie-counts-${c.name}.csv`) }, t('export_counts'))));
      drawCounts(box, c.name, q() + '&limit=5000');
    }
  }
  async function download(path, name) {
    const r = await api('GET', path);
    const a = el('a', { href: URL.createObjectURL(await r.blob()), download: name });
    document.body.append(a);
    a.click();
    a.remove();
  }
  const csv = () => download('/api/stats.csv' + q(), 'vigie-stats.csv');
  main.append(el('h1', {}, t('stats')), el('div', { class: 'row panel' }, el('label', {}, t('from'), from), el('label', {}, t('to'), to),
    el('button', { type: 'button', onclick: show }, t('show')), el('button', { type: 'button', class: 'secondary', id: 'csv', onclick: csv }, t('export_csv'))), out);
  show();
}
function chart(rows) {
  /* one stacked bar per camera and type: confirmed, false alerts, not relevant, undecided */
  const bw = 46, gap = 26, h = 200, top = 10, left = 40, w = Math.max(left + rows.length * (bw + gap) + 20, left + 4 * 130 + 40);
  const max = Math.max(1, ...rows.map((r) => r.alerts));
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${w} ${h + 70}`, width: Math.min(w * 1.4, 1200), role: 'img', 'aria-label': t('alerts_n') });
  const colours = [['confirmed', '#b3261e'], ['false_alerts', '#1b6e2e'], ['not_relevant', '#8a5a00'], ['undecided', '#9aa3b5']];
  for (let k = 0; k <= 4; k++) {
    const y = top + h - (h * k) / 4;
    svg.append(el('line', { x1: left, x2: w, y1: y, y2: y, stroke: '#d5d9e0' }), el('text', { x: 4, y: y + 4 }, Math.round((max * k) / 4)));
  }
  rows.forEach((r, i) => {
    let y = top + h;
    const x = left + 10 + i * (bw + gap);
    const vals = { confirmed: r.confirmed, false_alerts: r.false_alerts, not_relevant: r.not_relevant };
    vals.undecided = r.alerts - r.confirmed - r.false_alerts - r.not_relevant;
    for (const [k, c] of colours) {
      const bh = (h * vals[k]) / max;
      if (bh > 0) svg.append(el('rect', { x, y: y - bh, width: bw, height: bh, fill: c }, el('title', {}, `${k}: ${vals[k]}`)));
      y -= bh;
    }
    svg.append(el('text', { x, y: top + h + 16 }, r.camera), el('text', { x, y: top + h + 32 }, r.type.slice(0, 14)));
  });
  colours.forEach(([k, c], i) => svg.append(el('rect', { x: left + i * 130, y: h + 50, width: 12, height: 12, fill: c }),
    el('text', { x: left + 16 + i * 130, y: h + 61 }, t(k === 'false_alerts' ? 'false_alert' : k))));
  return svg;
}

/* ---- audit ---- */
async function renderAudit() {
  S.view = 'audit';
  const main = $('#main');
  main.textContent = '';
  const actor = el('input', { id: 'audit-actor' }), action = el('input', { id: 'audit-action' });
  const out = el('div', {}), result = el('p', { id: 'verify-result', role: 'status' });
  async function show() {
    let q = '/api/audit?limit=500';
    if (actor.value) q += '&actor=' + encodeURIComponent(actor.value);
    if (action.value) q += '&action=' + encodeURIComponent(action.value);
    const rows = await apiJson('GET', q);
    out.textContent = '';
    out.append(el('table', { id: 'audit-table' }, el('thead', {}, el('tr', {}, ['#', t('time'), t('actor'), t('action'), t('target'), t('details')].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, el('td', { class: 'num' }, r.seq), el('td', {}, fmtTime(r.at)), el('td', {}, r.actor),
        el('td', {}, r.action), el('td', {}, r.target), el('td', {}, el('code', {}, JSON.stringify(r.details))))))));
  }
  async function verify() {
    const v = await apiJson('GET', '/api/audit/verify');
    result.className = v.ok ? 'verify-ok' : 'verify-bad';
    result.textContent = (v.ok ? '✓ ' + t('verified') : '✗ ' + t('broken')) + ' — ' + v.what;
  }
  main.append(el('h1', {}, t('audit')),
    el('form', { class: 'row panel', onsubmit: (e) => { e.preventDefault(); show(); } },
      el('label', {}, t('actor'), actor), el('label', {}, t('action'), action), el('button', { type: 'submit' }, t('filter')),
      el('button', { type: 'button', class: 'secondary', id: 'verify', onclick: verify }, t('verify'))), result, out);
  show();
}

/* ---- users ---- */
async function renderUsers() {
  S.view = 'users';
  const main = $('#main');
  main.textContent = '';
  const rows = await apiJson('GET', '/api/users');
  const name = el('input', { required: true }), pw = el('input', { type: 'password', required: true, minlength: 10 });
  const role = el('select', {}, ['operator', 'supervisor', 'auditor', 'admin'].map((r) => el('option', { value: r }, r)));
  main.append(el('h1', {}, t('users')),
    el('table', {}, el('tbody', {}, rows.map((u) => el('tr', {}, el('td', {}, u.name), el('td', {}, u.role), el('td', {}, fmtTime(u.created)),
      el('td', {}, u.disabled ? t('disabled') : el('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await apiJson('POST', `/api/users/${u.name}/disable`, {}); renderUsers(); } catch (e) { toast(e.message, true); } } }, t('disable'))))))),
    el('form', { class: 'row panel', onsubmit: async (e) => {
      e.preventDefault();
      try { await apiJson('POST', '/api/users', { name: name.value, role: role.value, password: pw.value }); renderUsers(); } catch (err) { toast(err.message, true); }
    } }, el('label', {}, t('name'), name), el('label', {}, t('role'), role), el('label', {}, t('password'), pw), el('button', { type: 'submit' }, t('add_user'))));
}

/* ---- routing ---- */
async function route() {
  if (!S.me) return;
  clearInterval(S.timer);
  document.onkeydown = null;
  const [, view, arg] = location.hash.split('/');
  try {
    if (view === 'event' && can('alerts')) await renderEvent(Number(arg));
    else if (view === 'cameras') await renderCameras();
    else if (view === 'scene' && can('scene_edit')) await renderEditor(decodeURIComponent(arg));
    else if (view === 'stats' && can('stats')) await renderStats();
    else if (view === 'audit' && can('audit')) await renderAudit();
    else if (view === 'users' && can('users')) await renderUsers();
    else if (can('alerts')) { S.view = 'alerts'; $('#main').textContent = ''; renderAlerts(); }
    else location.hash = can('audit') ? '#/audit' : can('users') ? '#/users' : '#/cameras';
  } catch (e) {
    if (e.message !== '401') toast(e.message, true);
  }
  chrome();
  $('#main').focus({ preventScroll: true });
}
async function start() {
  chrome();
  await loadCameras().catch(() => {});
  if (can('alerts')) await loadEvents().catch((e) => toast(e.message, true));
  if (!location.hash || location.hash === '#/') location.hash = can('alerts') ? '#/alerts' : '';
  await route();
  clearInterval(S.tick);
  S.tick = setInterval(() => { if (S.view === 'alerts') overdueTick(); liveStatus(); }, 1000);
}

window.addEventListener('hashchange', route);
$('#logout').addEventListener('click', async () => { await api('POST', '/api/logout', {}).catch(() => {}); showLogin(); });
$('#lang').addEventListener('click', () => { S.lang = S.lang === 'fr' ? 'en' : 'fr'; localStorage.setItem('vigie.lang', S.lang); route(); });
$('#sound').addEventListener('click', () => { S.sound = !S.sound; localStorage.setItem('vigie.sound', S.sound ? 'on' : 'off'); chrome(); });
(async () => {
  const r = await fetch('/api/me', { credentials: 'same-origin' });
  if (r.ok) { S.me = await r.json(); start(); } else showLogin();
})();
