#!/usr/bin/env bash
# A 3-node NATS JetStream cluster on loopback, for trying the JetStream journal
# by hand (the tests start clusters of their own: tests/support/nats_cluster.h).
#
#   scripts/nats-cluster.sh start DIR [PORT]  nodes n1..n3 listen for clients on
#                                            127.0.0.1:PORT..PORT+2 (default 4222)
#                                            and for each other on PORT+100..PORT+102;
#                                            their stores, logs and pids are under DIR
#   scripts/nats-cluster.sh stop DIR          stops the nodes started in DIR
#
# `start` prints the client URLs, comma-separated, once every node answers.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR [PORT] | stop DIR" >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
command -v nats-server >/dev/null || {
  echo "nats-server is not installed (Debian: apt-get install nats-server)" >&2
  exit 1
}
action=$1
dir=$2

case "$action" in
  start)
    port=${3:-4222}
    mkdir -p "$dir"
    routes=()
    for i in 1 2 3; do routes+=("nats-route://127.0.0.1:$((port + 99 + i))"); done
    urls=()
    for i in 1 2 3; do
      node="$dir/n$i"
      mkdir -p "$node"
      if [[ -f "$node/pid" ]] && kill -0 "$(cat "$node/pid")" 2>/dev/null; then
        echo "node n$i of '$dir' is running already (pid $(cat "$node/pid"))" >&2
        exit 1
      fi
      cat >"$node/server.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$((port + i - 1))
jetstream { store_dir: "$node/store" }
cluster {
  name: rewind
  listen: 127.0.0.1:$((port + 99 + i))
  routes: [$(IFS=,; echo "${routes[*]}")]
}
EOF
      nats-server -c "$node/server.conf" -l "$node/server.log" -P "$node/pid" &
      urls+=("nats://127.0.0.1:$((port + i - 1))")
    done
    # Ready once every node has its pid file and takes connections.
    for i in 1 2 3; do
      for _ in $(seq 100); do
        [[ -f "$dir/n$i/pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$((port + i - 1))") 2>/dev/null && break
        sleep 0.1
      done
    done
    (IFS=,; echo "${urls[*]}")
    ;;
  stop)
    for i in 1 2 3; do
      pid_file="$dir/n$i/pid"
      [[ -f "$pid_file" ]] || continue
      pid=$(cat "$pid_file")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$pid_file"
    done
    ;;
  *) usage ;;
esac
