#!/usr/bin/env bash
# Local infrastructure for development and tests, without Docker:
#   - Kafka 3.9.1, single node in KRaft mode (broker + controller), started from
#     jars that Maven fetches into .cache/kafka-libs/ (infra/kafka/pom.xml)
#       127.0.0.1:9092 PLAINTEXT, 127.0.0.1:9093 CONTROLLER,
#       127.0.0.1:9094 SASL_PLAINTEXT (SCRAM-SHA-256/512, PLAIN; scorestream / scorestream-secret)
#   - Redis on 127.0.0.1:6379 without persistence (Debian's redis-server,
#     apt-installed when missing; an already running Redis is reused)
# State (pid files, logs, Kafka data) lives in .infra/ (gitignored).
#
#   - on demand (cluster-up): a 3-node Redis Cluster on 127.0.0.1:7000-7002
#     (no replicas, no persistence; state in .infra/redis-cluster/) for
#     REDIS_CLUSTER_NODES=127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
#
# usage: scripts/infra.sh up|down|status|cluster-up|cluster-down|cluster-ha-up|cluster-ha-down
#   up      start what is not running; returns once the broker answers a
#           metadata request and Redis answers PING. Idempotent.
#   down    stop what this script started (per the pid files), including the
#           Redis Cluster if it runs. Idempotent.
#   status  print the state of both; exit 0 only when both answer.
#   cluster-up    start the 3 cluster nodes, join them (redis-cli --cluster
#           create) and return once every node reports cluster_state:ok.
#           Idempotent: a healthy cluster is reused; a partial one is rebuilt.
#   cluster-down  stop the cluster nodes this script started and delete their
#           state (the next cluster-up starts empty). Idempotent.
#   cluster-ha-up / cluster-ha-down  the same for a failover cluster: 3 masters
#           + 3 replicas on 127.0.0.1:7100-7105, node timeout 2 s (the Redis
#           Cluster failover test kills a master).
#
# Environment:
#   KAFKA_READY_TIMEOUT  seconds to wait for the broker (default 120)
#   KAFKA_HEAP_OPTS      broker heap (default "-Xms256m -Xmx512m")
#   MAVEN_OPTS           passed to mvn, e.g. -Dmaven.repo.local=/path/to/repo
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.infra"
KAFKA_DIR="$STATE/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_PID="$STATE/kafka.pid"
KAFKA_LOG="$STATE/kafka.log"
REDIS_DIR="$STATE/redis"
REDIS_PID="$STATE/redis.pid"
REDIS_LOG="$STATE/redis.log"
LIBS="$ROOT/.cache/kafka-libs"
POM="$ROOT/infra/kafka/pom.xml"
PROPS_SRC="$ROOT/infra/kafka/server.properties"
LOG4J="$ROOT/infra/kafka/log4j.properties"

KAFKA_HOST=127.0.0.1
KAFKA_PORT=9092
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
KAFKA_VERSION=3.9.1
SCRAM_USER=scorestream
SCRAM_PASSWORD=scorestream-secret
KAFKA_READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-120}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}

say() { printf '[infra] %s\n' "$*"; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_since() { # start_ms -> "12.3"
  local d=$(($(now_ms) - $1))
  printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

# ---------------------------------------------------------------- packages ---

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "$* missing and apt-get is not available: install $* yourself"
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_java() {
  command -v java >/dev/null 2>&1 || apt_install default-jre-headless
  local v major
  v=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  major=${v%%.*}
  [ "$major" = 1 ] && major=8
  [ "${major:-0}" -ge 11 ] 2>/dev/null ||
    die "Kafka $KAFKA_VERSION needs Java 11+ (17 recommended); found '${v:-unknown}'"
}

# Full runtime classpath of the broker, fetched once with Maven. The stamp
# records the POM it was built from, so editing the POM triggers a refetch.
ensure_kafka_libs() {
  local stamp="$LIBS/.complete" want
  want=$(sha256sum "$POM" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || apt_install maven
  local t0 tmp
  t0=$(now_ms)
  tmp="$LIBS.tmp.$$"
  rm -rf "$tmp"
  say "fetching Kafka $KAFKA_VERSION jars with Maven into .cache/kafka-libs/ (first run only)"
  mkdir -p "$(dirname "$LIBS")"
  if ! mvn -B -ntp -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$LIBS.mvn.log" 2>&1; then
    tail -n 40 "$LIBS.mvn.log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch the Kafka jars (needs Maven Central; full output: .cache/kafka-libs.mvn.log)"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$tmp/slf4j-reload4j-1.7.36.jar" ] ||
    die "Maven finished but $tmp lacks the Kafka jars"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "$want" >"$LIBS/.complete"
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $(secs_since "$t0") s"
}

ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  command -v redis-server >/dev/null 2>&1 || die "redis-server still not on PATH after apt-get install"
}

# --------------------------------------------------------------- processes ---

# pid_of <pidfile> <cmdline substring>: prints the pid if that process is alive
# and is what we think it is (guards against recycled pids), else fails.
pid_of() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
  echo "$pid"
}

# stop <name> <pidfile> <cmdline substring> <seconds before SIGKILL>
stop() {
  local pid i
  if ! pid=$(pid_of "$2" "$3"); then
    rm -f "$2"
    say "$1 not running (nothing started by this script)"
    return 0
  fi
  say "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $4 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$1 did not exit within $4 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$2"
  say "$1 stopped"
}

# True when something accepts TCP connections on host:port.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# ------------------------------------------------------------------- Redis ---

redis_ping() {
  local reply=''
  {
    exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT"
  } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ $reply == +PONG* ]]
}

redis_up() {
  if redis_ping; then
    if pid=$(pid_of "$REDIS_PID" redis-server); then
      say "Redis already running (pid $pid) on $REDIS_HOST:$REDIS_PORT"
    else
      say "Redis already answering on $REDIS_HOST:$REDIS_PORT (not started by this script): reusing it"
    fi
    return 0
  fi
  port_open "$REDIS_HOST" "$REDIS_PORT" &&
    die "something on $REDIS_HOST:$REDIS_PORT does not answer Redis PING; free the port first"
  ensure_redis_server
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PID"
  # 9>&-: do not hand our lock fd to the daemon.
  redis-server --bind "$REDIS_HOST" --port "$REDIS_PORT" --daemonize yes \
    --save '' --appendonly no --dir "$REDIS_DIR" \
    --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" </dev/null 9>&-
  local i
  for ((i = 0; i < 100; i++)); do
    redis_ping && break
    sleep 0.1
  done
  redis_ping || {
    tail -n 20 "$REDIS_LOG" >&2 2>/dev/null || true
    die "Redis did not answer PING on $REDIS_HOST:$REDIS_PORT within 10 s (log: .infra/redis.log)"
  }
  say "Redis up on $REDIS_HOST:$REDIS_PORT (pid $(cat "$REDIS_PID" 2>/dev/null || echo '?'))"
}

# ------------------------------------------------------------------- Kafka ---

# True when the broker answers a metadata request that lists at least one broker.
kafka_ready() {
  port_open "$KAFKA_HOST" "$KAFKA_PORT" || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -L -b "$KAFKA_HOST:$KAFKA_PORT" -m 2 2>/dev/null | grep -Eq '^ *[1-9][0-9]* brokers:'
  elif command -v node >/dev/null 2>&1 && [ -d "$ROOT/node_modules/kafkajs" ]; then
    (cd "$ROOT" && node -e '
      const { Kafka, logLevel } = require("kafkajs");
      const admin = new Kafka({ brokers: [process.argv[1]], logLevel: logLevel.NOTHING,
        connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
      admin.connect().then(() => admin.describeCluster())
        .then((c) => admin.disconnect().then(() => process.exit(c.brokers.length > 0 ? 0 : 1)))
        .catch(() => process.exit(1));
      setTimeout(() => process.exit(1), 4000).unref();
    ' "$KAFKA_HOST:$KAFKA_PORT") >/dev/null 2>&1
  else
    # Neither kcat nor kafkajs: fall back to "port open + the broker logged its start".
    grep -q 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null
  fi
}

java_tool() { # runs a Kafka CLI class with the fetched classpath
  java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$LOG4J" \
    -cp "$LIBS/*" "$@"
}

kafka_format() {
  if [ -f "$KAFKA_DATA/meta.properties" ]; then
    return 0
  fi
  local t0 cluster_id
  t0=$(now_ms)
  rm -rf "$KAFKA_DATA"
  mkdir -p "$KAFKA_DATA"
  cluster_id=$(java_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  [ -n "$cluster_id" ] || die "kafka.tools.StorageTool random-uuid printed no cluster id"
  say "formatting Kafka storage (cluster id $cluster_id, SCRAM user $SCRAM_USER)"
  if ! java_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_PROPS" \
    --add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
    >"$KAFKA_DIR/format.log" 2>&1; then
    cat "$KAFKA_DIR/format.log" >&2
    rm -rf "$KAFKA_DATA"
    die "formatting Kafka storage failed"
  fi
  echo "$cluster_id" >"$KAFKA_DIR/cluster-id"
  say "formatted in $(secs_since "$t0") s"
}

kafka_up() {
  local pid
  if pid=$(pid_of "$KAFKA_PID" kafka.Kafka); then
    if kafka_ready; then
      say "Kafka already running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"
      return 0
    fi
    say "Kafka process $pid is running but not ready yet; waiting for it"
  elif kafka_ready; then
    say "a Kafka broker already answers on $KAFKA_HOST:$KAFKA_PORT (not started by this script): reusing it"
    return 0
  else
    local p
    for p in 9092 9093 9094; do
      port_open 127.0.0.1 "$p" && die "port 127.0.0.1:$p is in use by something that is not our Kafka; free it first"
    done
    ensure_java
    ensure_kafka_libs
    mkdir -p "$KAFKA_DIR"
    awk -v d="$KAFKA_DATA" '/^log\.dirs=/ { print "log.dirs=" d; next } { print }' \
      "$PROPS_SRC" >"$KAFKA_PROPS"
    kafka_format
    [ -f "$KAFKA_LOG" ] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.1"
    rm -f "$KAFKA_PID"
    say "starting Kafka $KAFKA_VERSION (log: .infra/kafka.log)"
    # setsid + nohup: the broker outlives this script and the npm/CI shell that
    # ran it, and is not hit by a Ctrl-C aimed at them. The inner shell writes
    # its own pid (= the JVM's pid after exec) so the pid file is exact.
    # 9>&-: do not hand our lock fd to the broker.
    # shellcheck disable=SC2086,SC2016
    nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PID" \
      java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$LOG4J" -Dkafka.logs.dir="$STATE" \
      -cp "$LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
      </dev/null >"$KAFKA_LOG" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do
      [ -s "$KAFKA_PID" ] && break
      sleep 0.1
    done
  fi

  local t0 deadline
  t0=$(now_ms)
  deadline=$((t0 + KAFKA_READY_TIMEOUT * 1000))
  until kafka_ready; do
    if ! pid_of "$KAFKA_PID" kafka.Kafka >/dev/null; then
      printf '%s\n' '----- last 40 lines of .infra/kafka.log -----' >&2
      tail -n 40 "$KAFKA_LOG" >&2 2>/dev/null || true
      die "the Kafka process exited before becoming ready (full log: .infra/kafka.log)"
    fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      printf '%s\n' '----- last 40 lines of .infra/kafka.log -----' >&2
      tail -n 40 "$KAFKA_LOG" >&2 2>/dev/null || true
      die "Kafka did not answer a metadata request on $KAFKA_HOST:$KAFKA_PORT within ${KAFKA_READY_TIMEOUT}s; it is still running (pid $(cat "$KAFKA_PID")), stop it with 'bash scripts/infra.sh down'"
    fi
    sleep 0.25
  done
  say "Kafka ready on $KAFKA_HOST:$KAFKA_PORT (pid $(cat "$KAFKA_PID")) after $(secs_since "$t0") s"
}

# ----------------------------------------------------------- Redis Cluster ---

CLUSTER_DIR="$STATE/redis-cluster"
CLUSTER_PORTS=(7000 7001 7002)
CLUSTER_REPLICAS=0
CLUSTER_NODE_TIMEOUT=5000
CLUSTER_NAME='Redis Cluster'

# The failover cluster (cluster-ha-up): 3 masters + 3 replicas on other ports and state, and a
# short node timeout so a killed master is replaced within seconds.
use_ha_cluster() {
  CLUSTER_DIR="$STATE/redis-cluster-ha"
  CLUSTER_PORTS=(7100 7101 7102 7103 7104 7105)
  CLUSTER_REPLICAS=1
  CLUSTER_NODE_TIMEOUT=2000
  CLUSTER_NAME='Redis Cluster (3 masters + 3 replicas)'
}

cluster_cli() { # port, command...
  local port=$1
  shift
  redis-cli -h "$REDIS_HOST" -p "$port" "$@"
}

cluster_pid() { pid_of "$CLUSTER_DIR/$1/redis.pid" "redis-server.*:$1"; }

# True when every node answers and reports cluster_state:ok (and, with replicas, every master
# has an in-sync replica: a failover needs one).
cluster_ok() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do
    cluster_cli "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    if [ "$CLUSTER_REPLICAS" -gt 0 ] && cluster_cli "$p" info replication 2>/dev/null | grep -q '^role:master'; then
      cluster_cli "$p" info replication 2>/dev/null | grep -q 'state=online' || return 1
    fi
  done
}

cluster_stop_all() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do
    stop "Redis Cluster node $p" "$CLUSTER_DIR/$p/redis.pid" "redis-server.*:$p" 10
  done
}

cluster_up() {
  local p all_ours=1 t0
  t0=$(now_ms)
  for p in "${CLUSTER_PORTS[@]}"; do cluster_pid "$p" >/dev/null || all_ours=0; done
  if [ "$all_ours" -eq 1 ] && cluster_ok; then
    say "$CLUSTER_NAME already up on $REDIS_HOST:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[-1]}"
    return 0
  fi
  ensure_redis_server
  command -v redis-cli >/dev/null 2>&1 || apt_install redis-tools
  if [ "$all_ours" -eq 0 ]; then
    # Some node missing: rebuild from scratch (a half cluster cannot be trusted).
    cluster_stop_all >/dev/null
    for p in "${CLUSTER_PORTS[@]}"; do
      port_open "$REDIS_HOST" "$p" && die "port $REDIS_HOST:$p is in use by something this script did not start; free it first"
      port_open "$REDIS_HOST" $((p + 10000)) && die "cluster bus port $REDIS_HOST:$((p + 10000)) is in use; free it first"
    done
    rm -rf "$CLUSTER_DIR"
    for p in "${CLUSTER_PORTS[@]}"; do
      mkdir -p "$CLUSTER_DIR/$p"
      # 9>&-: do not hand our lock fd to the daemon.
      redis-server --bind "$REDIS_HOST" --port "$p" --daemonize yes \
        --cluster-enabled yes --cluster-config-file "$CLUSTER_DIR/$p/nodes.conf" \
        --cluster-node-timeout "$CLUSTER_NODE_TIMEOUT" --save '' --appendonly no --dir "$CLUSTER_DIR/$p" \
        --pidfile "$CLUSTER_DIR/$p/redis.pid" --logfile "$CLUSTER_DIR/$p/redis.log" </dev/null 9>&-
    done
    local i
    for p in "${CLUSTER_PORTS[@]}"; do
      for ((i = 0; i < 100; i++)); do
        [ "$(cluster_cli "$p" ping 2>/dev/null)" = PONG ] && break
        sleep 0.1
      done
      [ "$(cluster_cli "$p" ping 2>/dev/null)" = PONG ] ||
        die "Redis Cluster node $p did not answer PING within 10 s (log: $CLUSTER_DIR/$p/redis.log)"
    done
  fi
  # Nodes up but not joined yet (fresh start, or an earlier cluster-up died half way).
  if [ "$(cluster_cli "${CLUSTER_PORTS[0]}" cluster info | awk -F: '/^cluster_slots_assigned/ {print $2}' | tr -d '\r')" != 16384 ]; then
    local nodes=()
    for p in "${CLUSTER_PORTS[@]}"; do nodes+=("$REDIS_HOST:$p"); done
    say "joining ${nodes[*]} into a cluster"
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$CLUSTER_REPLICAS" --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 || {
      cat "$CLUSTER_DIR/create.log" >&2
      die "redis-cli --cluster create failed (log: $CLUSTER_DIR/create.log)"
    }
  fi
  local deadline=$(($(now_ms) + 30000))
  until cluster_ok; do
    [ "$(now_ms)" -ge "$deadline" ] && die "$CLUSTER_NAME not cluster_state:ok on every node within 30 s"
    sleep 0.1
  done
  say "$CLUSTER_NAME up on $REDIS_HOST:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[-1]} after $(secs_since "$t0") s: REDIS_CLUSTER_NODES=$(printf "$REDIS_HOST:%s," "${CLUSTER_PORTS[@]}" | sed 's/,$//')"
}

cluster_down() {
  local p any=0
  for p in "${CLUSTER_PORTS[@]}"; do cluster_pid "$p" >/dev/null && any=1; done
  if [ "$any" -eq 0 ]; then
    rm -rf "$CLUSTER_DIR"
    say "Redis Cluster not running (nothing started by this script)"
    return 0
  fi
  cluster_stop_all
  rm -rf "$CLUSTER_DIR"
}

# -------------------------------------------------------------------- main ---

with_lock() {
  mkdir -p "$STATE"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE/.lock"
    flock -w 300 9 || die "another 'infra.sh' is still running (lock .infra/.lock)"
  fi
}

cmd=${1:-}
case "$cmd" in
up)
  with_lock
  t_all=$(now_ms)
  redis_up
  kafka_up
  say "up ($(secs_since "$t_all") s): KAFKA_BROKERS=$KAFKA_HOST:$KAFKA_PORT REDIS_URL=redis://$REDIS_HOST:$REDIS_PORT"
  ;;
down)
  with_lock
  stop Kafka "$KAFKA_PID" kafka.Kafka 60
  stop Redis "$REDIS_PID" redis-server 10
  if [ -d "$CLUSTER_DIR" ]; then cluster_down; fi
  use_ha_cluster
  if [ -d "$CLUSTER_DIR" ]; then cluster_down; fi
  ;;
cluster-up)
  with_lock
  cluster_up
  ;;
cluster-down)
  with_lock
  cluster_down
  ;;
cluster-ha-up)
  with_lock
  use_ha_cluster
  cluster_up
  ;;
cluster-ha-down)
  with_lock
  use_ha_cluster
  cluster_down
  ;;
status)
  rc=0
  if kafka_ready; then
    if pid=$(pid_of "$KAFKA_PID" kafka.Kafka); then
      say "Kafka: up on $KAFKA_HOST:$KAFKA_PORT (pid $pid)"
    else
      say "Kafka: up on $KAFKA_HOST:$KAFKA_PORT (not started by this script)"
    fi
  elif pid=$(pid_of "$KAFKA_PID" kafka.Kafka); then
    say "Kafka: starting or unhealthy (pid $pid, not answering on $KAFKA_HOST:$KAFKA_PORT)"
    rc=1
  else
    say "Kafka: down"
    rc=1
  fi
  if redis_ping; then
    if pid=$(pid_of "$REDIS_PID" redis-server); then
      say "Redis: up on $REDIS_HOST:$REDIS_PORT (pid $pid)"
    else
      say "Redis: up on $REDIS_HOST:$REDIS_PORT (not started by this script)"
    fi
  else
    say "Redis: down"
    rc=1
  fi
  exit "$rc"
  ;;
*)
  echo "usage: $0 up|down|status|cluster-up|cluster-down|cluster-ha-up|cluster-ha-down" >&2
  exit 2
  ;;
esac
