/*
 * Views by location.hash: #/alerts (the live queue), #/event/ID, #/cameras, #/scene/NAME
 * (editor), #/stats, #/audit, #/users, #/handover (shift notes) — each only for a role that may (state.can), else the
 * first the role has. Leaving a view removes everything it registered: each view gets a context
 * whose signal aborts on leave (listeners added with it go) and whose every() timers stop.
 */
import { S, can } from './state.js';
import { $, toast } from './dom.js';
import { chrome } from './chrome.js';
import * as alerts from './views/alerts.js';
import * as event from './views/event.js';
import * as cameras from './views/cameras.js';
import * as editor from './views/editor.js';
import * as stats from './views/stats.js';
import * as audit from './views/audit.js';
import * as users from './views/users.js';
import * as handover from './views/handover.js';

let current = null;

function context() {
  const ctl = new AbortController();
  return {
    ctl,
    signal: ctl.signal,
    every(fn, ms) {
      const h = setInterval(fn, ms);
      ctl.signal.addEventListener('abort', () => clearInterval(h));
    },
  };
}

/* Leave the view shown (its listeners and timers go). */
export function leave() {
  if (current) current.ctl.abort();
  current = null;
}

export async function route() {
  if (!S.me) return;
  leave();
  const ctx = (current = context());
  const [, view, arg] = location.hash.split('/');
  try {
    if (view === 'event' && can('alerts')) await event.enter(ctx, Number(arg));
    else if (view === 'cameras') await cameras.enter(ctx);
    else if (view === 'scene' && can('scene_edit'))
      await editor.enter(ctx, decodeURIComponent(arg));
    else if (view === 'stats' && can('stats')) await stats.enter(ctx);
    else if (view === 'audit' && can('audit')) await audit.enter(ctx);
    else if (view === 'users' && can('users')) await users.enter(ctx);
    else if (view === 'handover' && can('handover')) await handover.enter(ctx);
    else if (can('alerts')) alerts.enter(ctx);
    else location.hash = can('audit') ? '#/audit' : can('users') ? '#/users' : '#/cameras';
  } catch (e) {
    if (e.message !== '401') toast(e.message, true);
  }
  chrome();
  $('#main').focus({ preventScroll: true });
}
