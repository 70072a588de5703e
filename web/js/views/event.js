/*
 * One alert (#/event/ID): its picture and its clip (clip.js), what the analyser said, who acknowledged and decided, and
 * the decision panel (acknowledge, confirm, false alert with its reason, not relevant, a note).
 * A supervisor may ask for the original picture, giving a reason (audited). A weapon alert shows,
 * beside its picture, the object's crop enlarged (the object is left unpixelated in the evidence)
 * and says in words that it is a candidate to check, and that firearms need a site model.
 */
import { S, REASONS, bus, can, camOf } from '../state.js';
import { api, apiJson, errorOf } from '../api.js';
import { $, el, fmtTime, typeName, toast, ask } from '../dom.js';
import { t } from '../i18n.js';
import { ack, qualify, claim } from '../decisions.js';
import { shot } from './shot.js';
import { clipOf } from './clip.js';
import { sceneSvg, pathSvg } from './scene.js';
import { queueKeys } from './keys.js';

/* The original replaces the blurred picture in place, under the same box and zone, and says so. */
async function unblur(ev, host) {
  const reason = await ask(t('unblur_reason'));
  if (!reason) return;
  const r = await api('POST', `/api/evidence/${ev.evidence}/original`, {
    reason,
  });
  if (!r.ok) {
    toast(await errorOf(r), true);
    return;
  }
  const url = URL.createObjectURL(await r.blob());
  const img = host.querySelector('.shot img');
  if (img) {
    img.src = url;
    img.alt = t('original_picture');
    img.classList.add('original');
  }
  const note = host.querySelector('.muted');
  if (note) note.textContent = t('original_picture');
  host.scrollIntoView({ block: 'nearest' });
}

/* The event's zone or line drawn over its picture, and the track's path with its direction. */
async function drawPlace(ev, wrap) {
  const c = camOf(ev.camera);
  if (!c.width) return;
  const path = ev.details && ev.details.path;
  if (Array.isArray(path) && path.length >= 2)
    wrap.insertBefore(pathSvg(path, c.width, c.height), wrap.querySelector('.box'));
  if (!ev.zone) return;
  try {
    const sc = await apiJson('GET', `/api/cameras/${ev.camera}/scene.json`);
    const only = {
      zones: (sc.zones || []).filter((z) => z.name === ev.zone),
      lines: (sc.lines || []).filter((l) => l.name === ev.zone),
    };
    /* under the event's box: the box stays on top */
    wrap.insertBefore(
      sceneSvg(only, c.width, c.height),
      wrap.querySelector('svg.path') || wrap.querySelector('.box'),
    );
  } catch (e) {
    /* no scene: the box alone */
  }
}

/* A weapon alert's object, enlarged: the evidence picture as a background, its box (grown by a
 * half each way, for the hand round it) filling a square. Boxes are in the camera's pixels, the
 * picture may be smaller: only ratios are used. */
function objectCrop(ev) {
  const c = camOf(ev.camera);
  if (!ev.evidence || !ev.box || !c.width || !c.height) return null;
  const [x, y, w, h] = ev.box;
  const side = Math.max(w, h) * 2;
  const cx = x + w / 2,
    cy = y + h / 2;
  const x0 = Math.max(0, Math.min(c.width - side, cx - side / 2)),
    y0 = Math.max(0, Math.min(c.height - side, cy - side / 2));
  const box = el('div', {
    class: 'object-crop',
    id: 'object-crop',
    role: 'img',
    'aria-label': t('weapon_crop'),
  });
  box.style.backgroundImage = `url(/api/evidence/${ev.evidence})`;
  box.style.backgroundSize = `${(100 * c.width) / side}% ${(100 * c.height) / side}%`;
  const px = c.width > side ? (100 * x0) / (c.width - side) : 0,
    py = c.height > side ? (100 * y0) / (c.height - side) : 0;
  box.style.backgroundPosition = `${px}% ${py}%`;
  return el('figure', { class: 'object' }, box, el('figcaption', {}, t('weapon_crop')));
}

const num = (v, d) => Number(v).toFixed(d);
const words = (s) => String(s).replace(/_/g, ' ');

/* What the analyser said, in words (every detail stays available below). */
function describe(ev) {
  const d = ev.details || {};
  const out = [];
  if (ev.type === 'intrusion' || ev.type === 'wrong_way') {
    if (d.class)
      out.push(
        `${words(d.class)}` +
          (d.class_score !== undefined ? ` (${num(100 * d.class_score, 0)} %)` : ''),
      );
    if (d.reason) out.push(words(d.reason) + (d.kind ? ` · ${words(d.kind)}` : ''));
    if (d.speed !== undefined) out.push(`${num(d.speed, 2)} ${words(d.speed_unit || '')}`);
    if (d.distance !== undefined)
      out.push(
        `${num(d.distance, 1)} ${d.distance_unit || ''}` +
          (ev.type === 'wrong_way' ? ' ' + t('against_direction') : ''),
      );
    if (Array.isArray(d.path) && d.path.length >= 2) out.push(t('path_drawn'));
    if (d.duration !== undefined) out.push(`${num(d.duration, 1)} s`);
  } else if (ev.type === 'crowd_movement') {
    if (d.kind) out.push(words(d.kind));
    if (d.speed !== undefined) out.push(`${num(d.speed, 2)} ${words(d.speed_unit || '')}`);
    if (d.ratio !== undefined) out.push(`×${num(d.ratio, 1)} ${t('usual')}`);
    if (d.direction) out.push(words(d.direction));
  } else if (ev.type === 'density') {
    if (d.density !== undefined) out.push(`${num(d.density, 1)} ${t('per_m2')}`);
    if (d.count !== undefined) out.push(`${num(d.count, 0)} ${t('people').toLowerCase()}`);
    if (d.level) out.push(words(d.level));
    if (d.trend) out.push(words(d.trend));
  } else if (ev.type === 'weapon') {
    if (d.kind)
      out.push(words(d.kind) + (d.class && d.class !== d.kind ? ` (${words(d.class)})` : ''));
    if (d.held_by !== undefined)
      out.push(`${t('held_by')} #${d.held_by}` + (d.wrist ? ` (${t('wrist_' + d.wrist)})` : ''));
    if (d.agreeing !== undefined && d.looks !== undefined)
      out.push(`${d.agreeing}/${d.looks} ${t('looks_agree')}`);
  } else if (ev.type === 'camera_fault') {
    if (d.reason) out.push(t('fault_' + d.reason));
    if (d.message) out.push(d.message);
  }
  return out.join(' · ');
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
  if (ev.priority) add('priority_label', t('prio_' + ev.priority));
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
  const said = describe(ev);
  if (said) add('what_seen', said);
  else if (d.reason !== undefined) add('reason_label', words(d.reason));
  const all = Object.entries(d);
  if (all.length)
    dl.append(
      el('dt', {}, t('details')),
      el(
        'dd',
        {},
        el(
          'details',
          {},
          el('summary', {}, t('all_details')),
          el(
            'ul',
            {},
            all.map(([k, v]) =>
              el('li', {}, `${words(k)}: ${typeof v === 'object' ? JSON.stringify(v) : v}`),
            ),
          ),
        ),
      ),
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

/* The view shown, while it is: a redraw that comes after the operator left the page (an answer
 * to "release" arriving once the shift notes are open) draws nothing. */
let shown = null;

async function render(id) {
  const ctx = shown;
  if (!ctx || ctx.signal.aborted) return;
  S.view = 'event';
  S.selected = id;
  let ev = S.events.get(id);
  if (!ev || ev.details === undefined) {
    try {
      ev = Object.assign(ev || {}, await apiJson('GET', '/api/events/' + id));
      S.events.set(id, ev);
    } catch (e) {
      if (!ctx.signal.aborted) $('#main').textContent = e.message;
      return;
    }
    if (ctx.signal.aborted) return;
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
  /* who handles it: take it, release it, or take it over from a colleague */
  const mine = ev.claimed_by === S.me.user,
    other = ev.claimed_by && !mine;
  const act = (a) => async () => {
    await claim(id, a);
    render(id);
  };
  const handler = el(
    'div',
    { class: 'row claim-row', id: 'claim' },
    el(
      'span',
      { class: 'badge claim' + (mine ? ' mine' : '') },
      ev.claimed_by
        ? `${t('handled_by')} ${mine ? t('you') : ev.claimed_by}` +
            (ev.claimed_at ? ` · ${fmtTime(ev.claimed_at)}` : '')
        : t('nobody_handles'),
    ),
    !ev.claimed_by ? button('btn-take', null, t('take') + ' (t)', act('take')) : null,
    other ? button('btn-take-over', 'secondary', t('take_over'), act('take_over')) : null,
    mine || (other && S.me.role === 'supervisor')
      ? button('btn-release', 'secondary', t('release'), act('release'))
      : null,
  );
  const decide = el(
    'div',
    { class: 'decide panel' },
    el('h2', {}, t('decided')),
    handler,
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
  const pic = shot(ev);
  drawPlace(ev, pic);
  const picture = el(
    'div',
    {},
    pic,
    el('p', { class: 'muted' }, t('evidence')),
    clipOf(ev, () => S.view === 'event' && S.selected === id && render(id)),
  );
  /* a weapon alert: the object enlarged beside the picture, and what the alert is worth */
  const crop = ev.type === 'weapon' ? objectCrop(ev) : null;
  if (ev.type === 'weapon')
    picture.prepend(el('p', { class: 'candidate', id: 'weapon-check' }, t('weapon_check')));
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
        {
          href: '#/event/' + id,
          target: '_blank',
          rel: 'noopener',
          id: 'new-window',
        },
        t('new_window'),
      ),
    ),
    el('h1', {}, `${typeName(ev.type)} #${id}`),
    el(
      'div',
      { class: 'detail' },
      el('div', { class: 'panel' }, picture),
      el(
        'div',
        {},
        crop ? el('div', { class: 'panel' }, crop) : null,
        S.instructions[ev.type]
          ? el(
              'div',
              { class: 'panel instructions', id: 'instructions' },
              el('h2', {}, t('what_to_do')),
              el('p', {}, S.instructions[ev.type]),
            )
          : null,
        el('div', { class: 'panel' }, facts(ev)),
        decide,
      ),
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
  shown = ctx;
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
