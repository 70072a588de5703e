/* The audit trail (#/audit, auditors): rows filtered by the beginning of the actor and of the
 * action and by period, 200 at a time with older pages on demand, and the verification of its
 * hash chain. */
import { S } from '../state.js';
import { apiJson } from '../api.js';
import { $, el, fmtTime } from '../dom.js';
import { t } from '../i18n.js';

export async function enter() {
  S.view = 'audit';
  const main = $('#main');
  main.textContent = '';
  const actor = el('input', { id: 'audit-actor' }),
    action = el('input', { id: 'audit-action' }),
    from = el('input', { id: 'audit-from', type: 'datetime-local' }),
    to = el('input', { id: 'audit-to', type: 'datetime-local' });
  const out = el('div', {}),
    result = el('p', { id: 'verify-result', role: 'status' });
  const PAGE = 200;
  /* a local date and time from the form as ISO 8601 UTC, or '' */
  const iso = (v) => (v ? new Date(v).toISOString() : '');
  const row = (r) =>
    el(
      'tr',
      {},
      el('td', { class: 'num' }, r.seq),
      el('td', {}, fmtTime(r.at)),
      el('td', {}, r.actor),
      el('td', {}, r.action),
      el('td', {}, r.target),
      el('td', {}, el('code', {}, JSON.stringify(r.details))),
    );
  /* the rows matching the form, newest first, PAGE at a time: @before the oldest shown */
  async function show(before) {
    let q = '/api/audit?limit=' + PAGE;
    if (actor.value) q += '&actor=' + encodeURIComponent(actor.value);
    if (action.value) q += '&action=' + encodeURIComponent(action.value);
    if (from.value) q += '&from=' + encodeURIComponent(iso(from.value));
    if (to.value) q += '&to=' + encodeURIComponent(iso(to.value));
    if (before) q += '&before=' + before;
    const rows = await apiJson('GET', q);
    let body = $('#audit-table tbody');
    if (!before || !body) {
      out.textContent = '';
      body = el('tbody', {});
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
          body,
        ),
      );
    }
    body.append(...rows.map(row));
    const old = $('#audit-older');
    if (old) old.remove();
    if (rows.length === PAGE)
      out.append(
        el(
          'button',
          {
            type: 'button',
            id: 'audit-older',
            class: 'secondary',
            onclick: () => show(rows[rows.length - 1].seq),
          },
          t('older_rows'),
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
      el('label', {}, t('from'), from),
      el('label', {}, t('to'), to),
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
