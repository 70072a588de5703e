/*
 * vigie console: the page an operator works in all shift (docs/console.md). ES modules served as
 * they are (no build step, nothing fetched from outside): state, i18n, the API client, DOM
 * helpers, the live feed, the top bar, the router, and one module per view (views/).
 *
 * This module boots the page: the session (GET /api/me), the top bar's buttons, the app-wide
 * keys (Esc closes a dialog before a view sees it), the once-a-second tick (overdue alerts, the
 * stream's state), and what the bus says (login, logout, live).
 */
import { S, bus, can } from './state.js';
import { api, apiJson, loadCameras } from './api.js';
import { $, toast } from './dom.js';
import { t } from './i18n.js';
import { applyTheme, chrome, liveStatus } from './chrome.js';
import { loadEvents, stopStream } from './feed.js';
import { leave, route } from './router.js';
import { showLogin } from './views/login.js';
import { overdueTick } from './views/queue.js';

let tick = null;

async function start() {
  chrome();
  await loadCameras().catch(() => {});
  if (can('alerts')) {
    S.instructions = await apiJson('GET', '/api/instructions').catch(() => ({}));
    await loadEvents().catch((e) => toast(e.message, true));
  }
  if (!location.hash || location.hash === '#/') location.hash = can('alerts') ? '#/alerts' : '';
  await route();
  clearInterval(tick);
  tick = setInterval(() => {
    if (S.view === 'alerts') overdueTick();
    liveStatus();
  }, 1000);
}

function loggedOut(msg) {
  leave();
  stopStream();
  clearInterval(tick);
  S.view = null;
  showLogin(msg);
}

bus.addEventListener('login', start);
bus.addEventListener('logout', (e) => {
  if (e.detail && e.detail.expired) toast(t('logged_out'), true);
  loggedOut(e.detail && e.detail.expired ? t('logged_out') : '');
});
bus.addEventListener('live', liveStatus);
/* a shift note from a colleague: said at once, counted in the top bar until read */
bus.addEventListener('handover', (e) => {
  const n = S.handover.find((x) => x.id === e.detail.id);
  if (n && n.user !== S.me.user && S.view !== 'handover')
    toast(t('new_note_from').replace('%s', n.user));
  chrome();
});

/* A dialog takes the keys first: Esc closes it, and no view reacts. */
document.addEventListener('keydown', (e) => {
  if (!S.me || e.ctrlKey || e.metaKey || e.altKey) return;
  const dlg = $('.dialog');
  if (!dlg) return;
  if (e.key === 'Escape') dlg.remove();
  e.stopImmediatePropagation();
});

window.addEventListener('hashchange', route);
$('#logout').addEventListener('click', async () => {
  await api('POST', '/api/logout', {}).catch(() => {});
  loggedOut();
});
$('#lang').addEventListener('click', () => {
  S.lang = S.lang === 'fr' ? 'en' : 'fr';
  localStorage.setItem('vigie.lang', S.lang);
  route();
});
$('#theme').addEventListener('click', () => {
  S.theme = S.theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem('vigie.theme', S.theme);
  chrome();
});
$('#sound').addEventListener('click', () => {
  S.sound = !S.sound;
  localStorage.setItem('vigie.sound', S.sound ? 'on' : 'off');
  chrome();
});

applyTheme(); /* the login page too */
const r = await fetch('/api/me', { credentials: 'same-origin' });
if (r.ok) {
  S.me = await r.json();
  start();
} else showLogin();
