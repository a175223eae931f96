/* jobs.js — one reading of a job object for every page, whichever control plane answers.
 *
 * Today's job has one "link"/"drone" and, once ended, the manifest's counters (written,
 * bytes_written, dropped{reason: n}); the multi-link control plane adds "links" with per-link
 * counters, live summed "counters" {packets, bytes, drops} and a "progress" object. These
 * helpers accept both, so the pages need no version checks. */
import { get, serverNow } from './api.js';

export const ACTIVE = ['pending', 'running', 'finishing', 'processing'];
export const ENDED = ['done', 'partial', 'failed', 'cancelled'];
export const STATES = [...ACTIVE, ...ENDED];
export const isActive = (j) => ACTIVE.includes(j.state);
export const isEnded = (j) => ENDED.includes(j.state);

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function sumDrops(c) {
	if (num(c.drops) !== null)
		return c.drops;
	if (c.dropped && typeof c.dropped === 'object') {
		let s = 0;
		for (const v of Object.values(c.dropped))
			s += num(v) ?? 0;
		return s;
	}
	return null;
}

/* {packets, bytes, drops} or nulls where the server has not said yet. */
export function counters(c) {
	c = c || {};
	return {
		packets: num(c.packets) ?? num(c.written) ?? num(c.matched),
		bytes: num(c.bytes) ?? num(c.bytes_written),
		drops: sumDrops(c),
	};
}

export function dropReasons(c) {
	c = c || {};
	return c.drops_by_reason || c.dropped || null;
}

/* The Hive's registry (GET /meta/counters): what each drop reason means and what to do about
 * it, asked once per page load and never copied here. Map reason → hint; empty when the
 * control plane does not serve it. */
let hintsAsked = null;
export function dropHints() {
	hintsAsked = hintsAsked || get('/meta/counters').then(
		(m) => new Map((m.drop_reasons || []).map((r) => [r.name, r.hint])), () => new Map());
	return hintsAsked;
}

/* Seconds the job has captured: from the server's progress, else its timestamps. */
export function elapsed(j) {
	if (num(j.progress?.elapsed) !== null)
		return j.progress.elapsed;
	if (!j.started_at)
		return 0;
	const start = Date.parse(j.started_at);
	const end = j.ended_at ? Date.parse(j.ended_at) : serverNow();
	return Math.max(0, (end - start) / 1000);
}

export function progress(j) {
	const c = counters(j.counters);
	return {
		bytes: num(j.progress?.bytes) ?? c.bytes,
		max_size: num(j.progress?.max_size) ?? j.max_size,
		elapsed: elapsed(j),
		max_duration: num(j.progress?.max_duration) ?? j.max_duration,
	};
}

/* [{drone, link, state, reason, counters}] */
export function links(j) {
	if (Array.isArray(j.links) && j.links.length && typeof j.links[0] === 'object')
		return j.links.map((l) => ({ drone: l.drone, link: l.link ?? l.name, state: l.state ?? j.state,
			reason: l.reason || '', counters: l.counters || {} }));
	return [{ drone: j.drone || 'local', link: j.link, state: j.state, reason: j.reason || '',
		counters: j.counters || {} }];
}

export const linkNames = (j) => links(j).map((l) => `${l.drone}/${l.link}`);
