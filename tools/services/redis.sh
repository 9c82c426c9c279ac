#!/usr/bin/env bash
# Runs a throwaway redis-server for development and tests.
#
#   tools/services/redis.sh start  [PORT] [DIR]   start (idempotent), wait until it answers PONG
#   tools/services/redis.sh stop   [PORT] [DIR]   stop the server started in DIR (idempotent)
#   tools/services/redis.sh status [PORT] [DIR]   exit 0 when something answers PONG on PORT
#
# PORT defaults to 6390, DIR to ${TMPDIR:-/tmp}/taskstate-redis-PORT. The server keeps nothing on
# disk (no RDB snapshots, no AOF) and listens on 127.0.0.1 only. When redis-server is not
# installed, `start` installs Debian's package (as root, or through sudo).
set -euo pipefail

usage() {
	echo "usage: $0 start|stop|status [PORT] [DIR]" >&2
	exit 2
}

[[ $# -ge 1 && $# -le 3 ]] || usage
action=$1
port=${2:-6390}
dir=${3:-${TMPDIR:-/tmp}/taskstate-redis-$port}
[[ $port =~ ^[0-9]+$ ]] || {
	echo "redis.sh: bad port '$port'" >&2
	exit 2
}
# Absolute: redis-server changes into --dir before it writes its pidfile.
dir=$(realpath -m -- "$dir")
pidfile=$dir/redis.pid
logfile=$dir/redis.log
wait_s=${TASKSTATE_REDIS_WAIT_S:-15}

log() { echo "redis.sh: $*" >&2; }

install_redis() {
	if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
		return 0
	fi
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo -n)
		else
			log "redis-server is not installed and this user cannot install it (not root, no sudo)"
			return 1
		fi
	fi
	log "installing Debian's redis-server package"
	# policy-rc.d exit 101 keeps the package's own service (port 6379) from being started.
	local policy=/usr/sbin/policy-rc.d created_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		created_policy=1
	fi
	local rc=0
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
	if [[ $rc -eq 0 ]]; then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || rc=$?
	fi
	if [[ $created_policy -eq 1 ]]; then
		"${sudo[@]}" rm -f "$policy"
	fi
	if [[ $rc -ne 0 ]] || ! command -v redis-server >/dev/null 2>&1; then
		log "could not install redis-server (apt-get exit $rc)"
		return 1
	fi
}

pong() {
	command -v redis-cli >/dev/null 2>&1 || return 1
	[[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]
}

alive() {
	# kill -0 also succeeds for a zombie (exited, not yet reaped by its parent): not alive.
	kill -0 "$1" 2>/dev/null || return 1
	local stat
	if stat=$(cat "/proc/$1/stat" 2>/dev/null); then
		stat=${stat##*) }
		[[ ${stat:0:1} != Z ]]
	fi
}

our_pid() {
	# The pid of the server this DIR started, if it is still alive.
	[[ -s $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && echo "$pid"
}

start() {
	install_redis
	mkdir -p "$dir"
	if pong; then
		if our_pid >/dev/null; then
			log "already running on port $port (pid $(our_pid))"
		else
			log "something already answers PONG on port $port (not started from $dir); using it"
		fi
		return 0
	fi
	if pid=$(our_pid); then
		log "pid $pid from $pidfile is alive but does not answer on port $port; stopping it"
		stop
	fi
	rm -f "$pidfile"
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize yes --pidfile "$pidfile" --logfile "$logfile" --dir "$dir"
	local deadline=$((SECONDS + wait_s))
	until pong; do
		if ((SECONDS >= deadline)); then
			log "redis-server did not answer PONG on port $port within ${wait_s}s; last log lines:"
			tail -n 20 "$logfile" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
	log "redis-server listening on 127.0.0.1:$port (pid $(our_pid || echo '?'), dir $dir)"
}

stop() {
	local pid
	if ! pid=$(our_pid); then
		rm -f "$pidfile"
		log "not running (no live pid in $pidfile)"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + wait_s))
	while alive "$pid"; do
		if ((SECONDS >= deadline)); then
			log "pid $pid did not exit within ${wait_s}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$pidfile"
	log "stopped (pid $pid)"
}

status() {
	if pong; then
		echo "redis on 127.0.0.1:$port: up$(pid=$(our_pid) && echo " (pid $pid)")"
		return 0
	fi
	echo "redis on 127.0.0.1:$port: down"
	return 1
}

case $action in
start) start ;;
stop) stop ;;
status) status ;;
*) usage ;;
esac
