/* The audit trail (#/audit, auditors): rows filtered by actor and action, and the verification
 * of its hash chain. */
import { S } from '../state.js';
import { apiJson } from '../api.js';
import { $, el, fmtTime } from '../dom.js';
import { t } from '../i18n.js';

export async function enter() {
  S.view = 'audit';
  const main = $('#main');
  main.textContent = '';
  const actor = el('input', { id: 'audit-actor' }),
    action = el('input', { id: 'audit-action' });
  const out = el('div', {}),
    result = el('p', { id: 'verify-result', role: 'status' });
  async function show() {
    let q = '/api/audit?limit=500';
    if (actor.value) q += '&actor=' + encodeURIComponent(actor.value);
    if (action.value) q += '&action=' + encodeURIComponent(action.value);
    const rows = await apiJson('GET', q);
    out.textContent = '';
    out.append(
      el(
        'table',
        { id: 'audit-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['#', t('time'), t('actor'), t('action'), t('target'), t('details')].map((h) =>
              el('th', {}, h),
            ),
          ),
        ),
        el(
          'tbody',
          {},
          rows.map((r) =>
            el(
              'tr',
              {},
              el('td', { class: 'num' }, r.seq),
              el('td', {}, fmtTime(r.at)),
              el('td', {}, r.actor),
              el('td', {}, r.action),
              el('td', {}, r.target),
              el('td', {}, el('code', {}, JSON.stringify(r.details))),
            ),
          ),
        ),
      ),
    );
  }
  async function verify() {
    const v = await apiJson('GET', '/api/audit/verify');
    result.className = v.ok ? 'verify-ok' : 'verify-bad';
    result.textContent = (v.ok ? '✓ ' + t('verified') : '✗ ' + t('broken')) + ' — ' + v.what;
  }
  main.append(
    el('h1', {}, t('audit')),
    el(
      'form',
      {
        class: 'row panel',
        onsubmit: (e) => {
          e.preventDefault();
          show();
        },
      },
      el('label', {}, t('actor'), actor),
      el('label', {}, t('action'), action),
      el('button', { type: 'submit' }, t('filter')),
      el(
        'button',
        { type: 'button', class: 'secondary', id: 'verify', onclick: verify },
        t('verify'),
      ),
    ),
    result,
    out,
  );
  show();
}
