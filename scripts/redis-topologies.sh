#!/usr/bin/env bash
# Local Redis topologies for the tests: a Redis Cluster (3 primaries + 3 replicas)
# and a Sentinel set-up (1 primary, 1 replica, 3 sentinels), each server its own
# process under $RILL_TOPOLOGY_DIR. Idempotent: `start` leaves running servers be.
#
#   scripts/redis-topologies.sh start|stop|status
#
# Ports (fixed, clear of the default 6379):
#   cluster    127.0.0.1:7000-7005        -> RILL_TEST_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:7000
#   sentinel   primary 6390, replica 6391, sentinels 26390-26392, service "rill"
#              -> RILL_TEST_REDIS_SENTINEL_URL=redis+sentinel://127.0.0.1:26390,127.0.0.1:26391,127.0.0.1:26392/rill
# Nothing is persisted: the servers run without RDB or AOF (test data only).
set -euo pipefail

DIR=${RILL_TOPOLOGY_DIR:-${TMPDIR:-/tmp}/rill-redis-topologies}
CLUSTER_PORTS=(7000 7001 7002 7003 7004 7005)
DATA_PORTS=(6390 6391)
SENTINEL_PORTS=(26390 26391 26392)
SERVICE=rill

up() { redis-cli -p "$1" ping >/dev/null 2>&1; }

wait_up() {
  for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.1; done
  echo "redis on port $1 did not start (see $DIR/$1/log)" >&2
  return 1
}

server() {  # port, extra redis-server arguments...
  local port=$1; shift
  up "$port" && return 0
  mkdir -p "$DIR/$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$DIR/$port" \
    --logfile "$DIR/$port/log" --pidfile "$DIR/$port/pid" --save "" --appendonly no "$@"
}

cluster_ok() { redis-cli -p 7000 cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }

start_cluster() {
  for port in "${CLUSTER_PORTS[@]}"; do
    server "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000
  done
  for port in "${CLUSTER_PORTS[@]}"; do wait_up "$port"; done
  if ! cluster_ok; then
    # Slots not assigned yet (a fresh start): let redis-cli form the cluster.
    if [[ $(redis-cli -p 7000 cluster info | grep -o 'cluster_slots_assigned:[0-9]*') == *:0 ]]; then
      redis-cli --cluster create $(printf '127.0.0.1:%s ' "${CLUSTER_PORTS[@]}") \
        --cluster-replicas 1 --cluster-yes >"$DIR/cluster-create.log"
    fi
    for _ in $(seq 1 100); do cluster_ok && break; sleep 0.1; done
  fi
  cluster_ok || { echo "redis cluster did not become ready" >&2; return 1; }
}

start_sentinel() {
  server 6390
  server 6391 --replicaof 127.0.0.1 6390
  wait_up 6390; wait_up 6391
  for port in "${SENTINEL_PORTS[@]}"; do
    up "$port" && continue
    mkdir -p "$DIR/$port"
    # Sentinel rewrites its config file as it learns the topology: one per sentinel.
    cat >"$DIR/$port/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
daemonize yes
dir $DIR/$port
logfile $DIR/$port/log
pidfile $DIR/$port/pid
sentinel monitor $SERVICE 127.0.0.1 6390 2
sentinel down-after-milliseconds $SERVICE 1000
sentinel failover-timeout $SERVICE 5000
sentinel parallel-syncs $SERVICE 1
EOF
    redis-server "$DIR/$port/sentinel.conf" --sentinel
  done
  for port in "${SENTINEL_PORTS[@]}"; do wait_up "$port"; done
  # Sentinels must have found the replica and each other before a failover can work.
  for _ in $(seq 1 100); do
    [[ $(redis-cli -p 26390 sentinel master "$SERVICE" 2>/dev/null |
         awk 'p{print; exit} /^num-other-sentinels$/{p=1}') == 2 ]] &&
      [[ $(redis-cli -p 26390 sentinel replicas "$SERVICE" 2>/dev/null | grep -c '^ip$') -ge 1 ]] &&
      return 0
    sleep 0.1
  done
  echo "sentinels did not discover each other and the replica" >&2
  return 1
}

stop_all() {
  for port in "${SENTINEL_PORTS[@]}" "${DATA_PORTS[@]}" "${CLUSTER_PORTS[@]}"; do
    up "$port" && redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$DIR"
}

status() {
  local rc=0
  if cluster_ok; then echo "cluster: ok (127.0.0.1:7000-7005)"; else echo "cluster: down"; rc=1; fi
  local primary
  primary=$(redis-cli -p 26390 sentinel get-master-addr-by-name "$SERVICE" 2>/dev/null | paste -sd: || true)
  if [[ -n $primary ]]; then echo "sentinel: ok (service $SERVICE, primary $primary)"; else echo "sentinel: down"; rc=1; fi
  return $rc
}

case ${1:-} in
  start) mkdir -p "$DIR"; start_cluster; start_sentinel; status ;;
  stop) stop_all ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
