/*
 * The queue's and the event page's keys: j/k or arrows move, Enter opens, Esc goes back, a
 * acknowledges, c confirms, n is not relevant, f then 1-5 a false alert with its reason, t takes
 * it (the operator handles it: colleagues see so), ? the help. Registered for as long as the view
 * is shown (ctx.signal); never while a text field has the focus (the letters of a note are the
 * note's), nor with a modifier; Enter and Space on a button or a link are that button's.
 */
import { S, REASONS } from '../state.js';
import { $, toast } from '../dom.js';
import { t } from '../i18n.js';
import { ack, qualify, ackIncident, qualifyIncident, claim } from '../decisions.js';
import { markSelected, showHelp, heads, incidentOf } from './queue.js';

export function queueKeys(ctx, redraw) {
  const note = () => ($('#note') ? $('#note').value : '');
  const onKey = (e) => {
    if (!S.me || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target instanceof Element ? e.target : null;
    if (target && (target.isContentEditable || target.closest('input, textarea, select'))) return;
    if (target && (e.key === 'Enter' || e.key === ' ') && target.closest('button, a, summary'))
      return;
    if ($('.dialog')) return;
    const id = S.selected;
    /* in the queue, a decision applies to the selected row's whole incident */
    const inc = S.view === 'alerts' && id ? incidentOf(id) : null;
    const many = inc && inc.ids.length > 1;
    const decide = (q, r) =>
      many ? qualifyIncident(inc, q, r, note()) : qualify(id, q, r, note());
    if (S.reasonMode) {
      const n = Number(e.key);
      S.reasonMode = false;
      if (n >= 1 && n <= 5 && id) {
        e.preventDefault();
        decide('false_alert', REASONS[n - 1]);
      }
      return;
    }
    const rows = S.view === 'alerts' ? heads().slice(0, S.shown) : S.order;
    const i = rows.indexOf(id);
    switch (e.key) {
      case 'j':
      case 'ArrowDown':
        if (S.view === 'alerts' && i < rows.length - 1) {
          S.selected = rows[i + 1];
          markSelected(true);
          e.preventDefault();
        }
        break;
      case 'k':
      case 'ArrowUp':
        if (S.view === 'alerts' && i > 0) {
          S.selected = rows[i - 1];
          markSelected(true);
          e.preventDefault();
        }
        break;
      case 'Enter':
      case 'o':
        if (S.view === 'alerts' && id) location.hash = '#/event/' + id;
        break;
      case 'Escape':
        if (S.view === 'event') location.hash = '#/alerts';
        break;
      case 'a':
        if (id) (many ? ackIncident(inc) : ack(id)).then(() => redraw(id));
        break;
      case 'c':
        if (id) decide('confirmed', null);
        break;
      case 'n':
        if (id) decide('not_relevant', null);
        break;
      case 't':
        if (id) claim(id, 'take');
        break;
      case 'f':
        if (id) {
          S.reasonMode = true;
          toast(t('choose_reason'));
        }
        break;
      case '?':
        showHelp();
        break;
      default:
        return;
    }
  };
  document.addEventListener('keydown', onKey, { signal: ctx.signal });
}
