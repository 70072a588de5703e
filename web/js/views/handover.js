/*
 * Shift notes (#/handover, operators and supervisors): what one shift leaves to the next — a
 * camera to watch, a call pending, a door propped open. The newest first; a new one from a
 * colleague appears at once (the live stream), and what the operator is typing is kept when it
 * does. Opening the page marks the notes read (the top bar counts the unread ones).
 */
import { S, bus } from '../state.js';
import { api, errorOf } from '../api.js';
import { $, el, fmtTime, toast } from '../dom.js';
import { t } from '../i18n.js';
import { chrome } from '../chrome.js';

const MAX = 2000;

function markRead() {
  const newest = S.handover.length ? S.handover[0].id : 0;
  if (newest > S.handoverSeen) {
    S.handoverSeen = newest;
    localStorage.setItem('vigie.handoverSeen', String(newest));
    chrome();
  }
}

function list() {
  const ol = $('#handover-list');
  if (!ol) return;
  ol.textContent = '';
  if (!S.handover.length) ol.append(el('li', { class: 'muted' }, t('no_notes')));
  for (const n of S.handover)
    ol.append(
      el(
        'li',
        { class: 'note-item', 'data-id': n.id },
        el('div', { class: 'meta' }, `${fmtTime(n.at)} · ${n.user}`),
        el('p', { class: 'note-text' }, n.text),
      ),
    );
  markRead();
}

export async function enter(ctx) {
  S.view = 'handover';
  const main = $('#main');
  main.textContent = '';
  const text = el('textarea', {
    id: 'handover-text',
    rows: 4,
    maxlength: MAX,
    'aria-describedby': 'handover-help',
  });
  const save = el(
    'button',
    {
      type: 'submit',
      id: 'handover-save',
    },
    t('leave_note'),
  );
  const form = el(
    'form',
    {
      class: 'panel',
      onsubmit: async (e) => {
        e.preventDefault();
        if (!text.value.trim()) {
          toast(t('note_empty'), true);
          return;
        }
        let r;
        try {
          r = await api('POST', '/api/handover', { text: text.value });
        } catch (err) {
          toast(err.message, true); /* the server is down: the note stays in the field */
          return;
        }
        if (!r.ok) {
          toast(await errorOf(r), true);
          return;
        }
        const j = await r.json();
        if (!S.handover.some((n) => n.id === j.id))
          S.handover.unshift({
            id: j.id,
            at: new Date().toISOString(),
            user: S.me.user,
            text: text.value,
          });
        text.value = '';
        toast(t('note_saved'));
        list();
      },
    },
    el('h2', {}, t('new_note')),
    el('label', { for: 'handover-text' }, t('note_for_next')),
    text,
    el('p', { class: 'muted', id: 'handover-help' }, t('note_help')),
    save,
  );
  main.append(
    el('h1', {}, t('handover')),
    form,
    el('h2', {}, t('notes')),
    el('ol', { id: 'handover-list', class: 'notes' }),
  );
  bus.addEventListener('handover', list, { signal: ctx.signal });
  list();
}
