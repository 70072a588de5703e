/*
 * The server's API: every request carries the session cookie and, for anything but GET, the
 * CSRF token the login gave. A 401 anywhere but the login itself means the session is gone: the
 * bus says 'logout' and the caller gets an Error('401').
 */
import { S, bus } from './state.js';

export async function api(method, path, body, raw) {
  const opt = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = S.me ? S.me.csrf : '';
  if (body !== undefined) {
    opt.headers['Content-Type'] = raw ? 'application/yaml' : 'application/json';
    opt.body = raw ? body : JSON.stringify(body);
  }
  const r = await fetch(path, opt);
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
