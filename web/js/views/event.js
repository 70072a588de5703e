/*
 * One alert (#/event/ID): its picture, what the analyser said, who acknowledged and decided, and
 * the decision panel (acknowledge, confirm, false alert with its reason, not relevant, a note).
 * A supervisor may ask for the original picture, giving a reason (audited).
 */
import { S, REASONS, bus, can } from '../state.js';
import { api, apiJson, errorOf } from '../api.js';
import { $, el, fmtTime, typeName, toast, ask } from '../dom.js';
import { t } from '../i18n.js';
import { ack, qualify } from '../decisions.js';
import { shot } from './shot.js';
import { queueKeys } from './keys.js';

async function unblur(ev, host) {
  const reason = await ask(t('unblur_reason'));
  if (!reason) return;
  const r = await api('POST', `/api/evidence/${ev.evidence}/original`, { reason });
  if (!r.ok) {
    toast(await errorOf(r), true);
    return;
  }
  const url = URL.createObjectURL(await r.blob());
  host.append(el('img', { src: url, alt: 'original', class: 'original' }));
}

function facts(ev) {
  const dl = el('dl', { class: 'facts' });
  const add = (k, v) => {
    if (v !== undefined && v !== null && v !== '') dl.append(el('dt', {}, t(k)), el('dd', {}, v));
  };
  add('type', typeName(ev.type));
  add('camera', ev.camera);
  add('zone', ev.zone);
  add('time', fmtTime(ev.start));
  add('score', Number(ev.score).toFixed(2));
  add('status', ev.open ? t('ongoing') : t('ended') + ' ' + fmtTime(ev.end));
  const d = ev.details || {};
  if (ev.type === 'abandoned_object') {
    if (d.put_down_at !== undefined) add('put_down_at', Number(d.put_down_at).toFixed(1) + ' s');
    if (d.unattended_since !== undefined)
      add('unattended_since', Number(d.unattended_since).toFixed(1) + ' s');
    if (d.owner_distance !== undefined)
      add('owner_distance', Number(d.owner_distance).toFixed(1) + ' ' + (d.unit || ''));
    if (d.owner !== undefined) add('owner', d.owner);
  }
  if (d.reason !== undefined) add('reason_label', String(d.reason));
  const shown = ['put_down_at', 'unattended_since', 'owner_distance', 'owner', 'reason'];
  const rest = Object.entries(d).filter(([k]) => !shown.includes(k));
  if (rest.length)
    add(
      'details',
      rest.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · '),
    );
  if (ev.ack_at) add('acknowledged_by', `${ev.ack_by} · ${fmtTime(ev.ack_at)}`);
  if (ev.qualification)
    add(
      'decided',
      `${t(ev.qualification)}${ev.reason ? ' · ' + t(ev.reason) : ''} (${ev.decided_by})` +
        (ev.note ? ' — ' + ev.note : ''),
    );
  return dl;
}

async function render(id) {
  S.view = 'event';
  S.selected = id;
  let ev = S.events.get(id);
  if (!ev || ev.details === undefined) {
    try {
      ev = Object.assign(ev || {}, await apiJson('GET', '/api/events/' + id));
      S.events.set(id, ev);
    } catch (e) {
      $('#main').textContent = e.message;
      return;
    }
  }
  const main = $('#main');
  /* a redraw (the event ended, a colleague acted) keeps what the operator is writing and where
   * the focus is: the note is a draft of the event's, and the focused field gets the focus back */
  const active = document.activeElement;
  const focusId = active && main.contains(active) ? active.id : '';
  const selStart = active && 'selectionStart' in active ? active.selectionStart : null;
  const selEnd = active && 'selectionEnd' in active ? active.selectionEnd : null;
  main.textContent = '';
  const draft = S.drafts.get(id) || { note: '', reason: REASONS[0] };
  const keep = () => S.drafts.set(id, { note: note.value, reason: reasonSel.value });
  const reasonSel = el(
    'select',
    { id: 'reason', onchange: keep },
    REASONS.map((r, i) => el('option', { value: r }, `${i + 1}. ${t(r)}`)),
  );
  reasonSel.value = draft.reason;
  const note = el('textarea', { id: 'note', rows: 3, oninput: keep });
  note.value = draft.note;
  const button = (id_, cls, label, onclick, disabled) =>
    el('button', { type: 'button', id: id_, class: cls, disabled, onclick }, label);
  const decide = el(
    'div',
    { class: 'decide panel' },
    el('h2', {}, t('decided')),
    el(
      'div',
      { class: 'buttons' },
      button(
        'btn-ack',
        null,
        t('ack') + ' (a)',
        async () => {
          await ack(id);
          render(id);
        },
        !!ev.ack_at,
      ),
      button('btn-confirmed', 'danger', t('confirmed') + ' (c)', () =>
        qualify(id, 'confirmed', null, note.value),
      ),
      button('btn-not-relevant', 'secondary', t('not_relevant') + ' (n)', () =>
        qualify(id, 'not_relevant', null, note.value),
      ),
    ),
    el(
      'div',
      { class: 'row' },
      el('label', {}, t('reason'), reasonSel),
      button('btn-false', null, t('false_alert') + ' (f)', () =>
        qualify(id, 'false_alert', reasonSel.value, note.value),
      ),
    ),
    el('label', {}, t('note'), note),
  );
  const picture = el('div', {}, shot(ev), el('p', { class: 'muted' }, t('evidence')));
  if (can('original') && ev.evidence)
    picture.append(button('btn-unblur', 'secondary', t('unblur'), () => unblur(ev, picture)));
  main.append(
    el(
      'p',
      { class: 'row' },
      el('a', { href: '#/alerts' }, '← ' + t('back')),
      /* a second screen: the alert page in a window of its own (same session) */
      el(
        'a',
        { href: '#/event/' + id, target: '_blank', rel: 'noopener', id: 'new-window' },
        t('new_window'),
      ),
    ),
    el('h1', {}, `${typeName(ev.type)} #${id}`),
    el(
      'div',
      { class: 'detail' },
      el('div', { class: 'panel' }, picture),
      el('div', {}, el('div', { class: 'panel' }, facts(ev)), decide),
    ),
  );
  const again = focusId && document.getElementById(focusId);
  if (again && !again.disabled) {
    again.focus({ preventScroll: true });
    if (selStart !== null && 'setSelectionRange' in again)
      again.setSelectionRange(selStart, selEnd);
  }
}

export async function enter(ctx, id) {
  bus.addEventListener(
    'feed',
    (e) => {
      if (S.view === 'event' && e.detail.id === S.selected) render(S.selected);
    },
    { signal: ctx.signal },
  );
  queueKeys(ctx, () => render(S.selected));
  await render(id);
}
