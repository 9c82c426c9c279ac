#!/usr/bin/env bash
# Runs AWS DynamoDB Local (the real one, from Maven Central) for tests and development.
#
#   tools/services/dynamodb.sh start  [PORT] [DIR]   start in the background (idempotent)
#   tools/services/dynamodb.sh stop   [PORT] [DIR]   stop it (idempotent)
#   tools/services/dynamodb.sh status [PORT] [DIR]   exit 0 when it answers on PORT
#   tools/services/dynamodb.sh fetch                 only download it into the cache
#
# PORT defaults to 8009, DIR (pidfile and log) to .tools/dynamodb/run-PORT.
# The server listens on 127.0.0.1 only, keeps its data in memory, and uses one database for
# every credential and region (DynamoDB Local's -sharedDb), so any static credentials work.
#
# DynamoDB Local and its sqlite4java native library are fetched once with Maven
# (tools/services/dynamodb-pom.xml) into .tools/dynamodb/ (TASKSTATE_DYNAMODB_CACHE overrides).
# DynamoDB Local only binds all interfaces by itself, so a ten-line launcher, compiled into the
# cache, starts the same server on a loopback-only connector.
# Needs: java (17+), javac, mvn, curl.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${TASKSTATE_DYNAMODB_CACHE:-$root/.tools/dynamodb}"
lib="$cache/lib"
launcher_dir="$cache/launcher"
pom="$here/dynamodb-pom.xml"
start_timeout="${TASKSTATE_DYNAMODB_START_TIMEOUT:-60}"

cmd="${1:-}"
port="${2:-8009}"
dir="${3:-$cache/run-$port}"
pidfile="$dir/dynamodb.pid"
logfile="$dir/dynamodb.log"

die() {
    echo "dynamodb.sh: $*" >&2
    exit 1
}

fetch() {
    # The stamp names the pom's content, so editing the pom (a new version) re-fetches.
    local stamp
    stamp="$cache/fetched-$(sha256sum "$pom" | cut -c1-16)"
    if [[ -f "$stamp" && -f "$lib/DynamoDBLocal.jar" && -f "$launcher_dir/LoopbackDynamoDBLocal.class" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn (Maven) is needed to fetch DynamoDB Local"
    command -v javac >/dev/null || die "javac (a JDK) is needed to build the loopback launcher"
    mkdir -p "$cache"
    rm -rf "$lib.tmp" "$launcher_dir"
    echo "dynamodb.sh: fetching DynamoDB Local with Maven into $lib" >&2
    if ! mvn -B -q -f "$pom" dependency:copy-dependencies \
        -DoutputDirectory="$lib.tmp" -Dmdep.stripVersion=true -DincludeScope=runtime \
        >"$cache/fetch.log" 2>&1; then
        cat "$cache/fetch.log" >&2
        die "could not fetch DynamoDB Local (see above)"
    fi
    [[ -f "$lib.tmp/libsqlite4java-linux-amd64.so" ]] ||
        die "the sqlite4java native library is missing from $lib.tmp"
    rm -rf "$lib"
    mv "$lib.tmp" "$lib"

    mkdir -p "$launcher_dir"
    cat >"$launcher_dir/LoopbackDynamoDBLocal.java" <<'JAVA'
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBRequestHandler;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBServerHandler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** DynamoDB Local (in memory, shared database) on HOST:PORT only; no telemetry. */
public final class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        // (port, inMemory, dbPath, sharedDb, delayTransientStatuses), as ServerRunner does.
        LocalDynamoDBServerHandler handler = new LocalDynamoDBServerHandler(
            new LocalDynamoDBRequestHandler(0, true, null, true, false), null);
        DynamoDBProxyServer proxy = new DynamoDBProxyServer(port, handler);
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost(host);
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(proxy.setUpHandler(handler));
        server.start();
        System.out.println("DynamoDB Local listening on " + host + ":" + port);
        server.join();
    }
}
JAVA
    javac -nowarn -cp "$lib/*" -d "$launcher_dir" "$launcher_dir/LoopbackDynamoDBLocal.java" \
        >"$cache/javac.log" 2>&1 || {
        cat "$cache/javac.log" >&2
        die "could not compile the loopback launcher"
    }
    rm -f "$cache"/fetched-*
    touch "$stamp"
}

running_pid() {
    # The pid from the pidfile, if that process is still our java.
    [[ -f "$pidfile" ]] || return 1
    local pid
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    grep -q "LoopbackDynamoDBLocal" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

answers() {
    # Any HTTP answer (DynamoDB Local says 400 to an unsigned request) means it is up.
    local code
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' -X POST "http://127.0.0.1:$port/" \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -d '{}' 2>/dev/null || true)"
    [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]
}

start() {
    [[ "$port" =~ ^[0-9]+$ ]] || die "bad port $port"
    if pid="$(running_pid)"; then
        if answers; then
            echo "dynamodb.sh: already running on 127.0.0.1:$port (pid $pid)"
            return 0
        fi
    elif answers; then
        die "port $port is already taken by another process"
    fi
    command -v java >/dev/null || die "java is needed to run DynamoDB Local"
    fetch
    mkdir -p "$dir"
    if [[ -z "${pid:-}" ]]; then
        # setsid: a stop signal sent to the caller's process group does not hit the server.
        setsid java -Xmx512m -Djava.library.path="$lib" -cp "$lib/*:$launcher_dir" \
            LoopbackDynamoDBLocal 127.0.0.1 "$port" >"$logfile" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$pidfile"
    fi
    local deadline=$((SECONDS + start_timeout))
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$logfile" >&2 || true
            rm -f "$pidfile"
            die "DynamoDB Local exited during start-up (log above)"
        fi
        if ((SECONDS >= deadline)); then
            kill "$pid" 2>/dev/null || true
            rm -f "$pidfile"
            cat "$logfile" >&2 || true
            die "DynamoDB Local did not answer on 127.0.0.1:$port within ${start_timeout}s"
        fi
        sleep 0.2
    done
    echo "dynamodb.sh: running on http://127.0.0.1:$port (pid $pid, log $logfile)"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$pidfile"
        echo "dynamodb.sh: not running (port $port)"
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    echo "dynamodb.sh: stopped (pid $pid)"
}

status() {
    if pid="$(running_pid)" && answers; then
        echo "dynamodb.sh: running on http://127.0.0.1:$port (pid $pid)"
        return 0
    fi
    echo "dynamodb.sh: not running (port $port)"
    return 1
}

case "$cmd" in
start) start ;;
stop) stop ;;
status) status ;;
fetch) fetch ;;
*)
    echo "usage: $0 start|stop|status [PORT] [DIR] | fetch" >&2
    exit 2
    ;;
esac
