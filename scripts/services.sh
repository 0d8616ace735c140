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

# Creates and starts a PostgreSQL server in $STINT_SERVICES_DIR/$1 on port
# $2, without durability (the data is thrown away); standard input is added
# to its configuration, and $3, if given, replaces its pg_hba.conf. The
# settings go in the configuration file, so that a test that stops and
# starts the server gets the same one.
postgres_server() {
  local name=$1 port=$2 hba=${3:-}
  local dir="$STINT_SERVICES_DIR/$name"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_postgres "$STINT_PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    return 1
  }
  {
    printf '%s\n' "port = $port" "unix_socket_directories = '$dir'" "fsync = off" \
      "synchronous_commit = off" "full_page_writes = off"
    cat
  } >>"$dir/data/postgresql.conf"
  [ -n "$hba" ] && printf '%s\n' "$hba" >"$dir/data/pg_hba.conf"
  as_postgres "$STINT_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
    cat "$dir/server.log" >&2
    return 1
  }
}

start_postgres() {
  local bin
  bin=$(postgres_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    apt_install postgresql
    bin=$(postgres_bin)
  fi
  STINT_PG_BIN=$bin
  local port
  port=$(free_port 55432)
  postgres_server postgres "$port" <<CONF
listen_addresses = '127.0.0.1'
max_connections = 500
CONF
  STINT_PG_DATA="$STINT_SERVICES_DIR/postgres/data"
  export STINT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  # For the outage test, which stops and starts the server.
  export STINT_TEST_PG_CTL="$bin/pg_ctl" STINT_TEST_PG_DATA="$STINT_PG_DATA"
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
  local ping=(redis-cli)
  [ "${#STINT_REDIS_PING[@]}" -gt 0 ] && ping=("${STINT_REDIS_PING[@]}")
  local i
  for i in $(seq 1 100); do
    "${ping[@]}" -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  "${ping[@]}" -p "$port" ping >/dev/null || {
    cat "$dir/redis.log" >&2
    return 1
  }
}

STINT_REDIS_PING=()

# Waits until every node agrees the cluster is up.
# Arguments: the redis-cli command, --, then the nodes as HOST:PORT.
wait_for_cluster() {
  local cli=()
  while [ "$1" != -- ]; do
    cli+=("$1")
    shift
  done
  shift
  local i state n
  for i in $(seq 1 100); do
    state=ok
    for n in "$@"; do
      "${cli[@]}" -h "${n%:*}" -p "${n#*:}" cluster info | grep -q 'cluster_state:ok' || state=wait
    done
    [ "$state" = ok ] && return 0
    sleep 0.1
  done
  echo "error: the Redis Cluster did not come up" >&2
  return 1
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
  wait_for_cluster redis-cli -- "${nodes[@]}"
  export STINT_TEST_REDIS_CLUSTER
  STINT_TEST_REDIS_CLUSTER=$(IFS=,; echo "${urls[*]}")
  echo "== $(redis-server --version | awk '{print $1, $2, $3}') on 127.0.0.1:$port; a cluster on ${nodes[*]}"
}

# A private certificate authority, a certificate it signs for the servers
# (localhost and 127.0.0.1; a client certificate too, for the Redis Cluster
# bus, where nodes present it to each other), and another authority that signed nothing here:
# the certificate a client must refuse. Valid two days: made for each run.
make_certificates() {
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  local dir="$STINT_SERVICES_DIR/tls"
  mkdir -p "$dir"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (
    cd "$dir"
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=Stint test CA" 2>/dev/null
    openssl req -x509 "${ec[@]}" -keyout wrong-ca.key -out wrong-ca.pem -days 2 -subj "/CN=Stint test CA" 2>/dev/null
    openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
      "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.pem 2>/dev/null
    chmod 644 ./*.pem
  ) || {
    echo "error: could not make the test certificates" >&2
    return 1
  }
  STINT_TLS_DIR=$dir
  export STINT_TEST_TLS_CA="$dir/ca.pem" STINT_TEST_TLS_WRONG_CA="$dir/wrong-ca.pem"
}

# Redis over TLS only: one server that knows an ACL user (the default user
# is off) and a three-master cluster whose nodes speak TLS to each other.
start_redis_tls() {
  ensure_redis
  local tls=(--tls-cert-file "$STINT_TLS_DIR/server.pem" --tls-key-file "$STINT_TLS_DIR/server.key"
    --tls-ca-cert-file "$STINT_TLS_DIR/ca.pem" --tls-auth-clients no --port 0)
  local cli=(redis-cli --tls --cacert "$STINT_TLS_DIR/ca.pem")
  local port
  port=$(free_port 37379)
  STINT_REDIS_PING=("${cli[@]}" --user stint --pass stint-secret --no-auth-warning)
  redis_node tls "$port" --tls-port "$port" "${tls[@]}" \
    --user default off --user stint on '>stint-secret' '~*' '&*' '+@all'
  export STINT_TEST_REDIS_TLS_URL="rediss://stint:stint-secret@127.0.0.1:$port"
  local nodes=() urls=() p=$((port + 100)) n
  STINT_REDIS_PING=("${cli[@]}")
  for n in 1 2 3; do
    p=$(free_port "$p")
    redis_node "tls-cluster-$n" "$p" --tls-port "$p" "${tls[@]}" --tls-cluster yes \
      --cluster-enabled yes --cluster-config-file "nodes-$n.conf" --cluster-node-timeout 2000
    nodes+=("127.0.0.1:$p")
    urls+=("rediss://127.0.0.1:$p")
    p=$((p + 1))
  done
  STINT_REDIS_PING=()
  "${cli[@]}" --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
    >"$STINT_SERVICES_DIR/tls-cluster.log" 2>&1 || {
    cat "$STINT_SERVICES_DIR/tls-cluster.log" >&2
    return 1
  }
  wait_for_cluster "${cli[@]}" -- "${nodes[@]}"
  export STINT_TEST_REDIS_TLS_CLUSTER
  STINT_TEST_REDIS_TLS_CLUSTER=$(IFS=,; echo "${urls[*]}")
  echo "== Redis over TLS on 127.0.0.1:$port; a cluster over TLS on ${nodes[*]}"
}

# A second PostgreSQL server that accepts TLS connections only. It listens
# on 127.0.0.2 too, an address its certificate does not name.
start_postgres_tls() {
  local dir="$STINT_SERVICES_DIR/postgres-tls-keys"
  mkdir -p "$dir"
  cp "$STINT_TLS_DIR/server.pem" "$STINT_TLS_DIR/server.key" "$dir/"
  chmod 600 "$dir/server.key"
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  local port
  port=$(free_port 56432)
  # TCP connections only over TLS; the socket stays for the test command.
  postgres_server postgres-tls "$port" "$(printf '%s\n' 'local all all trust' 'hostssl all all 127.0.0.0/8 trust')" <<CONF
listen_addresses = '127.0.0.1,127.0.0.2'
max_connections = 200
ssl = on
ssl_cert_file = '$dir/server.pem'
ssl_key_file = '$dir/server.key'
CONF
  STINT_PG_TLS_DATA="$STINT_SERVICES_DIR/postgres-tls/data"
  export STINT_TEST_POSTGRES_TLS_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=verify-full&sslrootcert=$STINT_TEST_TLS_CA"
  echo "== PostgreSQL over TLS only on 127.0.0.1:$port"
}

# PgBouncer in transaction pooling mode in front of the first PostgreSQL
# server, TLS towards its clients. Few server connections, handed out in
# turn: consecutive transactions of one client land on different ones.
start_pgbouncer() {
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || apt_install pgbouncer
  local bouncer
  bouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  local dir="$STINT_SERVICES_DIR/pgbouncer"
  mkdir -p "$dir"
  cp "$STINT_TLS_DIR/server.pem" "$STINT_TLS_DIR/server.key" "$dir/"
  local pg_port=${STINT_TEST_POSTGRES_URL##*:}
  pg_port=${pg_port%%/*}
  local port
  port=$(free_port 56532)
  echo '"postgres" ""' >"$dir/users.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 3
max_client_conn = 1000
server_round_robin = 1
client_tls_sslmode = require
client_tls_cert_file = $dir/server.pem
client_tls_key_file = $dir/server.key
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  chmod 600 "$dir/server.key"
  as_postgres "$bouncer" -d "$dir/pgbouncer.ini" >/dev/null 2>&1 || {
    cat "$dir/pgbouncer.log" >&2
    return 1
  }
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  STINT_PGBOUNCER_PID="$dir/pgbouncer.pid"
  export STINT_TEST_PGBOUNCER_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=verify-full&sslrootcert=$STINT_TEST_TLS_CA&pgbouncer=true"
  echo "== $("$bouncer" --version | head -n 1) (transaction pooling, TLS) on 127.0.0.1:$port"
}

# nginx, for the gateway's test (deploy/nginx/stint.conf in front of a test
# upstream); the test starts its own nginx on a free port.
ensure_nginx() {
  [ -x /usr/sbin/nginx ] || apt_install nginx
  export STINT_TEST_NGINX=/usr/sbin/nginx
  echo "== $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')"
}

# Chromium and playwright-core, for the dashboard's browser test.
# Node.js and npm (Debian's, Node 18, where none is installed).
ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
}

ensure_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
  ensure_node
  (cd crates/stint-server/tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "== $(/usr/bin/chromium --version 2>/dev/null | head -n 1), node $(node --version)"
}

# Creates the database $1 on the test PostgreSQL server and prints its URL.
create_database() {
  "$STINT_PG_BIN/psql" -q "$STINT_TEST_POSTGRES_URL" -c "CREATE DATABASE $1" >/dev/null
  echo "${STINT_TEST_POSTGRES_URL%/postgres}/$1"
}

stop_services() {
  local pidfile
  for pidfile in "$STINT_SERVICES_DIR"/redis-*/redis.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -n "${STINT_PGBOUNCER_PID:-}" ] && [ -f "$STINT_PGBOUNCER_PID" ]; then
    kill "$(cat "$STINT_PGBOUNCER_PID")" 2>/dev/null || true
  fi
  local data
  for data in "${STINT_PG_DATA:-}" "${STINT_PG_TLS_DATA:-}"; do
    [ -n "$data" ] && { as_postgres "$STINT_PG_BIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true; }
  done
  rm -rf "$STINT_SERVICES_DIR"
}
