/*
 * The live queue (#/alerts): newest first, each alert with its picture, type, camera, zone, time,
 * score and where it stands (unacknowledged, acknowledged, qualified; ongoing or ended). Nodes
 * are kept across redraws (their pictures load once); an alert left unacknowledged longer than
 * the operator's delay is highlighted, and the page title counts them.
 */
import { S, bus } from '../state.js';
import { $, el, fmtTime, typeName, toast } from '../dom.js';
import { loadOlder } from '../feed.js';
import { t } from '../i18n.js';
import { shot } from './shot.js';
import { queueKeys } from './keys.js';
import { overdueTick, markSelected, showHelp, heads, incidentOf, filtering } from './queue.js';

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
  const inc = incidentOf(ev.id);
  if (inc && inc.ids.length > 1) {
    const undecided = inc.undecided;
    status.push(
      el(
        'span',
        { class: 'badge incident', title: t('incident_help') },
        `${t('incident')}: ${inc.ids.length} ${t('alerts_word')}` +
          (undecided ? ` · ${undecided} ${t('undecided_n')}` : ''),
      ),
    );
  }
  if (ev.priority && ev.priority !== 'normal')
    status.unshift(el('span', { class: 'badge prio-' + ev.priority }, t('prio_' + ev.priority)));
  if (ev.claimed_by)
    status.push(
      el(
        'span',
        { class: 'badge claim' + (ev.claimed_by === S.me.user ? ' mine' : '') },
        t('handled_by') + ' ' + (ev.claimed_by === S.me.user ? t('you') : ev.claimed_by),
      ),
    );
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
  li.classList.toggle('decided', inc && inc.ids.length > 1 ? !inc.undecided : !!ev.qualification);
  li.classList.toggle('confirmed', ev.qualification === 'confirmed');
  li.classList.toggle('technical', ev.type === 'camera_fault');
  li.classList.toggle('high', ev.priority === 'high');
  li.classList.toggle('new', !!ev.fresh);
  ev.fresh = false;
}

/* A choice of the operator's kept per browser (S[@key], localStorage vigie.@key): a checkbox
 * whose change calls @then. */
function choice(key, then) {
  return el(
    'label',
    { class: 'check' },
    el('input', {
      type: 'checkbox',
      id: key,
      checked: S[key],
      onchange: (e) => {
        S[key] = e.target.checked;
        localStorage.setItem('vigie.' + key, S[key] ? 'on' : 'off');
        then();
      },
    }),
    t(key),
  );
}

/* The filter: a camera, an event type, only what is still to decide (for this tab). */
function filterBar() {
  const opts = (values, all) => [el('option', { value: '' }, all)].concat(values);
  const pick = (key) => (e) => {
    S.filter[key] = e.target.type === 'checkbox' ? e.target.checked : e.target.value;
    render();
  };
  const types = [
    'intrusion',
    'wrong_way',
    'abandoned_object',
    'crowd_movement',
    'density',
    'fall',
    'fire',
    'weapon',
    'camera_fault',
  ];
  return el(
    'span',
    { class: 'row filter', role: 'group', 'aria-label': t('filter') },
    el(
      'label',
      {},
      t('camera'),
      el(
        'select',
        { id: 'filter-camera', onchange: pick('camera') },
        opts(
          S.cameras.map((c) =>
            el('option', { value: c.name, selected: S.filter.camera === c.name }, c.name),
          ),
          t('all'),
        ),
      ),
    ),
    el(
      'label',
      {},
      t('type'),
      el(
        'select',
        { id: 'filter-type', onchange: pick('type') },
        opts(
          types.map((k) => el('option', { value: k, selected: S.filter.type === k }, typeName(k))),
          t('all'),
        ),
      ),
    ),
    el(
      'label',
      { class: 'check' },
      el('input', {
        type: 'checkbox',
        id: 'filter-undecided',
        checked: S.filter.undecided,
        onchange: pick('undecided'),
      }),
      t('undecided_only'),
    ),
  );
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
          choice('dense', () => $('#queue').classList.toggle('dense', S.dense)),
          choice('grouped', render),
          choice('priority', render),
          filterBar(),
          el('button', { class: 'secondary', type: 'button', onclick: showHelp }, '? ' + t('help')),
        ),
      ),
    );
    /* the list is not a live region (a screen reader would read it all again on each alert):
     * new alerts are announced on their own */
    list = el('ol', {
      id: 'queue',
      class: 'queue' + (S.dense ? ' dense' : ''),
      'aria-label': t('alerts'),
    });
    main.append(list, el('div', { id: 'announce', class: 'sr-only', 'aria-live': 'polite' }));
  }
  if (!S.order.length) {
    list.textContent = '';
    list.append(el('li', { class: 'muted' }, t('no_alerts')));
    return;
  }
  const empty = list.querySelector('li.muted');
  if (empty) empty.remove();
  if (!heads().length) {
    for (const li of [...list.querySelectorAll('li.alert')]) li.remove();
    list.append(el('li', { class: 'muted' }, t('no_match')));
    olderButton(list);
    return;
  }
  /* the newest S.shown alerts, in order; nodes are kept (their pictures load once) */
  let prev = null;
  const rowIds = heads().slice(0, S.shown);
  for (const id of rowIds) {
    let li = document.getElementById('alert-' + id);
    const ev = S.events.get(id);
    if (!li) li = alertNode(ev);
    /* in place (a new row, or one whose place changed: priority first) */
    if (prev ? prev.nextElementSibling !== li : list.firstElementChild !== li) {
      if (prev) prev.after(li);
      else list.prepend(li);
    }
    fillAlert(li, ev);
    prev = li;
  }
  for (let li = prev && prev.nextElementSibling; li; ) {
    const next = li.nextElementSibling;
    if (li.classList.contains('alert')) li.remove();
    li = next;
  }
  /* rows of alerts that joined an incident since */
  const keep = new Set(rowIds.map((id) => 'alert-' + id));
  for (const li of [...list.querySelectorAll('li.alert')]) if (!keep.has(li.id)) li.remove();
  olderButton(list);
  if (S.selected === null && S.order.length) S.selected = S.order[0];
  markSelected(false);
  overdueTick();
}

/* "Older alerts": the next page, from what is known or from the server. */
function olderButton(list) {
  let more = $('#older');
  const rows = list.querySelectorAll('.alert').length;
  const left = heads().length > rows || S.olderOnServer;
  if (!left) {
    if (more) more.remove();
    return;
  }
  if (!more) {
    more = el(
      'button',
      {
        type: 'button',
        id: 'older',
        class: 'secondary',
        onclick: async () => {
          S.shown += 200;
          if (heads().length < S.shown) {
            try {
              await loadOlder();
            } catch (e) {
              toast(e.message, true);
            }
          }
          render();
        },
      },
      t('older_alerts'),
    );
    list.after(more);
  }
}

/* One message of the feed: only its row changes (a new alert: one row more on top, the oldest
 * shown goes when there are more than S.shown): the cost of a message does not grow with the
 * queue. */
function update(e) {
  const list = $('#queue');
  const id = e.detail && e.detail.id;
  const ev = S.events.get(id);
  /* priority first or a filter: a row's place depends on the others (a new alert may not go on
   * top, or not be shown) */
  if (!list || !ev || !list.querySelector('li.alert') || S.priority || filtering()) {
    render();
    if (e.detail && e.detail.added && ev && $('#announce'))
      $('#announce').textContent = `${typeName(ev.type)}, ${t('camera')} ${ev.camera}`;
    return;
  }
  const inc = incidentOf(id);
  let li = document.getElementById('alert-' + (inc ? inc.head : id));
  if (!li) {
    if (!e.detail.added) return; /* an older alert, not shown */
    li = alertNode(ev);
    list.prepend(li);
    /* it joined an incident: the incident's row is this one now */
    if (inc && inc.ids.length > 1) {
      const before = inc.ids[inc.ids.length - 2];
      const was = document.getElementById('alert-' + before);
      if (was) {
        if (S.selected === before) S.selected = id;
        was.remove();
      }
    }
    $('#announce').textContent = `${typeName(ev.type)}, ${t('camera')} ${ev.camera}`;
    const rows = list.querySelectorAll('li.alert');
    if (rows.length > S.shown) rows[rows.length - 1].remove();
    olderButton(list);
  }
  const shownEv = S.events.get(Number(li.dataset.id));
  fillAlert(li, shownEv);
  const on = shownEv.id === S.selected;
  li.classList.toggle('selected', on);
  if (on) li.setAttribute('aria-current', 'true');
  else li.removeAttribute('aria-current');
}

export function enter(ctx) {
  S.view = 'alerts';
  $('#main').textContent = '';
  bus.addEventListener('feed', update, { signal: ctx.signal });
  queueKeys(ctx, render);
  render();
}
