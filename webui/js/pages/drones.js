/* drones.js — drones (capture hosts) and their links: online state, version, host resources,
 * live counters of the capture on each link, and, for drones.admin, registration (token shown
 * once), token rotation, removal and the core/queue tuning that tidectl also offers, its form
 * built from the Hive's table of tuning keys (GET /meta/tuning).
 *
 * Polls GET /drones every 2 s and updates each drone's card in place (its buttons are built
 * once, so keyboard focus survives the updates). */
import * as api from '../api.js';
import { h, replace, field, note, errorText, pageHead, badge, timeEl, fmtBytes, fmtCount, fmtSI,
	modal, confirmBox, newId, copyText } from '../dom.js';

const POLL_MS = 2000;

function linksTable(links) {
	if (!links.length)
		return note('empty', 'This drone reports no links.');
	return h('table', { class: 'links-table' },
		h('thead', {}, h('tr', {}, ['Link', 'Device', 'State', 'Capturing', 'RX queues', 'NUMA', 'Packets', 'Bytes', 'Drops', 'Packets/s', 'Bits/s']
			.map((t) => h('th', { scope: 'col' }, t)))),
		h('tbody', {}, links.map((l) => {
			const c = l.counters || {};
			return h('tr', { 'data-link': `${l.drone}/${l.name}` },
				h('td', {}, h('strong', {}, l.name)), h('td', { class: 'muted' }, l.device || '—'),
				h('td', {}, badge(l.state)),
				h('td', {}, l.job ? h('a', { href: `#/jobs/${l.job}` }, `job ${l.job}`) : (l.busy === undefined ? '—' : l.busy ? 'busy' : h('span', { class: 'muted' }, 'idle'))),
				h('td', { class: 'num' }, l.max_rx_queues ?? '—'), h('td', { class: 'num' }, l.numa_node === undefined ? '—' : l.numa_node < 0 ? 'any' : l.numa_node),
				h('td', { class: 'num', 'data-counter': 'packets' }, fmtCount(c.packets)),
				h('td', { class: 'num' }, fmtBytes(c.bytes)),
				h('td', { class: ['num', c.drops ? 'warn' : ''], title: c.drops_by_reason ? Object.entries(c.drops_by_reason).map(([k, v]) => `${k}: ${v}`).join(', ') : null }, fmtCount(c.drops)),
				h('td', { class: 'num' }, fmtSI(c.pps)), h('td', { class: 'num' }, fmtSI(c.bps)));
		})));
}

function info(d) {
	const hst = d.host || {};
	const rows = [
		['Version', d.version || '—'], ['Host name', d.hostname || '—'], ['Address', d.address || '—'],
		['Connected', timeEl(d.connected_at)], ['Last seen', timeEl(d.last_seen_at)],
		['Cores', hst.cores ?? '—'], ['NUMA nodes', hst.numa_nodes ?? '—'],
		['Huge pages', hst.hugepages_total !== undefined
			? `${hst.hugepages_free} free of ${hst.hugepages_total} × ${fmtBytes((hst.hugepage_kb || 0) * 1024)}` : '—'],
	];
	return h('dl', { class: 'params compact' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function showSecret(box, what, r) {
	const secret = h('input', { readonly: true, value: r.token, class: 'mono secret', id: 'drone-secret', size: 52, 'aria-label': `${what} token` });
	replace(box, note('ok', h('p', {}, h('strong', {}, `${what}: copy the drone token now; it is not shown again.`),
		' Give it to the drone (tide-drone configuration) so it can dial in.'),
	h('div', { class: 'secret-row' }, secret, h('button', { type: 'button', onclick: () => copyText(r.token, secret) }, 'Copy'))));
	secret.focus();
	secret.select();
}

/* The drone's tuning keys with their kinds, bounds, defaults and help: the Hive's one table
 * (GET /meta/tuning, dataplane/contract/tide_tuning.h), asked once per page load and never
 * copied here. */
let keysAsked = null;
function tuningKeys() {
	keysAsked = keysAsked || api.get('/meta/tuning').then((m) => m.keys || [], (e) => {
		keysAsked = null;
		throw e;
	});
	return keysAsked;
}

async function tune(d, say) {
	let t, keys;
	try {
		[t, keys] = await Promise.all([api.get(`/drones/${d.id}/tuning`), tuningKeys()]);
	} catch (e) {
		say('error', `Could not read the tuning of ${d.name}: ${errorText(e)}`);
		return;
	}
	const lim = t.limits || {};
	const cur = t.tuning || {};
	const ap = t.applied || {};
	const inputs = {};
	/* Every field may stay at "default" (the drone's own choice, absent from the tuning); only
	 * fields the admin changed are sent. */
	const label = (name) => name.replace(/_/g, ' ');
	/* the most this host allows: its limit less limit_less, within the key's own bounds */
	const hostMax = (k) => (k.limit && typeof lim[k.limit] === 'number'
		? Math.max(k.min, Math.min(k.max, lim[k.limit] - k.limit_less)) : k.max);
	const hint = (k, range) => {
		const host = k.type === 'boolean' && k.limit ? ` · ${label(k.limit)} on the host: ${lim[k.limit] ?? '—'}` : '';
		return `${k.help}: ${range}, default ${k.default_text}${host}${k.name in ap ? ` · applied now: ${ap[k.name]}` : ''}`;
	};
	const choice = (k, options, range) => {
		inputs[k.name] = h('select', { name: k.name }, h('option', { value: '', selected: !(k.name in cur) }, 'default'),
			options.map(([v, l]) => h('option', { value: String(v), selected: k.name in cur && String(cur[k.name]) === String(v) }, l)));
		return field(label(k.name), inputs[k.name], hint(k, range));
	};
	const span = (min, max) => (min < 0 ? `${min} to ${max}` : `${min}–${max}`);
	const input = (k) => {
		if (k.type === 'boolean')
			return choice(k, [['true', 'yes'], ['false', 'no']], 'yes or no');
		const max = hostMax(k);
		if (k.power_of_two) {
			const pows = [];
			for (let v = 1; v <= max; v *= 2)
				if (v >= k.min)
					pows.push([v, v]);
			return choice(k, pows, `a power of two, ${span(k.min, max)}`);
		}
		inputs[k.name] = h('input', { type: 'number', name: k.name, value: cur[k.name] ?? '', min: k.min, max, step: 1,
			class: 'num-in', placeholder: 'default' });
		return field(label(k.name), inputs[k.name], hint(k, span(k.min, max)));
	};
	const boolean = new Set(keys.filter((k) => k.type === 'boolean').map((k) => k.name));
	const res = await modal(`Tuning of drone ${d.name}`, (f) => {
		f.classList.add('tuning-form');
		f.append(h('p', { class: 'hint' }, 'The drone restarts its dataplane with the new tuning as soon as no job runs on it (its links pause for the few seconds DPDK takes to start). Empty = the drone\'s default.'),
			...keys.map(input));
	}, {
		ok: 'Apply',
		validate: async () => {
			const body = {};
			for (const [k, el] of Object.entries(inputs)) {
				if (el.value === '')
					continue; /* default: not sent (a key once set stays until changed) */
				const v = boolean.has(k) ? el.value === 'true' : Number(el.value);
				if (!boolean.has(k) && !Number.isInteger(v))
					return `${label(k)} must be a whole number.`;
				if (v !== cur[k])
					body[k] = v;
			}
			if (!Object.keys(body).length)
				return null;
			try {
				await api.put(`/drones/${d.id}/tuning`, body);
			} catch (e) {
				return e.code === 'invalid_tuning' ? `Refused: ${e.message}` : errorText(e);
			}
			return null;
		},
	});
	if (res === 'ok')
		say('ok', `Tuning of ${d.name} saved; it applies at the next capture start.`);
}

export default {
	title: 'Drones',
	perm: 'jobs.read',
	async render(ctx) {
		const admin = ctx.can('drones.admin');
		const msg = h('div', { 'aria-live': 'polite' });
		const list = h('div', { id: 'drones' });
		const secretBox = h('div');
		const cards = new Map();
		const say = (kind, ...t) => replace(msg, note(kind, ...t));
		const regName = h('input', { name: 'drone_name', maxlength: 64, autocomplete: 'off', placeholder: 'e.g. probe1' });
		const regForm = h('form', { class: 'inline-form', id: 'drone-form' }, field('New drone', regName), h('button', { type: 'submit' }, 'Register drone'));
		regForm.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			try {
				const r = await api.post('/drones', { name: regName.value.trim() });
				showSecret(secretBox, `Drone ${r.name} registered`, r);
				regName.value = '';
				poll();
			} catch (e) {
				say('error', `The drone was not registered: ${errorText(e)}`);
			}
		});
		let listKey = null;
		const regSection = admin ? h('section', { class: 'card' }, h('h2', {}, 'Register a drone'), regForm, secretBox) : null;

		replace(ctx.root, pageHead('Drones and links'), msg, list);

		function card(d) {
			let c = cards.get(d.id);
			if (!c) {
				c = { head: h('h2', { id: newId('d') }), info: h('div'), links: h('div') };
				const actions = admin ? h('div', { class: 'actions' },
					h('button', { type: 'button', class: 'small', 'data-action': 'tune', onclick: () => tune(c.d, say) }, 'Tuning…'),
					h('button', { type: 'button', class: 'small', onclick: async () => {
						if (!await confirmBox(`New token for ${c.d.name}?`, 'The old token stops working at once; the drone needs the new one to dial in.', 'Rotate token'))
							return;
						try {
							showSecret(secretBox, `New token for ${c.d.name}`, await api.post(`/drones/${c.d.id}/token`));
						} catch (e) {
							say('error', `Could not rotate the token: ${errorText(e)}`);
						}
					} }, 'Rotate token'),
					d.builtin ? null : h('button', { type: 'button', class: 'small danger', onclick: async () => {
						if (!await confirmBox(`Remove drone ${c.d.name}?`, 'Its token stops working and its links disappear from job creation.', 'Remove'))
							return;
						try {
							await api.del(`/drones/${c.d.id}`);
							say('ok', `Drone ${c.d.name} was removed.`);
							poll();
						} catch (e) {
							say('error', `Could not remove ${c.d.name}: ${errorText(e)}`);
						}
					} }, 'Remove')) : null;
				c.el = h('section', { class: 'card drone', 'aria-labelledby': c.head.id, 'data-drone': d.name },
					h('div', { class: 'card-head' }, c.head, actions), c.info, c.links);
				cards.set(d.id, c);
			}
			c.d = d;
			replace(c.head, `Drone ${d.name} `, badge(d.state), d.builtin ? h('span', { class: 'tag' }, 'built-in') : null);
			replace(c.info, info(d));
			replace(c.links, linksTable((d.links || []).map((l) => ({ drone: d.name, ...l }))));
			return c.el;
		}

		async function poll() {
			let r;
			try {
				r = await api.get('/drones');
			} catch (e) {
				say('error', `Could not load the drones: ${errorText(e)}. Retrying…`);
				return;
			}
			if (!ctx.alive) return;
			const items = r.items || [];
			const els = items.map(card);
			for (const id of [...cards.keys()])
				if (!items.some((d) => d.id === id)) cards.delete(id);
			const key = items.map((d) => d.id).join(',');
			if (key !== listKey) {
				listKey = key;
				replace(list, regSection, items.length ? els : note('empty', 'No drone is registered.'));
			}
		}

		await ctx.every(POLL_MS, poll);
	},
};
