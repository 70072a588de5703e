/*
 * The server's API: every request carries the session cookie and, for anything but GET, the
 * CSRF token the login gave. A 401 anywhere but the login itself means the session is gone: the
 * bus says 'logout' and the caller gets an Error('401'). No answer at all (the server is down):
 * the banner shows and the caller gets an Error saying so.
 */
import { S, bus } from './state.js';
import { t } from './i18n.js';

/* Whether the server answers: a failed request or a dropped live stream says no (the banner),
 * any answer or a reopened stream says yes. */
export function setOnline(up) {
  const was = S.offlineSince === null;
  if (up === was) return;
  S.offlineSince = up ? null : new Date();
  bus.dispatchEvent(new Event('live'));
}

export async function api(method, path, body, raw) {
  const opt = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = S.me ? S.me.csrf : '';
  if (body !== undefined) {
    opt.headers['Content-Type'] = raw ? 'application/yaml' : 'application/json';
    opt.body = raw ? body : JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, opt);
  } catch (e) {
    /* no answer at all: said plainly, never silently dropped; nothing is queued to be sent
     * later behind the operator's back */
    setOnline(false);
    throw new Error(method === 'GET' ? t('offline_read') : t('offline_action'));
  }
  setOnline(true);
  if (r.status === 401 && path !== '/api/login' && path !== '/api/me') {
    S.me = null;
    bus.dispatchEvent(new CustomEvent('logout', { detail: { expired: true } }));
    throw new Error('401');
  }
  return r;
}

export async function apiJson(method, path, body) {
  const r = await api(method, path, body);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || 'HTTP ' + r.status);
  return j;
}

/* The error text of a failed answer. */
export async function errorOf(r) {
  return (await r.json().catch(() => ({}))).error || 'HTTP ' + r.status;
}

export async function loadCameras() {
  S.cameras = await apiJson('GET', '/api/cameras');
}
