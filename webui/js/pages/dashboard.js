/* dashboard.js — every capture job the user may see (GET /jobs: own and group jobs, or all with
 * jobs.read_all), polled every 1.5 s and updated cell by cell, so focus and scroll stay put.
 * Sortable by any column (buttons in the headers), filtered by text and by state. */
import * as api from '../api.js';
import { h, replace, note, errorText, pageHead, badge, progress, fmtBytes, fmtCount,
	fmtDuration, timeEl, sortHeader } from '../dom.js';
import * as J from '../jobs.js';

const POLL_MS = 1500;

const COLUMNS = [
	['id', 'ID', (j) => j.id],
	['name', 'Name', (j) => j.name.toLowerCase()],
	['state', 'State', (j) => J.STATES.indexOf(j.state)],
	['owner', 'Owner', (j) => j.owner],
	['links', 'Links', (j) => J.linkNames(j).join(' ')],
	['size', 'Size', (j) => { const p = J.progress(j); return p.max_size ? (p.bytes ?? 0) / p.max_size : 0; }],
	['duration', 'Duration', (j) => { const p = J.progress(j); return p.max_duration ? p.elapsed / p.max_duration : 0; }],
	['packets', 'Packets', (j) => J.counters(j.counters).packets ?? -1],
	['bytes', 'Bytes', (j) => J.counters(j.counters).bytes ?? -1],
	['drops', 'Drops', (j) => J.counters(j.counters).drops ?? -1],
	['created', 'Created', (j) => j.created_at || ''],
];

function cells(j) {
	const p = J.progress(j);
	const c = J.counters(j.counters);
	const sizeText = p.bytes === null ? `— of ${fmtBytes(p.max_size)}` : `${fmtBytes(p.bytes)} of ${fmtBytes(p.max_size)}`;
	const durText = `${fmtDuration(p.elapsed)} of ${fmtDuration(p.max_duration)}`;
	return {
		id: [String(j.id), () => String(j.id)],
		name: [`${j.name}`, () => h('a', { href: `#/jobs/${j.id}` }, j.name)],
		state: [j.state + j.reason, () => [badge(j.state), j.reason ? h('div', { class: 'reason' }, j.reason) : null]],
		owner: [j.owner + (j.group || ''), () => [j.owner, j.group ? h('div', { class: 'muted' }, j.group) : null]],
		links: [J.linkNames(j).join(','), () => J.linkNames(j).map((n) => h('div', { class: 'mono' }, n))],
		size: [sizeText + (p.bytes ?? ''), () => progress(p.bytes, p.max_size, `Size of job ${j.id}`, sizeText)],
		duration: [durText, () => progress(p.elapsed, p.max_duration, `Duration of job ${j.id}`, durText)],
		packets: [String(c.packets), () => fmtCount(c.packets)],
		bytes: [String(c.bytes), () => fmtBytes(c.bytes)],
		drops: [String(c.drops), () => h('span', { class: c.drops ? 'warn' : '' }, fmtCount(c.drops))],
		created: [j.created_at || '', () => timeEl(j.created_at)],
	};
}

export default {
	title: 'Dashboard',
	perm: 'jobs.read',
	async render(ctx) {
		const sort = { key: 'id', dir: -1 };
		let jobs = null;
		const search = h('input', { type: 'search', placeholder: 'name, owner, link, filter…', id: 'job-filter' });
		const stateSel = h('select', { id: 'state-filter' },
			h('option', { value: '' }, 'All states'), h('option', { value: 'active' }, 'Active'),
			h('option', { value: 'ended' }, 'Ended'), J.STATES.map((s) => h('option', { value: s }, s)));
		const status = h('div', { class: 'status-line', 'aria-live': 'polite' });
		const errBox = h('div');
		const thead = h('thead');
		const tbody = h('tbody');
		const table = h('table', { class: 'jobs', id: 'jobs-table' }, h('caption', { class: 'sr-only' },
			'Capture jobs; column headers sort'), thead, tbody);
		const empty = h('div');
		const rows = new Map();

		replace(ctx.root,
			pageHead('Capture jobs', ctx.can('jobs.write') ? h('a', { class: 'button primary', href: '#/jobs/new' }, 'New job') : null),
			h('div', { class: 'toolbar' },
				h('label', { for: 'job-filter' }, 'Filter'), search,
				h('label', { for: 'state-filter' }, 'State'), stateSel, status),
			errBox, h('div', { class: 'table-wrap' }, table), empty);

		function header() {
			replace(thead, h('tr', {}, COLUMNS.map(([k, label]) => sortHeader(label, k, sort, (key) => {
				sort.dir = sort.key === key ? -sort.dir : (key === 'id' || key === 'created' ? -1 : 1);
				sort.key = key;
				header();
				draw();
			}))));
		}

		function matches(j) {
			const s = stateSel.value;
			if (s === 'active' && !J.isActive(j)) return false;
			if (s === 'ended' && !J.isEnded(j)) return false;
			if (s && s !== 'active' && s !== 'ended' && j.state !== s) return false;
			const q = search.value.trim().toLowerCase();
			if (!q) return true;
			return [String(j.id), j.name, j.owner, j.state, j.filter || '', j.group || '', ...J.linkNames(j)]
				.some((t) => t.toLowerCase().includes(q));
		}

		function draw() {
			if (!jobs)
				return;
			const col = COLUMNS.find(([k]) => k === sort.key);
			const shown = jobs.filter(matches).sort((a, b) => {
				const x = col[2](a), y = col[2](b);
				return (x < y ? -1 : x > y ? 1 : a.id - b.id) * sort.dir;
			});
			const keep = new Set();
			shown.forEach((j, i) => {
				keep.add(j.id);
				let row = rows.get(j.id);
				if (!row) {
					row = { tr: h('tr', { 'data-job-id': j.id }), tds: {}, sig: {} };
					for (const [k] of COLUMNS) {
						row.tds[k] = h('td', { 'data-col': k, 'data-limit': k === 'size' || k === 'duration' ? k : null });
						row.tr.append(row.tds[k]);
					}
					rows.set(j.id, row);
				}
				row.tr.dataset.state = j.state;
				for (const [k, [sig, make]] of Object.entries(cells(j))) {
					if (row.sig[k] !== sig) {
						row.sig[k] = sig;
						replace(row.tds[k], make());
					}
				}
				if (tbody.children[i] !== row.tr)
					tbody.insertBefore(row.tr, tbody.children[i] || null);
			});
			for (const [id, row] of rows) {
				if (!keep.has(id)) {
					row.tr.remove();
					if (!jobs.some((j) => j.id === id))
						rows.delete(id);
				}
			}
			table.hidden = shown.length === 0;
			if (jobs.length === 0)
				replace(empty, note('empty', 'No capture jobs yet. ', ctx.can('jobs.write')
					? h('a', { href: '#/jobs/new' }, 'Create the first one.') : 'Jobs shared with you appear here.'));
			else if (shown.length === 0)
				replace(empty, note('empty', 'No job matches the filter.'));
			else
				replace(empty);
			replace(status, `${shown.length} of ${jobs.length} jobs · updated ${new Date().toLocaleTimeString()}`);
		}

		search.addEventListener('input', draw);
		stateSel.addEventListener('change', draw);
		header();
		table.hidden = true;
		await ctx.every(POLL_MS, async () => {
			try {
				const r = await api.get('/jobs?limit=1000');
				if (!ctx.alive) return;
				jobs = r.items || [];
				replace(errBox);
				draw();
			} catch (e) {
				if (!ctx.alive) return;
				replace(errBox, note('error', `Could not load the jobs: ${errorText(e)}. Retrying…`));
			}
		});
	},
};
