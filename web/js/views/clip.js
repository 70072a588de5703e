/*
 * An alert's clip (issue #27): a few seconds before and after the event, pixelated as the picture,
 * with the event's box drawn in (VP9 in WebM, made by the server a few seconds after the event).
 * It plays muted, in a loop; under it a timeline marks where the event starts and where the
 * playback is. The player is kept across the page's redraws (a colleague's decision redraws the
 * page: the clip plays on). A clip not made yet is asked for again every 2 s while the alert is
 * young and its page shown.
 */
import { apiJson } from '../api.js';
import { el } from '../dom.js';
import { t } from '../i18n.js';

let kept = null; /* { id, node } */
let waiting = null; /* { id, timer } */

function player(ev) {
  const video = el('video', {
    id: 'clip',
    src: '/api/evidence/' + ev.clip,
    loop: true,
    muted: true,
    autoplay: true,
    playsinline: true,
    controls: true,
    preload: 'auto',
    'aria-label': t('clip_label'),
  });
  video.muted = true; /* the property, for autoplay */
  const mark = el('span', {
    class: 'clip-mark',
    id: 'clip-mark',
    title: t('clip_event'),
  });
  const pos = el('span', { class: 'clip-pos' });
  const line = el('div', { class: 'clip-line', 'aria-hidden': 'true' }, mark, pos);
  const place = () => {
    const d = video.duration;
    if (!(d > 0) || !isFinite(d)) return;
    mark.style.left = Math.min(100, (100 * (ev.clip_at || 0)) / d) + '%';
    pos.style.left = Math.min(100, (100 * video.currentTime) / d) + '%';
  };
  video.addEventListener('loadedmetadata', place);
  video.addEventListener('timeupdate', place);
  /* a click on the timeline goes there; the mark is the event */
  line.addEventListener('click', (e) => {
    const r = line.getBoundingClientRect();
    if (video.duration > 0) video.currentTime = ((e.clientX - r.left) / r.width) * video.duration;
  });
  return el(
    'figure',
    { class: 'clip' },
    video,
    line,
    el('figcaption', { class: 'muted' }, t('clip_caption')),
  );
}

/* The clip's figure for @ev, or a note while it is being made (@onReady(ev) once it is). */
export function clipOf(ev, onReady) {
  if (waiting && waiting.id !== ev.id) {
    clearTimeout(waiting.timer);
    waiting = null;
  }
  if (ev.clip) {
    if (!kept || kept.id !== ev.id || kept.clip !== ev.clip)
      kept = { id: ev.id, clip: ev.clip, node: player(ev) };
    const v = kept.node.querySelector('video');
    queueMicrotask(() => v.isConnected && v.paused && v.play().catch(() => {}));
    return kept.node;
  }
  const young = ev.start && Date.now() - Date.parse(ev.start) < 120000;
  if (!young || !ev.evidence) return null;
  if (!waiting) {
    let tries = 0;
    const ask = async () => {
      if (!waiting || waiting.id !== ev.id || !document.getElementById('clip-wait')) {
        waiting = null;
        return;
      }
      try {
        const e2 = await apiJson('GET', '/api/events/' + ev.id);
        if (e2.clip) {
          waiting = null;
          onReady(Object.assign(ev, { clip: e2.clip, clip_at: e2.clip_at }));
          return;
        }
      } catch (e) {
        /* the server restarting: try again */
      }
      if (++tries < 30) waiting.timer = setTimeout(ask, 2000);
      else waiting = null;
    };
    waiting = { id: ev.id, timer: setTimeout(ask, 2000) };
  }
  return el('p', { class: 'muted', id: 'clip-wait' }, t('clip_wait'));
}
