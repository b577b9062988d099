#!/usr/bin/env bash
# Runs a command with a PostgreSQL server of its own: a fresh cluster in a temporary folder, on a
# free port, stopped and removed when the command ends. The command finds the server in
# TEST_POSTGRES_URL (a URL of its `postgres` database; tests create their own databases).
#   scripts/with-postgres.sh cargo test -p portcullis-domain
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed: run scripts/ensure-tools.sh --test" >&2; exit 1; }

dir=$(mktemp -d /tmp/portcullis-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# initdb refuses to run as root: the cluster belongs to the postgres user when we are root.
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
else
  as_pg=()
fi
stop() {
  if [ -n "${TEST_POSTGRES_LOG:-}" ]; then cp "$dir/server.log" "$TEST_POSTGRES_LOG" 2>/dev/null || true; fi
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --locale=C.UTF-8 -E UTF8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# Tests create hundreds of small databases: durability buys nothing there. Benchmarks set
# TEST_POSTGRES_DURABLE=1 to measure the server as deployed (fsync on, synchronous commits).
opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300"
if [ -z "${TEST_POSTGRES_DURABLE:-}" ]; then
  opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$opts" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port" >&2
# In the background, so a TERM (a test tearing it down) stops the command and the cluster.
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; exit 143' TERM INT
set +e
wait "$child"
rc=$?
set -e
exit "$rc"
