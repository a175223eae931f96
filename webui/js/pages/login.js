/* login.js — sign-in for local and LDAP accounts (the server decides which; one form).
 *
 * Errors are shown by their stable code: wrong credentials, an LDAP account mapped to no tide
 * group, a directory that cannot answer, and lock-out (429 with Retry-After), for which the
 * button stays disabled and counts down until the server will listen again. */
import * as api from '../api.js';
import { h, replace, field, note, errorText } from '../dom.js';

function message(e) {
	switch (e.code) {
	case 'invalid_credentials':
		return 'Wrong user name or password.';
	case 'rate_limited':
		return 'Too many failed sign-ins for this account or address.';
	case 'no_tide_group':
		return 'Your directory (LDAP) account is not in any group that may use tide. Ask an administrator.';
	case 'ldap_unavailable':
		return 'The directory (LDAP) cannot be reached, so directory accounts cannot sign in now; local accounts still work.';
	case 'missing_field':
	case 'invalid_field':
		return 'Enter a user name and a password.';
	default:
		return `Sign-in failed: ${errorText(e)}`;
	}
}

export default {
	title: 'Sign in',
	perm: null,
	async render(ctx, done) {
		const user = h('input', { name: 'username', autocomplete: 'username', required: true,
			autocapitalize: 'off', spellcheck: 'false', maxlength: 64 });
		const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password',
			required: true, maxlength: 1024 });
		const btn = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
		const status = h('div', { class: 'login-status', 'aria-live': 'polite' });
		let countdown = null, lockedName = null;
		ctx.onLeave(() => clearInterval(countdown));

		/* The lock is the server's, per account (and per address): another name may be tried. */
		function unlock(text) {
			clearInterval(countdown);
			lockedName = null;
			btn.disabled = false;
			replace(status, text ? note('info', text) : null);
		}
		user.addEventListener('input', () => {
			if (lockedName !== null && user.value.toLowerCase() !== lockedName)
				unlock();
		});

		function lockedFor(seconds, text) {
			let left = seconds;
			lockedName = user.value.toLowerCase();
			btn.disabled = true;
			const show = () => replace(status, note('error', h('span', { class: 'login-error' }, text),
				' ', h('span', { class: 'retry', 'data-seconds': left }, `Try again in ${left} s.`)));
			show();
			clearInterval(countdown);
			countdown = setInterval(() => {
				left--;
				if (left <= 0) {
					unlock('You may try again now.');
					return;
				}
				show();
			}, 1000);
		}

		const form = h('form', { class: 'login card', novalidate: true },
			h('h1', { tabindex: -1 }, h('img', { src: 'favicon.svg', alt: '', width: 28, height: 28 }), ' tide'),
			h('p', { class: 'hint' }, 'Sign in with your tide account or your directory (LDAP) account.'),
			ctx.params.notice ? note('info', ctx.params.notice) : null,
			field('User name', user), field('Password', pass), status, btn);
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			if (btn.disabled)
				return;
			if (!user.value || !pass.value) {
				replace(status, note('error', h('span', { class: 'login-error' }, 'Enter a user name and a password.')));
				(user.value ? pass : user).focus();
				return;
			}
			btn.disabled = true;
			replace(status, h('span', { class: 'muted' }, 'Signing in…'));
			try {
				const r = await api.post('/auth/login', { username: user.value, password: pass.value },
					{ noAuthRedirect: true });
				replace(status);
				await done({ user: r.user, csrf_token: r.csrf_token, expires_at: r.expires_at, auth: 'session' });
			} catch (e) {
				pass.value = '';
				if ((e.code === 'rate_limited' || e.code === 'ldap_unavailable') && e.retryAfter) {
					lockedFor(e.retryAfter, message(e));
				} else {
					btn.disabled = false;
					replace(status, note('error', h('span', { class: 'login-error' }, message(e))));
				}
				pass.focus();
			}
		});
		replace(ctx.root, h('div', { class: 'login-wrap' }, form));
		user.focus();
	},
};
