/*
 * The live queue (#/alerts): newest first, each alert with its picture, type, camera, zone, time,
 * score and where it stands (unacknowledged, acknowledged, qualified; ongoing or ended). Nodes
 * are kept across redraws (their pictures load once); an alert left unacknowledged longer than
 * the operator's delay is highlighted, and the page title counts them.
 */
import { S, bus } from '../state.js';
import { $, el, fmtTime, typeName } from '../dom.js';
import { t } from '../i18n.js';
import { shot } from './shot.js';
import { queueKeys } from './keys.js';
import { overdueTick, markSelected, showHelp } from './queue.js';

function alertNode(ev) {
  const li = el('li', { class: 'alert', id: 'alert-' + ev.id, 'data-id': ev.id, tabindex: '-1' });
  li.thumb = shot(ev, 'thumb');
  li.addEventListener('click', () => {
    S.selected = ev.id;
    markSelected(true);
  });
  li.addEventListener('dblclick', () => {
    location.hash = '#/event/' + ev.id;
  });
  return li;
}

function fillAlert(li, ev) {
  const status = [];
  if (ev.qualification)
    status.push(
      el(
        'span',
        { class: 'badge ' + (ev.qualification === 'confirmed' ? 'alert-b' : 'ok') },
        t(ev.qualification) + (ev.reason ? ' · ' + t(ev.reason) : ''),
      ),
    );
  else if (ev.ack_at)
    status.push(el('span', { class: 'badge warn' }, t('acknowledged_by') + ' ' + ev.ack_by));
  else status.push(el('span', { class: 'badge alert-b' }, t('unacked')));
  status.push(el('span', { class: 'badge' }, ev.open ? t('ongoing') : t('ended')));
  li.textContent = '';
  const fault = ev.type === 'camera_fault' && ev.details && ev.details.reason;
  const meta =
    `${t('camera')}: ${ev.camera}` +
    (fault ? ` · ${t('fault_' + ev.details.reason)}` : '') +
    (ev.zone ? ` · ${t('zone')}: ${ev.zone}` : '') +
    ` · ${fmtTime(ev.start)} · ${t('score')} ${Number(ev.score).toFixed(2)}`;
  li.append(
    li.thumb,
    el(
      'div',
      {},
      el('div', { class: 'type' }, typeName(ev.type)),
      el('div', { class: 'meta' }, meta),
      el('div', {}, status),
    ),
    el(
      'button',
      {
        class: 'secondary',
        type: 'button',
        onclick: (e) => {
          e.stopPropagation();
          location.hash = '#/event/' + ev.id;
        },
      },
      t('open'),
    ),
  );
  li.classList.toggle('decided', !!ev.qualification);
  li.classList.toggle('technical', ev.type === 'camera_fault');
  li.classList.toggle('new', !!ev.fresh);
  ev.fresh = false;
}

function render() {
  const main = $('#main');
  let list = $('#queue');
  if (!list) {
    main.textContent = '';
    const od = el('input', {
      type: 'number',
      min: 5,
      max: 3600,
      value: S.overdue,
      id: 'overdue',
      onchange: (e) => {
        S.overdue = Number(e.target.value) || 60;
        localStorage.setItem('vigie.overdue', S.overdue);
        overdueTick();
      },
    });
    main.append(
      el(
        'div',
        { class: 'queue-head' },
        el('h1', {}, t('alerts')),
        el(
          'div',
          { class: 'row' },
          el('label', {}, t('overdue_after'), od),
          el('button', { class: 'secondary', type: 'button', onclick: showHelp }, '? ' + t('help')),
        ),
      ),
    );
    /* the list is not a live region (a screen reader would read it all again on each alert):
     * new alerts are announced on their own */
    list = el('ol', { id: 'queue', class: 'queue', 'aria-label': t('alerts') });
    main.append(list, el('div', { id: 'announce', class: 'sr-only', 'aria-live': 'polite' }));
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
  const added = [];
  for (const id of S.order) {
    let li = document.getElementById('alert-' + id);
    const ev = S.events.get(id);
    if (!li) {
      li = alertNode(ev);
      if (prev) prev.after(li);
      else list.prepend(li);
      if (ev.fresh) added.push(ev);
    }
    fillAlert(li, ev);
    prev = li;
  }
  if (added.length)
    $('#announce').textContent =
      added.length === 1
        ? `${typeName(added[0].type)}, ${t('camera')} ${added[0].camera}`
        : `${added.length} ${t('alerts')}`;
  if (S.selected === null && S.order.length) S.selected = S.order[0];
  markSelected(false);
  overdueTick();
}

export function enter(ctx) {
  S.view = 'alerts';
  $('#main').textContent = '';
  bus.addEventListener('feed', render, { signal: ctx.signal });
  queueKeys(ctx, render);
  render();
}
