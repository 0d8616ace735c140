# Starts the servers the tests talk to, on loopback, and exports their URLs.
# Sourced by scripts/test. Installs what is missing from Debian's packages
# (CI machines start with nothing but Rust); a service that cannot be had is
# an error, never a skipped test.

STINT_SERVICES_DIR=$(mktemp -d /tmp/stint-services.XXXXXX)
# Service users (postgres) must reach their directories inside.
chmod 755 "$STINT_SERVICES_DIR"

# A free TCP port on loopback, from $1 up.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  echo "$port"
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: $* is not installed, and installing it needs root (apt-get install $*)" >&2
    return 1
  fi
  echo "== installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${STINT_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    STINT_APT_UPDATED=1
  fi
  apt-get install -y -qq "$@" >/dev/null
}

# Runs a command as the postgres user when we are root (PostgreSQL refuses root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
  local bin
  bin=$(postgres_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    apt_install postgresql
    bin=$(postgres_bin)
  fi
  local dir="$STINT_SERVICES_DIR/postgres"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  local port
  port=$(free_port 55432)
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    return 1
  }
  # In the configuration file, so that a test that stops and starts the
  # server gets the same one. Durability off: the data is thrown away.
  cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 500
CONF
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
    cat "$dir/server.log" >&2
    return 1
  }
  STINT_PG_BIN=$bin
  STINT_PG_DATA="$dir/data"
  export STINT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  # For the outage test, which stops and starts the server.
  export STINT_TEST_PG_CTL="$bin/pg_ctl" STINT_TEST_PG_DATA="$dir/data"
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server
  fi
}

# Starts one redis-server without persistence.
# $1: a name for its directory, $2: its port; further arguments go to redis-server.
redis_node() {
  local name=$1 port=$2
  shift 2
  local dir="$STINT_SERVICES_DIR/redis-$name"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" >/dev/null
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null || {
    cat "$dir/redis.log" >&2
    return 1
  }
}

# A single Redis server, and a Redis Cluster of three masters, on loopback.
start_redis() {
  ensure_redis
  local port
  port=$(free_port 36379)
  redis_node single "$port"
  export STINT_TEST_REDIS_URL="redis://127.0.0.1:$port"
  # For the outage tests, which stop the server and start it again.
  export STINT_TEST_REDIS_SERVER
  STINT_TEST_REDIS_SERVER=$(command -v redis-server)
  # Cluster nodes also listen on their port + 10000 (the cluster bus).
  local nodes=() urls=() p=$((port + 100)) n
  for n in 1 2 3; do
    p=$(free_port "$p")
    redis_node "cluster-$n" "$p" --cluster-enabled yes --cluster-config-file "nodes-$n.conf" \
      --cluster-node-timeout 2000
    nodes+=("127.0.0.1:$p")
    urls+=("redis://127.0.0.1:$p")
    p=$((p + 1))
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$STINT_SERVICES_DIR/cluster.log" 2>&1 || {
    cat "$STINT_SERVICES_DIR/cluster.log" >&2
    return 1
  }
  # Wait until every node agrees the cluster is up.
  local i state
  for i in $(seq 1 100); do
    state=ok
    for n in "${nodes[@]}"; do
      redis-cli -h "${n%:*}" -p "${n#*:}" cluster info | grep -q 'cluster_state:ok' || state=wait
    done
    [ "$state" = ok ] && break
    sleep 0.1
  done
  [ "$state" = ok ] || {
    echo "error: the Redis Cluster did not come up" >&2
    return 1
  }
  export STINT_TEST_REDIS_CLUSTER
  STINT_TEST_REDIS_CLUSTER=$(IFS=,; echo "${urls[*]}")
  echo "== $(redis-server --version | awk '{print $1, $2, $3}') on 127.0.0.1:$port; a cluster on ${nodes[*]}"
}

# Chromium and playwright-core, for the dashboard's browser test.
ensure_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  (cd crates/stint-server/tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "== $(/usr/bin/chromium --version 2>/dev/null | head -n 1), node $(node --version)"
}

stop_services() {
  local pidfile
  for pidfile in "$STINT_SERVICES_DIR"/redis-*/redis.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -n "${STINT_PG_DATA:-}" ]; then
    as_postgres "$STINT_PG_BIN/pg_ctl" -D "$STINT_PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$STINT_SERVICES_DIR"
}
