/* newjob.js — the capture job form, checked as it is filled in.
 *
 * The filter is compiled by the server (POST /jobs/validate runs the real dataplane's
 * --check-filter) 350 ms after the last keystroke; answers to older keystrokes are dropped. The
 * applications or services a job selects are checked the same way (the drone's classifier
 * tables know the names), and sent as an array.
 * Links come from GET /links, online ones only; limits have units; a script is read in the
 * browser with FileReader and sent as the job's "script". The submit button stays disabled,
 * with the reasons listed next to it, until every field is valid. A single local link is sent
 * as "link" (understood by every control plane), several as "links": ["drone/link", ...]. */
import * as api from '../api.js';
import { h, replace, field, note, errorText, pageHead, section, fmtBytes, newId } from '../dom.js';

const SIZE_UNITS = [['MiB', 2 ** 20], ['GiB', 2 ** 30], ['TiB', 2 ** 40]];
const TIME_UNITS = [['s', 1], ['min', 60], ['h', 3600], ['d', 86400]];
const MIN_SIZE = 2 ** 20, MAX_SIZE = 4 * 2 ** 40, MAX_DURATION = 604800, MAX_SCRIPT = 65536;
/* the job contract's bounds (dataplane/contract/tide_job.h); the server checks them again */
const MAX_SNAPLEN = 262144, MAX_LOOKBACK = 3600, MAX_SHARD_MIB = 65536, MAX_SHARD_TIME = 86400;
const MAX_EXPORT = 300; /* bytes of an export destination (tide_job.h) */
/* selection by application (tide_job.h): at most 16 names of 1-31 bytes, the bounds of a
 * session's wait to be identified */
const MAX_APPS = 16, APP_RE = /^[A-Za-z0-9._+\/-]{1,31}$/;
const MAX_APPS_PACKETS = 255, MAX_APPS_WAIT = 300;
const DEBOUNCE_MS = 350;

function unitInput(name, value, units, unit) {
	const n = h('input', { type: 'number', name, min: 0, step: 'any', value, inputmode: 'decimal', class: 'num-in' });
	const u = h('select', { name: `${name}_unit`, 'aria-label': `${name.replace('_', ' ')} unit` },
		units.map(([label, mult]) => h('option', { value: mult, selected: label === unit }, label)));
	return { n, u, value: () => (n.value === '' ? NaN : Number(n.value) * Number(u.value)) };
}

export default {
	title: 'New capture job',
	perm: 'jobs.write',
	async render(ctx) {
		const name = h('input', { name: 'name', required: true, maxlength: 128, autocomplete: 'off' });
		const desc = h('textarea', { name: 'description', rows: 2, maxlength: 1024 });
		const filter = h('input', { name: 'filter', class: 'mono', maxlength: 4096, autocomplete: 'off',
			spellcheck: 'false', placeholder: 'e.g. udp port 443 (empty = every packet)' });
		const filterStatus = h('div', { class: 'filter-status', id: 'filter-status', 'aria-live': 'polite' });
		filter.setAttribute('aria-describedby', 'filter-status');
		const size = unitInput('max_size', 100, SIZE_UNITS, 'MiB');
		const dur = unitInput('max_duration', 10, TIME_UNITS, 'min');
		const snaplen = h('input', { type: 'number', name: 'snaplen', min: 0, max: MAX_SNAPLEN, value: 0, class: 'num-in' });
		const maxPackets = h('input', { type: 'number', name: 'max_packets', min: 0, value: 0, class: 'num-in' });
		const lookback = h('input', { type: 'number', name: 'lookback_s', min: 0, max: MAX_LOOKBACK, value: 0, class: 'num-in' });
		const shardMiB = h('input', { type: 'number', name: 'shard_size_mib', min: 0, max: MAX_SHARD_MIB, value: 0, class: 'num-in' });
		const shardTime = h('input', { type: 'number', name: 'shard_time', min: 0, max: MAX_SHARD_TIME, value: 0, class: 'num-in' });
		const anonymise = h('input', { type: 'checkbox', name: 'anonymise' });
		const classify = h('input', { type: 'checkbox', name: 'classify', checked: true });
		const exportTo = h('input', { name: 'export', class: 'mono', maxlength: MAX_EXPORT, autocomplete: 'off',
			spellcheck: 'false', placeholder: 'e.g. ipfix://collector.example:4739 (empty = no export)' });
		/* the grammar of dataplane/contract/tide_export.h; the server gives the exact reason */
		const EXPORT_RE = /^(ipfix|ipfix\+udp|ipfix\+tcp|json\+tcp|json\+udp):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;
		const apps = h('input', { name: 'apps', maxlength: MAX_APPS * 33, autocomplete: 'off', spellcheck: 'false',
			placeholder: 'QUIC, YouTube' });
		const appsStatus = h('div', { class: 'filter-status', id: 'apps-status', 'aria-live': 'polite' });
		apps.setAttribute('aria-describedby', 'apps-status');
		const appsUndecided = h('select', { name: 'apps_undecided' },
			[['drop', 'drop them (default)'], ['keep', 'keep them']].map(([v, l]) => h('option', { value: v }, l)));
		const appsPackets = h('input', { type: 'number', name: 'apps_packets', min: 1, max: MAX_APPS_PACKETS, value: 32, class: 'num-in' });
		const appsWait = h('input', { type: 'number', name: 'apps_wait', min: 1, max: MAX_APPS_WAIT, value: 5, class: 'num-in' });
		const sessionType = h('select', { name: 'session_type' },
			[['biflow', 'bidirectional flows (biflow)'], ['flow', 'unidirectional flows (flow)'], ['host', 'host pairs (host)']]
				.map(([v, l]) => h('option', { value: v }, l)));
		const scriptFile = h('input', { type: 'file', name: 'script', accept: '.sh,.py,.pl,.awk,text/*' });
		const scriptInfo = h('div', { class: 'hint', 'aria-live': 'polite' }, 'No script: the dataset is kept as captured.');
		const scriptTimeout = h('input', { type: 'number', name: 'script_timeout', min: 1, max: 3600, value: 300, class: 'num-in' });
		const linksBox = h('fieldset', { class: 'links' }, h('legend', {}, 'Links'), h('p', { class: 'muted' }, 'Loading links…'));
		const groupSel = h('select', { name: 'group' }, h('option', { value: '' }, 'nobody — only me'),
			(ctx.me.user.groups || []).map((g) => h('option', { value: g.name }, g.name)));
		const submit = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Create job');
		const problems = h('ul', { class: 'problems', id: 'form-problems', 'aria-live': 'polite' });
		const result = h('div');

		let script = null; /* {name, text, bytes} */
		let filterState = { state: 'valid', text: '' };
		let filterSeq = 0, filterTimer = null;
		let appsState = { state: 'valid', names: [] }, appsSeq = 0, appsTimer = null;
		let links = [];
		ctx.onLeave(() => { clearTimeout(filterTimer); clearTimeout(appsTimer); });

		const form = h('form', { class: 'job-form', novalidate: true },
			section('Job',
				field('Name', name),
				field('Description (optional)', desc)),
			section('What to capture',
				linksBox,
				field('Share with group', groupSel, 'Members of the group with jobs.read see the job; with jobs.write they may stop, cancel or delete it. The job counts against this group\'s disk quota (unshared: my users group\'s, else my first group\'s).'),
				h('div', { class: 'field' }, h('label', { for: (filter.id = newId('f')) }, 'Filter (tcpdump syntax)'), filter, filterStatus)),
			section('Limits — the capture ends at whichever comes first',
				h('div', { class: 'field' }, h('label', { for: (size.n.id = newId('f')) }, 'Maximum size'), h('div', { class: 'unit' }, size.n, size.u),
					h('div', { class: 'hint' }, '1 MiB to 4 TiB')),
				h('div', { class: 'field' }, h('label', { for: (dur.n.id = newId('f')) }, 'Maximum duration'), h('div', { class: 'unit' }, dur.n, dur.u),
					h('div', { class: 'hint' }, '1 s to 7 days')),
				field('Maximum packets per link', maxPackets, '0 = no packet limit')),
			section('Shards — closed shards reach the Hive while the job runs',
				field('Shard size (MiB)', shardMiB, `0 = 256 MiB; otherwise 1 to ${MAX_SHARD_MIB}.`),
				field('Shard time (seconds)', shardTime, `0 = no time limit; otherwise 1 to ${MAX_SHARD_TIME}.`)),
			section('Look-back',
				field('Start up to this many seconds before now', lookback, 'From what each drone\'s look-back buffer still holds (the dataset\'s manifest says how far it reached). 0 to 3600; 0 = start now.')),
			section('Privacy and sessions',
				field('Snap length (bytes kept per packet)', snaplen, `0 keeps whole packets; otherwise 64 to ${MAX_SNAPLEN}.`),
				h('div', { class: 'check' }, anonymise, h('label', { for: (anonymise.id = newId('f')) }, 'Anonymise IP addresses (prefix-preserving, with a key of this job)')),
				field('Session type', sessionType),
				h('div', { class: 'check' }, classify, h('label', { for: (classify.id = newId('f')) }, 'Classify applications (application mix and labelled flows)')),
				h('div', { class: 'export-field' }, field('Export flow records to a collector (optional)', exportTo,
					'Each record as it ends: ipfix://HOST[:PORT] (UDP, port 4739 by default), ipfix+tcp://, json+tcp:// or json+udp://HOST:PORT. Sent and lost records are counted in the manifest.')),
				h('fieldset', { class: 'apps-field' }, h('legend', {}, 'Keep only some applications (optional)'),
					h('div', { class: 'field' }, h('label', { for: (apps.id = newId('f')) }, 'Applications or services'), apps,
						h('div', { class: 'hint' }, 'Comma separated, as the application mix names them (QUIC, TLS/HTTP2) or services (YouTube); empty keeps every session. Each new session\'s first packets wait until it is identified, then the whole session is kept or left out; the left-out packets are counted in filtered, not as a loss. Needs flow or biflow sessions.'),
						appsStatus),
					field('A session still unidentified when its wait ends', appsUndecided, 'Dropping keeps the dataset to what was asked for; keeping loses nothing that might be wanted.'),
					field('Packets a session may wait', appsPackets, `1 to ${MAX_APPS_PACKETS} (default 32); most sessions are identified within their first few packets.`),
					field('Seconds a session may wait', appsWait, `1 to ${MAX_APPS_WAIT} (default 5).`))),
			section('Post-processing (optional)',
				field('Script run in the sandbox after the capture (dataset read-only at /job; write results to /job/processed)', scriptFile),
				scriptInfo,
				h('button', { type: 'button', class: 'small', id: 'script-clear', hidden: true, onclick: () => {
					script = null;
					scriptFile.value = '';
					replace(scriptInfo, 'No script: the dataset is kept as captured.');
					document.getElementById('script-clear').hidden = true;
					check();
				} }, 'Remove script'),
				field('Script timeout (seconds)', scriptTimeout, '1 to 3600')),
			h('div', { class: 'submit-row' }, submit, problems), result);

		replace(ctx.root, pageHead('New capture job'), form);

		function selectedLinks() {
			return [...linksBox.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
		}

		function check() {
			const p = [];
			if (!name.value.trim())
				p.push('Give the job a name.');
			if (!selectedLinks().length)
				p.push(links.length ? 'Choose at least one online link.' : 'No link is online.');
			if (filterState.state === 'invalid')
				p.push('The filter does not compile.');
			else if (filterState.state === 'checking')
				p.push('Checking the filter…');
			else if (filterState.state === 'error')
				p.push('The filter could not be checked.');
			const s = size.value();
			if (!(Math.round(s) >= MIN_SIZE && Math.round(s) <= MAX_SIZE))
				p.push('Maximum size must be between 1 MiB and 4 TiB.');
			const d = dur.value();
			if (!(Math.round(d) >= 1 && Math.round(d) <= MAX_DURATION))
				p.push('Maximum duration must be between 1 s and 7 days.');
			const sl = Number(snaplen.value);
			if (!(Number.isInteger(sl) && (sl === 0 || (sl >= 64 && sl <= MAX_SNAPLEN))))
				p.push(`Snap length must be 0 or 64 to ${MAX_SNAPLEN}.`);
			const mp = Number(maxPackets.value);
			if (!(Number.isInteger(mp) && mp >= 0))
				p.push('Maximum packets must be 0 (no limit) or a whole number.');
			const ss = Number(shardMiB.value), st = Number(shardTime.value);
			if (!(Number.isInteger(ss) && ss >= 0 && ss <= MAX_SHARD_MIB))
				p.push(`Shard size must be 0 to ${MAX_SHARD_MIB} MiB.`);
			if (!(Number.isInteger(st) && st >= 0 && st <= MAX_SHARD_TIME))
				p.push(`Shard time must be 0 to ${MAX_SHARD_TIME} seconds.`);
			const lb = Number(lookback.value);
			if (!(Number.isInteger(lb) && lb >= 0 && lb <= MAX_LOOKBACK))
				p.push(`Look-back must be 0 to ${MAX_LOOKBACK} seconds.`);
			if (classify.checked && appsList().length) {
				if (appsState.state === 'invalid')
					p.push(`Applications: ${appsState.message}`);
				else if (appsState.state === 'checking')
					p.push('Checking the applications…');
				else if (appsState.state === 'error')
					p.push('The applications could not be checked.');
				if (sessionType.value === 'host')
					p.push('Keeping only some applications needs flow or biflow sessions (a host session holds every application of a host).');
				const ap = Number(appsPackets.value), aw = Number(appsWait.value);
				if (!(Number.isInteger(ap) && ap >= 1 && ap <= MAX_APPS_PACKETS))
					p.push(`Packets a session may wait must be 1 to ${MAX_APPS_PACKETS}.`);
				if (!(Number.isInteger(aw) && aw >= 1 && aw <= MAX_APPS_WAIT))
					p.push(`Seconds a session may wait must be 1 to ${MAX_APPS_WAIT}.`);
			}
			const ex = exportTo.value.trim();
			if (classify.checked && ex && !EXPORT_RE.test(ex))
				p.push('The export destination must be ipfix://, ipfix+udp://, ipfix+tcp://, json+tcp:// or json+udp:// HOST:PORT.');
			if (script) {
				const t = Number(scriptTimeout.value);
				if (!(Number.isInteger(t) && t >= 1 && t <= 3600))
					p.push('Script timeout must be 1 to 3600 seconds.');
				if (script.bytes < 1 || script.bytes > MAX_SCRIPT)
					p.push('The script must be 1 byte to 64 KiB.');
			}
			replace(problems, p.map((t) => h('li', {}, t)));
			submit.disabled = p.length > 0;
			return p.length === 0;
		}

		async function validateFilter() {
			const text = filter.value;
			const seq = ++filterSeq;
			if (!text.trim()) {
				filterState = { state: 'valid', text };
				replace(filterStatus, h('span', { class: 'muted' }, 'No filter: every packet is captured.'));
				check();
				return;
			}
			try {
				await api.post('/jobs/validate', { filter: text });
				if (seq !== filterSeq) return;
				filterState = { state: 'valid', text };
				replace(filterStatus, h('span', { class: 'ok', 'data-filter': 'valid' }, '✓ The filter compiles.'));
			} catch (e) {
				if (seq !== filterSeq) return;
				if (e.status === 422 || e.code === 'invalid_filter' || e.code === 'invalid_field') {
					filterState = { state: 'invalid', text };
					replace(filterStatus, h('span', { class: 'bad', 'data-filter': 'invalid' }, '✗ ', e.message));
				} else {
					filterState = { state: 'error', text };
					replace(filterStatus, h('span', { class: 'bad', 'data-filter': 'error' }, `Could not check the filter: ${errorText(e)}`));
				}
			}
			check();
		}

		/* the names as typed: blanks around commas ignored; the server holds the one grammar
		 * (tide_job_apps_parse) and says what is wrong with a list */
		function appsList() {
			const t = apps.value.trim();
			return t ? t.split(',').map((x) => x.trim()) : [];
		}

		/* the list's shape here, then the names by the drone's tables (POST /jobs/validate) */
		async function validateApps() {
			const names = appsList();
			const seq = ++appsSeq;
			const local = names.length > MAX_APPS ? `at most ${MAX_APPS} names`
				: names.some((n) => !n) ? 'an empty name in the list'
					: names.find((n) => !APP_RE.test(n)) !== undefined
						? `'${names.find((n) => !APP_RE.test(n))}' is not an application or service name (letters, digits, '-', '_', '.', '+', '/')` : null;
			if (!names.length || local) {
				appsState = local ? { state: 'invalid', names, message: local } : { state: 'valid', names };
				replace(appsStatus, local ? h('span', { class: 'bad', 'data-apps': 'invalid' }, '✗ ', local) : null);
				check();
				return;
			}
			try {
				await api.post('/jobs/validate', { apps: names });
				if (seq !== appsSeq) return;
				appsState = { state: 'valid', names };
				replace(appsStatus, h('span', { class: 'ok', 'data-apps': 'valid' }, '✓ The drone knows these names.'));
			} catch (e) {
				if (seq !== appsSeq) return;
				if (e.status === 400 || e.status === 422) {
					appsState = { state: 'invalid', names, message: e.message };
					replace(appsStatus, h('span', { class: 'bad', 'data-apps': 'invalid' }, '✗ ', e.message));
				} else {
					appsState = { state: 'error', names };
					replace(appsStatus, h('span', { class: 'bad', 'data-apps': 'error' }, `Could not check the applications: ${errorText(e)}`));
				}
			}
			check();
		}

		apps.addEventListener('input', () => {
			clearTimeout(appsTimer);
			appsSeq++;
			appsState = { state: 'checking', names: appsList() };
			replace(appsStatus, appsList().length ? h('span', { class: 'muted' }, 'Checking…') : null);
			check();
			appsTimer = setTimeout(validateApps, DEBOUNCE_MS);
		});

		filter.addEventListener('input', () => {
			clearTimeout(filterTimer);
			filterSeq++;
			filterState = { state: 'checking', text: filter.value };
			replace(filterStatus, h('span', { class: 'muted' }, 'Checking…'));
			check();
			filterTimer = setTimeout(validateFilter, DEBOUNCE_MS);
		});
		for (const el of [name, size.n, size.u, dur.n, dur.u, snaplen, maxPackets, lookback, shardMiB, shardTime, scriptTimeout, exportTo,
			appsPackets, appsWait, sessionType])
			el.addEventListener('input', check);
		/* flow records and applications exist only with classification: the export and the
		 * selection fields with them */
		const exportBox = form.querySelector('.export-field'), appsBox = form.querySelector('.apps-field');
		const showExport = () => { exportBox.hidden = appsBox.hidden = !classify.checked; check(); };
		classify.addEventListener('change', showExport);
		showExport();
		linksBox.addEventListener('change', check);

		scriptFile.addEventListener('change', () => {
			const f = scriptFile.files[0];
			if (!f) return;
			if (f.size > MAX_SCRIPT || f.size < 1) {
				script = { name: f.name, text: '', bytes: f.size };
				replace(scriptInfo, h('span', { class: 'bad' }, `${f.name} is ${fmtBytes(f.size)}; a script must be 1 byte to 64 KiB.`));
				check();
				return;
			}
			const rd = new FileReader();
			rd.onload = () => {
				const text = String(rd.result);
				script = { name: f.name, text, bytes: new TextEncoder().encode(text).length };
				const first = text.split('\n')[0].slice(0, 80);
				replace(scriptInfo, h('span', { id: 'script-name' }, `${f.name} (${fmtBytes(script.bytes)})`), ' — ',
					first.startsWith('#!') ? `runs with ${first.slice(2).trim()}` : 'runs with /bin/sh');
				document.getElementById('script-clear').hidden = false;
				check();
			};
			rd.onerror = () => {
				script = null;
				replace(scriptInfo, h('span', { class: 'bad' }, `Could not read ${f.name}.`));
				check();
			};
			rd.readAsText(f);
		});

		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			if (!check())
				return;
			const chosen = selectedLinks();
			const body = {
				name: name.value.trim(),
				filter: filter.value,
				max_size: Math.round(size.value()),
				max_duration: Math.round(dur.value()),
				snaplen: Number(snaplen.value),
				max_packets: Number(maxPackets.value),
				lookback_s: Number(lookback.value),
				shard_size: Number(shardMiB.value) * 2 ** 20,
				shard_time: Number(shardTime.value),
				anonymise: anonymise.checked,
				classify: classify.checked,
				session_type: sessionType.value,
			};
			if (classify.checked && exportTo.value.trim())
				body.export = exportTo.value.trim();
			if (classify.checked && appsList().length) {
				body.apps = appsList();
				body.apps_undecided = appsUndecided.value;
				body.apps_packets = Number(appsPackets.value);
				body.apps_wait = Number(appsWait.value);
			}
			if (desc.value.trim())
				body.description = desc.value.trim();
			if (chosen.length === 1 && chosen[0].startsWith('local/'))
				body.link = chosen[0].slice('local/'.length);
			else
				body.links = chosen;
			if (groupSel.value)
				body.group = groupSel.value;
			if (script) {
				body.script = script.text;
				body.script_timeout = Number(scriptTimeout.value);
			}
			submit.disabled = true;
			replace(result, h('p', { class: 'muted' }, 'Creating…'));
			try {
				const j = await api.post('/jobs', body);
				ctx.navigate(`#/jobs/${j.id}`);
			} catch (e) {
				const msg = {
					invalid_filter: 'The server refused the filter: ',
					invalid_field: 'The server refused a parameter: ',
					unknown_link: 'A chosen link does not exist (any more): ',
					quota_exceeded: 'The group\'s disk quota cannot hold this job\'s maximum size: ',
				}[e.code] || 'The job was not created: ';
				replace(result, note('error', msg, errorText(e)));
				check();
			}
		});

		try {
			const r = await api.get('/links');
			links = r.items || [];
		} catch (e) {
			replace(linksBox, h('legend', {}, 'Links'), note('error', `Could not load the links: ${errorText(e)}`));
			check();
			return;
		}
		const online = links.filter((l) => l.state === 'online');
		replace(linksBox, h('legend', {}, 'Links (from online drones)'),
			links.length === 0 ? note('empty', 'No drone has reported a link yet.') : null,
			links.map((l) => {
				const id = newId('link');
				const v = `${l.drone}/${l.name}`;
				const on = l.state === 'online';
				return h('div', { class: ['check', !on && 'off'] },
					h('input', { type: 'checkbox', id, value: v, disabled: !on, checked: on && online.length === 1 }),
					h('label', { for: id }, h('span', { class: 'mono' }, v), ' ',
						on ? '' : h('span', { class: 'muted' }, '(offline)'),
						l.busy ? h('span', { class: 'muted' }, ` — busy with job ${l.job}; this job queues behind it`) : '',
						l.device && l.device !== l.name ? h('span', { class: 'muted' }, ` — ${l.device}`) : ''));
			}));
		check();
		name.focus();
	},
};
