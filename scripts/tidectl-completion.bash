# tidectl-completion.bash — bash completion for tidectl (docs/CLI.md).
#
# Install: source it from ~/.bashrc, or copy it to /usr/share/bash-completion/completions/tidectl.
# Commands and options are listed here rather than asked of tidectl at every <TAB>, so completion
# never touches the network; tests/cli/test_tidectl.py checks it against the real commands.

_tidectl_global="--server --token --config --cacert --insecure --json --quiet --timeout --help"

_tidectl_opts() {
	case "$1" in
	"jobs create") echo "--name --description --link --filter --max-size --max-duration --snaplen
		--lookback --max-packets --shard-size --shard-time --anonymise --classify --session-type
		--export --apps --apps-undecided --apps-packets --apps-wait --group --script
		--script-timeout --check-only --no-check --wait" ;;
	"jobs list") echo "--state --limit --offset --all" ;;
	"jobs wait") echo "--state --for --interval" ;;
	download) echo "--output --format --files --retries --no-resume --no-verify --limit-rate" ;;
	"users create") echo "--group --disabled --password-stdin" ;;
	"users update") echo "--group --no-groups --enable --disable --password-stdin" ;;
	"groups create"|"groups update") echo "--name --description --permission --no-permissions --quota" ;;
	"tokens create") echo "--expires-in --save" ;;
	logs) echo "--output --tail" ;;
	audit) echo "--limit --before --action --actor --all" ;;
	login) echo "--user --password-stdin --name --expires-in --print" ;;
	top) echo "--telemetry --hive --interval --iterations --batch" ;;
	esac
}

_tidectl() {
	local cur prev cmd sub i
	cur="${COMP_WORDS[COMP_CWORD]}"
	prev="${COMP_WORDS[COMP_CWORD-1]}"
	COMPREPLY=()
	# the command words, skipping global options and their values
	cmd="" sub=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		--server|--token|--config|--cacert|--timeout) ((i++)) ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd="${COMP_WORDS[i]}"; elif [ -z "$sub" ]; then sub="${COMP_WORDS[i]}"; fi ;;
		esac
	done
	case "$prev" in
	--config|--cacert|--script|--output|-o) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--format) COMPREPLY=($(compgen -W "tar tar.gz" -- "$cur")); return ;;
	--export) compopt -o nospace 2>/dev/null; COMPREPLY=($(compgen -W "ipfix:// ipfix+udp:// ipfix+tcp:// json+tcp:// json+udp://" -- "$cur")); return ;;
	--session-type) COMPREPLY=($(compgen -W "flow biflow host" -- "$cur")); return ;;
	--apps-undecided) COMPREPLY=($(compgen -W "keep drop" -- "$cur")); return ;;
	--state) COMPREPLY=($(compgen -W "ended active pending running finishing processing done failed cancelled" -- "$cur")); return ;;
	--permission|-p) COMPREPLY=($(compgen -W "jobs.read jobs.write jobs.read_all users.admin drones.admin logs.read audit.read" -- "$cur")); return ;;
	--telemetry|-T) COMPREPLY=($(compgen -W "auto $(cd /var/run/dpdk 2>/dev/null && ls -d tide* 2>/dev/null)" -- "$cur")); return ;;
	esac
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "jobs files download users groups tokens drones links tune logs audit login top version help $_tidectl_global" -- "$cur"))
		return
	fi
	local groupsubs=""
	case "$cmd" in
	jobs) groupsubs="create list show wait stop cancel delete files script-log apps" ;;
	files) groupsubs="list" ;;
	users|groups) groupsubs="list show create update delete" ;;
	tokens) groupsubs="list create revoke" ;;
	drones) groupsubs="list show create delete rotate-token" ;;
	esac
	if [ -n "$groupsubs" ] && [ -z "$sub" ]; then
		COMPREPLY=($(compgen -W "$groupsubs" -- "$cur"))
		return
	fi
	local key="$cmd"
	[ -n "$groupsubs" ] && key="$cmd $sub"
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$(_tidectl_opts "$key") $_tidectl_global" -- "$cur"))
		return
	fi
	if [ "$cmd" = tune ] && [ -n "$sub" ]; then
		compopt -o nospace 2>/dev/null
		COMPREPLY=($(compgen -W "workers= rx_queues= rx_desc= tx_desc= burst= mempool_size= writer_cores= numa_node= hugepages= lookback_mib= busy_poll=" -- "$cur"))
	fi
}
complete -F _tidectl tidectl
