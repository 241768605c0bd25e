#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + pgvector server for the tests. Source it, then call
# `postgres_up`: it installs what is missing, builds pgvector from ../shared/vendor (Debian 12
# does not package it), starts a cluster with its own data dir on a free loopback port and
# exports CLIPKIT_TEST_PG_URL (a superuser: pgvector can be created) and
# CLIPKIT_TEST_PG_PLAIN_URL (a role that may not create extensions: the bytea path), plus
# CLIPKIT_TEST_PG_DIR / CLIPKIT_TEST_PG_BIN for the tests that stop and restart it.
# `postgres_down` stops it and removes the data dir.

PG_VENDOR="${PG_VENDOR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/vendor/pgvector-0.8.6}"

postgres_up() {
  if ! command -v pg_config >/dev/null 2>&1 || [ ! -x /usr/lib/postgresql/15/bin/postgres ] || [ ! -d /usr/include/postgresql/15/server ]; then
    apt-get update -qq && apt-get install -y -qq postgresql-15 postgresql-server-dev-15 >/dev/null
  fi
  local bin=/usr/lib/postgresql/15/bin
  if [ ! -f "$($bin/pg_config --sharedir)/extension/vector.control" ]; then
    [ -d "$PG_VENDOR" ] || { echo "postgres.sh: no pgvector source at $PG_VENDOR" >&2; return 1; }
    local src
    src="$(mktemp -d)"
    cp -r "$PG_VENDOR/." "$src"
    (cd "$src" && make -s PG_CONFIG=$bin/pg_config >/dev/null && make -s install PG_CONFIG=$bin/pg_config >/dev/null) || return 1
    rm -rf "$src"
  fi
  PG_DIR="$(mktemp -d /tmp/clipkit-pg.XXXXXX)"
  chown postgres "$PG_DIR"
  PG_PORT="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  runuser -u postgres -- $bin/initdb -D "$PG_DIR/data" -A trust -U postgres >/dev/null
  # Password auth on loopback TCP, so the tests can see a wrong password refused.
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all 0.0.0.0/0 scram-sha-256\n' >"$PG_DIR/data/pg_hba.conf"
  # Settings in the config (not -o) so a test can stop and start the server with plain pg_ctl.
  printf "port = %s\nunix_socket_directories = '%s'\nlisten_addresses = '*'\nmax_connections = 200\nfsync = off\n" \
    "$PG_PORT" "$PG_DIR" >>"$PG_DIR/data/postgresql.conf"
  runuser -u postgres -- $bin/pg_ctl -D "$PG_DIR/data" -l "$PG_DIR/log" -w start >/dev/null
  runuser -u postgres -- psql -q -h "$PG_DIR" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 <<SQL
ALTER ROLE postgres PASSWORD 'clipkit';
CREATE ROLE plain LOGIN PASSWORD 'plain' CREATEDB;
CREATE DATABASE plain OWNER plain;
SQL
  # For the tests that stop and restart the server (pg_ctl -D $CLIPKIT_TEST_PG_DIR/data).
  export CLIPKIT_TEST_PG_DIR="$PG_DIR" CLIPKIT_TEST_PG_BIN="$bin"
  export CLIPKIT_TEST_PG_URL="postgres://postgres:clipkit@127.0.0.1:$PG_PORT/postgres"
  export CLIPKIT_TEST_PG_PLAIN_URL="postgres://plain:plain@127.0.0.1:$PG_PORT/plain"
  echo "== PostgreSQL 15 + pgvector on 127.0.0.1:$PG_PORT (data in $PG_DIR)"
}

postgres_down() {
  [ -n "${PG_DIR:-}" ] || return 0
  runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
