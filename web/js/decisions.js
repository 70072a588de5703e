/* An operator's decisions on an alert: acknowledge, then qualify (confirmed, false alert with
 * its reason, not relevant) with an optional note. Each is the server's to record and audit. */
import { S, bus } from './state.js';
import { api, errorOf } from './api.js';
import { toast, typeName } from './dom.js';
import { decidedOne } from './feed.js';
import { t } from './i18n.js';

/* A request whose failure is shown (the server down: said so, nothing saved). */
async function send(path, body) {
  try {
    return await api('POST', path, body);
  } catch (e) {
    if (e.message !== '401') toast(e.message, true);
    return null;
  }
}

export async function ack(id) {
  const ev = S.events.get(id);
  if (!ev || ev.ack_at) return true;
  const r = await send(`/api/events/${id}/ack`, {});
  if (!r) return false;
  if (r.ok || r.status === 409) {
    ev.ack_at = ev.ack_at || new Date().toISOString();
    ev.ack_by = ev.ack_by || S.me.user;
    return true;
  }
  toast(await errorOf(r), true);
  return false;
}

export async function qualify(id, qualification, reason, note) {
  if (!(await ack(id))) return;
  const body = { qualification };
  if (reason) body.reason = reason;
  if (note) body.note = note;
  const r = await send(`/api/events/${id}/decision`, body);
  if (!r) return;
  if (!r.ok) {
    toast(await errorOf(r), true);
    return;
  }
  const ev = S.events.get(id);
  S.drafts.delete(id); /* the note went with the decision */
  if (!ev.qualification) decidedOne(ev);
  Object.assign(ev, { qualification, reason: reason || null, decided_by: S.me.user });
  toast(`${typeName(ev.type)} #${id}: ${t(qualification)}${reason ? ' · ' + t(reason) : ''}`);
  bus.dispatchEvent(new CustomEvent('feed', { detail: { id, decided: true } }));
}

/* An incident decided once: every alert of it (the server acknowledges those that were not,
 * qualifies those not yet decided and audits each). */
export async function qualifyIncident(inc, qualification, reason, note) {
  const body = { ids: inc.ids, qualification };
  if (reason) body.reason = reason;
  if (note) body.note = note;
  const r = await send('/api/incidents/decision', body);
  if (!r) return;
  if (!r.ok) {
    toast(await errorOf(r), true);
    return;
  }
  const j = await r.json();
  for (const id of j.decided) {
    const ev = S.events.get(id);
    if (!ev) continue;
    S.drafts.delete(id);
    if (!ev.qualification) decidedOne(ev);
    ev.ack_at = ev.ack_at || new Date().toISOString();
    ev.ack_by = ev.ack_by || S.me.user;
    Object.assign(ev, { qualification, reason: reason || null, decided_by: S.me.user });
  }
  const head = S.events.get(inc.head);
  toast(
    `${typeName(head.type)} ×${j.decided.length}: ${t(qualification)}${reason ? ' · ' + t(reason) : ''}`,
  );
  bus.dispatchEvent(new CustomEvent('feed', { detail: { id: inc.head, decided: true } }));
}

/* Who handles an alert: take it, take it over from a colleague, or release it. A take of an
 * alert a colleague holds says who (the operator then may take it over). */
export async function claim(id, action) {
  const r = await send(`/api/events/${id}/claim`, { action });
  if (!r) return false;
  const ev = S.events.get(id);
  if (r.status === 409) {
    const j = await r.json().catch(() => ({}));
    if (ev) ev.claimed_by = j.claimed_by;
    toast(t('claimed_by_other').replace('%s', j.claimed_by || '?'), true);
    bus.dispatchEvent(new CustomEvent('feed', { detail: { id } }));
    return false;
  }
  if (!r.ok) {
    toast(await errorOf(r), true);
    return false;
  }
  const j = await r.json();
  if (ev) {
    ev.claimed_by = j.claimed_by;
    ev.claimed_at = j.claimed_by ? new Date().toISOString() : null;
  }
  toast(j.claimed_by ? t('you_handle').replace('%s', '#' + id) : t('released') + ' #' + id);
  bus.dispatchEvent(new CustomEvent('feed', { detail: { id } }));
  return true;
}

/* Acknowledge every alert of an incident. */
export async function ackIncident(inc) {
  for (const id of inc.ids) if (!(await ack(id))) return false;
  bus.dispatchEvent(new CustomEvent('feed', { detail: { id: inc.head } }));
  return true;
}
