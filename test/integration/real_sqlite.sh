# SPDX-License-Identifier: MIT
# A database shell: sqlite3 running a heavy SQL script in memory. Same output
# and status with and without the profiler; a SIGUSR2 snapshot mid-run and an
# exit profile naming SQLite's functions.
. "$(dirname "$0")/lib.sh"

need sqlite3 sqlite3
cat >"$WORK/work.sql" <<'SQL'
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000)
INSERT INTO t SELECT x, printf('%08x-%d', (x * 2654435761) % 4294967296, x), x * 1.5 FROM n;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(length(b)), min(b), max(b) FROM t;
SELECT b FROM t ORDER BY c DESC LIMIT 3;
SELECT count(*) FROM t AS x JOIN t AS y ON x.a = y.a + 1 WHERE x.b > y.b;
SQL
timeout "$RUN_TIMEOUT" sqlite3 :memory: <"$WORK/work.sql" >"$WORK/plain.out" 2>&1
plain=$?
check "plain run succeeds" test "$plain" = 0

profile_mid_run sq 0.5 "$plain" "$WORK/work.sql" sqlite3 :memory:
snap=$SNAP exitp=$EXITP
[ -n "$snap" ] && check_real sqlite3 "$snap" '^sqlite3'
[ -n "$exitp" ] && check_real sqlite3 "$exitp" '^sqlite3' alloc_space
done_testing
