/* What the queue and its keys share: the rows (incidents), the selection, the overdue highlight,
 * the keys' help. */
import { S, REASONS, rankOf } from '../state.js';
import { $, el } from '../dom.js';
import { t } from '../i18n.js';

export const filtering = () => !!(S.filter.camera || S.filter.type || S.filter.undecided);

/* The queue's rows: one per incident, its newest alert (or one per alert, ungrouped); with
 * "priority first", the rows still to decide by priority (highest first), then the others, each
 * newest first. */
export const incidentOf = (id) => (S.grouped ? S.incident.get(id) : null);
export function heads() {
  const f = S.filter;
  const shown = (id) => {
    const ev = S.events.get(id);
    if ((f.camera && ev.camera !== f.camera) || (f.type && ev.type !== f.type)) return false;
    if (!f.undecided) return true;
    const inc = incidentOf(id);
    return inc && inc.ids.length > 1 ? inc.undecided > 0 : !ev.qualification;
  };
  let rows = !S.grouped
    ? S.order
    : S.order.filter((id) => {
        const inc = S.incident.get(id);
        return !inc || inc.head === id;
      });
  if (filtering()) rows = rows.filter(shown);
  if (!S.priority) return rows;
  const rank = (id) => {
    const ev = S.events.get(id),
      inc = incidentOf(id);
    const open = inc && inc.ids.length > 1 ? inc.undecided > 0 : !ev.qualification;
    return open ? rankOf(ev) : 0;
  };
  const ranked = rows.map((id, i) => [rank(id), i, id]);
  ranked.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return ranked.map((r) => r[2]);
}

export function overdueTick() {
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

/* Show the selection; move the keyboard focus to it only when the operator moved it (@focus:
 * j/k, a click), never because alerts arrived: the focus stays where the operator put it. */
export function markSelected(focus) {
  for (const li of document.querySelectorAll('.alert')) {
    const on = Number(li.dataset.id) === S.selected;
    li.classList.toggle('selected', on);
    if (on) li.setAttribute('aria-current', 'true');
    else li.removeAttribute('aria-current');
    if (on && focus) li.focus({ preventScroll: false });
  }
}

export function showHelp() {
  const rows = [
    ['j / ↓, k / ↑', 'k_next'],
    ['Enter', 'k_open'],
    ['Esc', 'k_back'],
    ['a', 'k_ack'],
    ['c', 'k_conf'],
    ['f, 1–5', 'k_false'],
    ['n', 'k_nr'],
    ['t', 'k_take'],
    ['?', 'k_help'],
  ];
  const dlg = el(
    'div',
    {
      class: 'dialog',
      role: 'dialog',
      'aria-modal': 'true',
      onclick: (e) => {
        if (e.target === dlg) dlg.remove();
      },
    },
    el(
      'div',
      { class: 'panel help' },
      el('h2', {}, t('keys')),
      el(
        'table',
        {},
        rows.map(([k, v]) => el('tr', {}, el('td', {}, el('kbd', {}, k)), el('td', {}, t(v)))),
      ),
      el('p', {}, REASONS.map((r, i) => `${i + 1}. ${t(r)}`).join(' · ')),
      el('button', { type: 'button', onclick: () => dlg.remove() }, t('ok')),
    ),
  );
  $('#dialog-host').append(dlg);
}
