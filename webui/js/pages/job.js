/* job.js — one capture job: parameters, progress, per-drone/per-link distribution, what a
 * selection by application kept, live throughput, application and service mix, the
 * post-processing script's log, the dataset's files, and the one-click archive download.
 *
 * Polls the job every second while it is active (every 10 s once ended). Rates are computed
 * here from successive counter readings (Δcounter / Δt), so any drone that reports running
 * counters gets a chart; one that reports only final counters gets a note instead. */
import * as api from '../api.js';
import { h, replace, note, errorText, pageHead, section, badge, progress, fmtBytes, fmtCount,
	fmtDuration, timeEl, confirmBox } from '../dom.js';
import { rateChart, barList, stackBar } from '../charts.js';
import * as J from '../jobs.js';

const ACTIVE_POLL = 1000, ENDED_POLL = 10000, SIDE_POLL = 4000, MAX_SAMPLES = 600;

/* bytes | sessions | packets, for a mix; pick(m) redraws it */
function metricToggle(id, current, pick) {
	return h('div', { class: 'seg-toggle', id, role: 'group', 'aria-label': 'Measure' },
		['bytes', 'sessions', 'packets'].map((m) => h('button', { type: 'button', 'data-metric': m,
			'aria-pressed': String(m === current), onclick: (ev) => {
				for (const b of ev.target.parentNode.children)
					b.setAttribute('aria-pressed', String(b.dataset.metric === m));
				pick(m);
			} }, m)));
}

function dl(rows) {
	return h('dl', { class: 'params' }, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/* asked for, and how far back each link's dataset really begins (the drone's look-back ring
 * held that much when the job started) */
function lookbackText(j) {
	const reached = (j.links || []).map((l) => l.counters && l.counters.lookback).filter(Boolean)
		.map((b) => `${b.reached_s.toFixed(1)} s`);
	return `${fmtDuration(j.lookback_s)} asked` + (reached.length ? `; reached ${reached.join(', ')}` : '');
}

/* where flow records went, and once links have ended what became of them (the manifests'
 * "export": sent, lost because the queue was full, lost at the collector) */
function exportText(j) {
	const xs = (j.links || []).map((l) => l.counters && l.counters.export).filter(Boolean);
	if (!xs.length)
		return h('code', {}, j.export);
	const sum = (k) => xs.reduce((a, x) => a + (x[k] || 0), 0);
	const lost = sum('lost_queue_full') + sum('lost_collector');
	return [h('code', {}, j.export), ` — ${fmtCount(sum('sent'))} records sent`,
		lost ? h('span', { class: 'bad' }, `, ${fmtCount(lost)} lost (${fmtCount(sum('lost_queue_full'))} queue full, ${fmtCount(sum('lost_collector'))} at the collector)`)
			: ', none lost'];
}

/* the applications or services a job keeps, and what becomes of a session still unidentified
 * when its wait ends */
function selectionText(j) {
	return [h('span', { class: 'mono', id: 'job-apps' }, j.apps.join(', ')),
		` — a session unidentified after ${fmtCount(j.apps_packets)} packets or ${fmtDuration(j.apps_wait)} is ${j.apps_undecided === 'keep' ? 'kept' : 'dropped'}`];
}

/* what the links' drones report of the selection (each link's counters carry "selection":
 * sessions by outcome, why undecided sessions stopped waiting, packets left out), summed over
 * the links; null before any link reports one */
function selectionSum(j) {
	const sels = (j.links || []).map((l) => l.counters && l.counters.selection).filter((x) => x && typeof x === 'object');
	if (!sels.length)
		return null;
	const sum = { sessions: {}, undecided_at: {}, packets_unselected: 0 };
	for (const s of sels) {
		for (const g of ['sessions', 'undecided_at'])
			for (const [k, v] of Object.entries(s[g] || {}))
				sum[g][k] = (sum[g][k] || 0) + (Number(v) || 0);
		sum.packets_unselected += Number(s.packets_unselected) || 0;
	}
	return sum;
}

const SELECTION_LABELS = {
	sessions: ['Sessions', { selected: 'selected', unselected: 'left out', undecided_kept: 'unidentified, kept', undecided_dropped: 'unidentified, dropped' }],
	undecided_at: ['Unidentified sessions stopped waiting at', { packets: 'the packet bound', wait: 'the time bound', memory: 'the memory bound', end: 'their end' }],
};

function selectionView(j) {
	const sum = selectionSum(j);
	if (!sum)
		return note(J.isActive(j) ? 'info' : 'empty', J.isActive(j)
			? 'What the selection kept appears as the drones report it (at the latest when the capture ends).'
			: 'The drones reported nothing about the selection.');
	const rows = [];
	for (const [g, [title, labels]] of Object.entries(SELECTION_LABELS))
		for (const [k, v] of Object.entries(sum[g]))
			rows.push(h('tr', { 'data-key': `${g}.${k}` }, h('th', { scope: 'row' }, `${title}: ${labels[k] || k.replace(/_/g, ' ')}`),
				h('td', { class: 'num' }, fmtCount(v))));
	rows.push(h('tr', { 'data-key': 'packets_unselected' }, h('th', { scope: 'row' }, 'Packets of left-out sessions'),
		h('td', { class: 'num' }, fmtCount(sum.packets_unselected))));
	return [h('table', { class: 'selection', id: 'selection-counters' }, h('tbody', {}, rows)),
		h('p', { class: 'hint' }, 'Packets of left-out sessions are counted in filtered: the selection left them out as asked; they are not a loss.')];
}

function params(j) {
	return dl([
		['Owner', j.owner],
		j.group ? ['Group', j.shared === false ? `${j.group} (quota only; not shared)` : j.shared ? `${j.group} (shared)` : j.group] : null,
		['Links', J.linkNames(j).join(', ')],
		['Filter', j.filter ? h('code', {}, j.filter) : h('span', { class: 'muted' }, 'none (every packet)')],
		['Max size', fmtBytes(j.max_size)],
		['Max duration', fmtDuration(j.max_duration)],
		['Snap length', j.snaplen ? `${j.snaplen} bytes` : 'whole packets'],
		j.max_packets ? ['Max packets per link', fmtCount(j.max_packets)] : null,
		j.lookback_s ? ['Look-back', lookbackText(j)] : null,
		j.shard_size || j.shard_time ? ['Shards', [j.shard_size ? `${fmtBytes(j.shard_size)} each` : null,
			j.shard_time ? `closed after ${fmtDuration(j.shard_time)}` : null].filter(Boolean).join(', ')] : null,
		['IP anonymisation', j.anonymise ? 'yes (prefix-preserving, per-job key)' : 'no'],
		['Classification', j.classify ? 'on' : 'off'],
		['Session type', j.session_type || '—'],
		j.export ? ['Flow export', exportText(j)] : null,
		j.apps && j.apps.length ? ['Keeps only', selectionText(j)] : null,
		['Post-processing script', j.has_script ? `yes (timeout ${fmtDuration(j.script_timeout)})` : 'no'],
		j.description ? ['Description', j.description] : null,
		['Created', timeEl(j.created_at)],
		['Started', timeEl(j.started_at)],
		['Ended', timeEl(j.ended_at)],
	]);
}

/* Per-link rows from the job's link counters, or from the dataset's shard sizes when the
 * control plane only reports final totals for a single link. */
function distribution(j, files) {
	const ls = J.links(j).map((l) => ({ ...l, c: J.counters(l.counters) }));
	const known = ls.some((l) => l.c.bytes !== null || l.c.packets !== null);
	if (!known && files && ls.length === 1) {
		const sh = files.filter((f) => f.path.startsWith('shards/'));
		const bytes = sh.reduce((a, f) => a + f.size, 0);
		if (sh.length)
			ls[0].c = { ...ls[0].c, bytes, fromFiles: true };
	}
	return ls;
}

function distributionView(j, files) {
	const ls = distribution(j, files);
	const byDrone = new Map();
	for (const l of ls) {
		if (!byDrone.has(l.drone))
			byDrone.set(l.drone, []);
		byDrone.get(l.drone).push(l);
	}
	const val = (l) => l.c.bytes ?? 0;
	const total = ls.reduce((a, l) => a + val(l), 0);
	const out = [];
	if (byDrone.size > 1)
		out.push(h('h3', {}, 'Drones'), stackBar([...byDrone].map(([d, xs]) => ({ label: d, value: xs.reduce((a, l) => a + val(l), 0) })),
			{ label: 'Bytes by drone', fmt: fmtBytes }));
	for (const [d, xs] of byDrone)
		out.push(h('h3', {}, `Drone ${d}`), stackBar(xs.map((l) => ({ label: l.link, value: val(l) })),
			{ label: `Bytes by link on ${d}`, fmt: fmtBytes }));
	out.push(h('table', { class: 'dist' },
		h('thead', {}, h('tr', {}, ['Drone', 'Link', 'State', 'Packets', 'Bytes', 'Drops', 'Share']
			.map((t) => h('th', { scope: 'col' }, t)))),
		h('tbody', {}, ls.map((l) => h('tr', { 'data-link': `${l.drone}/${l.link}` },
			h('td', {}, l.drone), h('td', {}, l.link), h('td', {}, badge(l.state), l.reason ? ` ${l.reason}` : ''),
			h('td', { class: 'num' }, fmtCount(l.c.packets)),
			h('td', { class: 'num', 'data-bytes': l.c.bytes ?? '' }, fmtBytes(l.c.bytes), l.c.fromFiles ? ' (shards)' : ''),
			h('td', { class: 'num' }, fmtCount(l.c.drops)),
			h('td', { class: 'num' }, total ? `${(val(l) / total * 100).toFixed(1)} %` : '—'))))));
	if (!total && J.isActive(j))
		out.push(note('info', 'Byte counts per link appear as the drones report them.'));
	return out;
}

/* Each reason that lost packets, with the registry's hint (J.dropHints). */
function dropsView(reasons, hints) {
	const rows = Object.entries(reasons || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
	if (!rows.length)
		return null;
	return h('div', { class: 'drop-reasons', id: 'drop-reasons' }, h('h3', {}, 'Why packets were lost'),
		h('ul', {}, rows.map(([k, v]) => h('li', { 'data-reason': k },
			h('span', { class: 'mono' }, k), ' ', h('strong', {}, fmtCount(v)),
			hints.get(k) ? h('span', { class: 'hint' }, ` — ${hints.get(k)}`) : ''))));
}

function countersView(j, hints) {
	const c = J.counters(j.counters);
	const p = J.progress(j);
	const reasons = J.dropReasons(j.counters);
	const sizeText = p.bytes === null ? `— of ${fmtBytes(p.max_size)}` : `${fmtBytes(p.bytes)} of ${fmtBytes(p.max_size)}`;
	const durText = `${fmtDuration(p.elapsed)} of ${fmtDuration(p.max_duration)}`;
	return [
		j.state === 'pending' && j.pending_reason ? note('info', `Waiting: ${j.pending_reason}.`) : null,
		h('div', { class: 'limits' },
			h('div', { 'data-limit': 'size' }, h('span', { class: 'limit-name' }, 'Size'), progress(p.bytes, p.max_size, 'Size limit', sizeText)),
			h('div', { 'data-limit': 'duration' }, h('span', { class: 'limit-name' }, 'Duration'), progress(p.elapsed, p.max_duration, 'Duration limit', durText))),
		h('div', { class: 'stats' },
			h('div', {}, h('span', { class: 'stat-label' }, 'Packets'), h('span', { class: 'stat', 'data-counter': 'packets' }, fmtCount(c.packets))),
			h('div', {}, h('span', { class: 'stat-label' }, 'Bytes'), h('span', { class: 'stat', 'data-counter': 'bytes' }, fmtBytes(c.bytes))),
			h('div', {}, h('span', { class: 'stat-label' }, 'Drops'), h('span', { class: ['stat', c.drops ? 'warn' : ''], 'data-counter': 'drops' }, fmtCount(c.drops))),
			j.counters?.received !== undefined ? h('div', {}, h('span', { class: 'stat-label' },
				j.counters.matched !== undefined ? 'Received / matched' : 'Received on the link'),
			h('span', { class: 'stat' }, j.counters.matched !== undefined
				? `${fmtCount(j.counters.received)} / ${fmtCount(j.counters.matched)}` : fmtCount(j.counters.received))) : null),
		dropsView(reasons, hints),
	];
}

export default {
	title: 'Job',
	perm: 'jobs.read',
	async render(ctx) {
		const id = Number(ctx.params[0]);
		let job = null, files = null, samples = [], lastReading = null, appsMetric = 'bytes', apps = null;
		let servicesMetric = 'bytes', services = null;
		let sawRunning = false, lastState = null, sideBusy = false, sideAt = 0;
		const hints = await J.dropHints();

		const head = h('div');
		const err = h('div');
		const status = h('div');
		const paramsBox = h('div');
		const distBox = h('div');
		const selectionBox = h('div', { id: 'selection' });
		const selectionSec = section('Selection by application', selectionBox);
		const rateBox = h('div');
		const appsBox = h('div', { id: 'app-mix' });
		const servicesBox = h('div', { id: 'service-mix' });
		const scriptBox = h('div');
		const filesBox = h('div');
		const scriptSec = section('Post-processing script output', scriptBox);
		replace(ctx.root, head, err,
			h('div', { class: 'grid2' }, section('Status', status), section('Parameters', paramsBox)),
			section('Data distribution', distBox),
			selectionSec,
			section('Throughput', rateBox),
			h('div', { class: 'grid2' },
				section('Application mix', metricToggle('app-mix-measure', appsMetric, (m) => { appsMetric = m; drawApps(); }), appsBox),
				section('Service mix', metricToggle('service-mix-measure', servicesMetric, (m) => { servicesMetric = m; drawServices(); }), servicesBox)),
			scriptSec,
			section('Dataset files', filesBox));

		async function act(what, verb) {
			try {
				if (verb === 'delete') {
					if (!await confirmBox(`Delete job ${id}?`, `The job "${job.name}" and its whole dataset are removed for good.`))
						return;
					await api.del(`/jobs/${id}`);
					ctx.navigate('#/jobs');
					return;
				}
				if (verb === 'cancel' && !await confirmBox(`Cancel job ${id}?`, job.state === 'processing' ? 'The post-processing script is stopped and the job ends cancelled.' : 'The capture stops and the job ends cancelled.', 'Cancel job'))
					return;
				job = await api.post(`/jobs/${id}/${verb}`);
				lastState = null;
				draw();
			} catch (e) {
				replace(err, note('error', `Could not ${what}: ${errorText(e)}`));
			}
		}

		function drawHead() {
			const w = ctx.can('jobs.write');
			const ended = J.isEnded(job);
			replace(head, pageHead(h('span', {}, `Job ${job.id}: `, h('span', { class: 'job-name' }, job.name), ' ', badge(job.state)),
				w && job.state === 'running' ? h('button', { type: 'button', onclick: () => act('stop the job', 'stop') }, 'Stop') : null,
				w && ['pending', 'running', 'processing'].includes(job.state) ? h('button', { type: 'button', onclick: () => act('cancel the job', 'cancel') }, 'Cancel') : null,
				ended ? h('a', { class: 'button primary', id: 'download-archive', href: api.url(`/jobs/${id}/archive?format=tar.gz`), download: `job-${id}.tar.gz` }, 'Download dataset (.tar.gz)') : null,
				ended ? h('a', { class: 'button', href: api.url(`/jobs/${id}/archive`), download: `job-${id}.tar` }, '.tar') : null,
				w && ended ? h('button', { type: 'button', class: 'danger', onclick: () => act('delete the job', 'delete') }, 'Delete') : null));
		}

		function sample(j) {
			const c = J.counters(j.counters);
			const t = performance.now();
			if (c.packets === null && c.bytes === null)
				return;
			if (lastReading && t - lastReading.t >= 200) {
				const dt = (t - lastReading.t) / 1000;
				const r = (a, b) => (a === null || b === null ? null : Math.max(0, (a - b) / dt));
				samples.push({ t, packets_s: r(c.packets, lastReading.packets), bytes_s: r(c.bytes, lastReading.bytes),
					drops_s: r(c.drops, lastReading.drops) });
				if (samples.length > MAX_SAMPLES)
					samples = samples.slice(-MAX_SAMPLES);
			}
			if (!lastReading || t - lastReading.t >= 200)
				lastReading = { t, ...c };
		}

		function drawRates() {
			if (!samples.length) {
				replace(rateBox, note(J.isActive(job) ? 'info' : 'empty', J.isActive(job)
					? (job.state === 'pending' ? 'The job waits for its link; the chart starts when it runs.'
						: 'Waiting for running counters from the drone (this drone may report them only when the capture ends).')
					: sawRunning ? 'The drone reported no running counters while this page watched, so there is no throughput to draw.'
						: 'Throughput is drawn live while the job runs; this page did not watch it run.'));
				return;
			}
			replace(rateBox, h('div', { class: 'rates' },
				rateChart(samples, 'packets_s', { label: 'Packets/s', unit: 'pkt/s', cls: 's0' }),
				rateChart(samples, 'bytes_s', { label: 'Bytes/s', unit: 'B/s', cls: 's1' }),
				rateChart(samples, 'drops_s', { label: 'Drops/s', unit: '/s', cls: 's2' })));
		}

		/* the application and service mixes: one bar list each, drawn alike */
		function drawMix(box, list, key, metric, what) {
			if (list === null)
				return;
			if (list instanceof Error) {
				replace(box, note('error', `Could not load the ${what} mix: ${errorText(list)}`));
				return;
			}
			if (!list.length) {
				replace(box, note('empty', job.classify
					? (J.isActive(job) ? 'No classified sessions yet.' : 'No classified sessions in this dataset.')
					: 'Classification is off for this job.'));
				return;
			}
			/* what the dataset holds; what the link carried in those sessions beside it when
			 * it differs (packets dropped before the writer) */
			const beside = (a) => {
				const link = metric === 'bytes' ? a.link_bytes : metric === 'packets' ? a.link_packets : undefined;
				if (link === undefined || link === a[metric])
					return '';
				return ` (link ${metric === 'bytes' ? fmtBytes(link) : fmtCount(link)})`;
			};
			const items = list.map((a) => ({ label: a[key], value: a[metric] ?? 0,
				text: (metric === 'bytes' ? fmtBytes(a.bytes) : fmtCount(a[metric])) + beside(a) }))
				.sort((a, b) => b.value - a.value);
			const label = what === 'service' ? 'Service' : 'Application';
			replace(box, barList(items, { label: `${label} mix by ${metric} in the dataset` }));
		}
		function drawApps() {
			drawMix(appsBox, apps, 'app', appsMetric, 'application');
		}
		/* "unknown": sessions whose names are under no service of config/services.txt */
		function drawServices() {
			drawMix(servicesBox, services, 'service', servicesMetric, 'service');
		}

		function drawFiles() {
			if (files instanceof Error) {
				replace(filesBox, note(files.status === 404 ? 'empty' : 'error', files.status === 404
					? 'No dataset yet.' : `Could not list the files: ${errorText(files)}`));
				return;
			}
			if (!files)
				return;
			if (!files.length) {
				replace(filesBox, note('empty', J.isActive(job) ? 'Files appear as the capture writes them.' : 'The dataset holds no files.'));
				return;
			}
			const total = files.reduce((a, f) => a + f.size, 0);
			replace(filesBox, h('table', { class: 'files', id: 'files-table', 'data-job-state': filesState },
				h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'File'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'SHA-256'))),
				h('tbody', {}, files.map((f) => h('tr', { 'data-path': f.path },
					h('td', {}, h('a', { href: api.url(`/jobs/${id}/files/${f.path.split('/').map(encodeURIComponent).join('/')}`),
						download: f.path.split('/').pop() }, f.path)),
					h('td', { class: 'num', 'data-size': f.size }, fmtBytes(f.size)),
					h('td', {}, f.sha256 ? h('code', { class: 'hash', title: f.sha256 }, f.sha256) : h('span', { class: 'muted' }, 'not in manifest'))))),
				h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, `${files.length} files`), h('td', { class: 'num' }, fmtBytes(total)), h('td')))));
		}

		/* Files, apps and script log; a forced refresh asked for while one is in flight runs
		 * right after it, so the listing after the last state change is never skipped. */
		let sideAgain = false, filesState = '';
		async function refreshSide(force) {
			if (sideBusy) {
				sideAgain = sideAgain || force;
				return;
			}
			if (!force && performance.now() - sideAt < SIDE_POLL)
				return;
			sideBusy = true;
			sideAt = performance.now();
			const askedIn = job.state;
			const jobs = [];
			jobs.push(api.get(`/jobs/${id}/files`).then((r) => { files = r.items || []; }, (e) => { files = e; }));
			jobs.push(api.get(`/jobs/${id}/apps`).then((r) => { apps = r.items || []; services = r.services || []; },
				(e) => { apps = e; services = e; }));
			if (job.has_script && !['pending', 'running', 'finishing'].includes(job.state))
				jobs.push(api.get(`/jobs/${id}/script-log`, { text: true }).then((t) => {
					replace(scriptBox, t ? h('pre', { class: 'log', id: 'script-log' }, t) : note('empty', 'The script printed nothing.'));
				}, (e) => {
					replace(scriptBox, e.status === 404 ? note('empty', job.state === 'processing' ? 'The script is running; no output yet.' : 'The script left no output.')
						: note('error', `Could not load the script output: ${errorText(e)}`));
				}));
			jobs[0] = jobs[0].then(() => { filesState = askedIn; });
			await Promise.all(jobs);
			sideBusy = false;
			if (!ctx.alive) return;
			if (sideAgain) {
				sideAgain = false;
				refreshSide(true);
			}
			drawFiles();
			drawApps();
			drawServices();
			replace(distBox, distributionView(job, files instanceof Error ? null : files));
		}

		function draw() {
			if (job.state !== lastState) {
				drawHead();
				replace(paramsBox, params(job));
				scriptSec.hidden = !job.has_script;
				if (job.has_script && ['pending', 'running', 'finishing'].includes(job.state))
					replace(scriptBox, note('empty', 'The script runs in the sandbox after the capture ends.'));
				refreshSide(true);
				lastState = job.state;
			} else if (J.isActive(job)) {
				refreshSide(false);
			}
			replace(status, countersView(job, hints));
			replace(distBox, distributionView(job, files instanceof Error ? null : files));
			selectionSec.hidden = !(job.apps && job.apps.length);
			if (!selectionSec.hidden)
				replace(selectionBox, selectionView(job));
			drawRates();
		}

		let ticks = 0;
		await ctx.every(ACTIVE_POLL, async () => {
			if (job && !J.isActive(job) && ++ticks % (ENDED_POLL / ACTIVE_POLL) !== 0)
				return;
			try {
				const j = await api.get(`/jobs/${id}`);
				if (!ctx.alive) return;
				job = j;
				replace(err);
				document.title = `Job ${id}: ${job.name} — tide`;
				if (job.state === 'running')
					sawRunning = true;
				if (J.isActive(job))
					sample(job);
				draw();
			} catch (e) {
				if (!ctx.alive) return;
				if (!job)
					replace(ctx.root, pageHead(`Job ${id}`), note('error', e.status === 404
						? 'There is no such job, or it is not shared with you.' : `Could not load the job: ${errorText(e)}`),
					h('p', {}, h('a', { href: '#/jobs' }, 'Back to the dashboard')));
				else
					replace(err, note('error', `Could not refresh: ${errorText(e)}. Retrying…`));
				if (e.status === 404)
					ctx.alive = false;
			}
		});
	},
};
