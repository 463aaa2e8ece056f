#!/usr/bin/env bash
# `make test-mysql`: the whole suite against MariaDB, the platform's own database family.
# Starts a throwaway server (Debian's mariadb-server, installed when missing and run as root)
# on a free loopback port, runs pytest with RICHIE_SYNC_MYSQL, then stops and removes it.
set -euo pipefail
if ! command -v mariadbd >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  else
    echo "mariadb-server is missing: install Debian's mariadb-server package"; exit 2
  fi
fi
# The platform's driver, mysqlclient (built against Debian's libmariadb-dev); PyMySQL stands in
# when it cannot be built (no root for the headers).
if ! .venv/bin/python -c "import MySQLdb" 2>/dev/null; then
  if ! pkg-config --exists libmariadb 2>/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
  fi
  .venv/bin/pip install --quiet -r requirements/mysql.txt || echo "mysqlclient could not be built: PyMySQL stands in for it"
fi
dir=$(mktemp -d)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal >"$dir/install.log" 2>&1
mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --port="$port" --bind-address=127.0.0.1 \
  --user="$(id -un)" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 60); do
  mariadb --no-defaults -uroot --socket="$dir/sock" -e "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.5
done
mariadb --no-defaults -uroot --socket="$dir/sock" -e \
  "CREATE DATABASE richie CHARACTER SET utf8mb4; CREATE USER 'richie'@'127.0.0.1' IDENTIFIED BY 'richie'; GRANT ALL ON *.* TO 'richie'@'127.0.0.1';"
echo "MariaDB $(mariadb --no-defaults -uroot --socket="$dir/sock" -N -e 'SELECT VERSION()') on port $port"
RICHIE_SYNC_MYSQL="127.0.0.1:$port:richie:richie:richie" .venv/bin/pytest "$@"
