/* The login form. A successful login says 'login' on the bus (the app starts from there). */
import { S, bus } from '../state.js';
import { api } from '../api.js';
import { $, el } from '../dom.js';
import { t } from '../i18n.js';
import { stopStream } from '../feed.js';
import { chrome } from '../chrome.js';

export function showLogin(msg) {
  stopStream();
  S.me = null;
  chrome();
  const main = $('#main');
  main.textContent = '';
  const err = el('p', { class: 'error', role: 'alert' }, msg || '');
  const form = el(
    'form',
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const r = await api('POST', '/api/login', {
          user: form.user.value,
          password: form.password.value,
        });
        const j = await r.json().catch(() => ({}));
        if (!r.ok) {
          err.textContent = r.status === 401 ? t('wrong_login') : j.error || r.status;
          return;
        }
        S.me = j;
        bus.dispatchEvent(new Event('login'));
      },
    },
    el(
      'label',
      {},
      t('user'),
      el('input', { name: 'user', id: 'login-user', autocomplete: 'username', required: true }),
    ),
    el(
      'label',
      {},
      t('password'),
      el('input', {
        name: 'password',
        id: 'login-password',
        type: 'password',
        autocomplete: 'current-password',
        required: true,
      }),
    ),
    el('button', { type: 'submit', id: 'login-submit' }, t('login')),
    err,
  );
  main.append(el('section', { class: 'login panel' }, el('h1', {}, 'vigie'), form));
  $('#login-user').focus();
}
