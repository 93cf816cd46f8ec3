# SPDX-License-Identifier: MIT
# A real interpreter: python3 with PYTHONMALLOC=malloc, so every object goes
# through malloc. Same output and status with and without the profiler; a
# SIGUSR2 snapshot mid-run and an exit profile naming CPython's functions.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || skip_all "/usr/bin/python3 not found (Debian package python3)"
cat >"$WORK/work.py" <<'PY'
import hashlib, json, sys, time
table = {}
for i in range(300000):
    table["key%d" % i] = {"n": i, "s": str(i) * 3, "t": (i, i * 2)}
time.sleep(0.5)          # the test takes its snapshot about here
blob = json.dumps(table)
again = json.loads(blob)
digest = hashlib.sha256(blob.encode()).hexdigest()
print(len(again), len(blob), digest)
sys.exit(5)
PY
export PYTHONMALLOC=malloc PYTHONHASHSEED=0
timeout "$RUN_TIMEOUT" "$PY" "$WORK/work.py" >"$WORK/plain.out"
plain=$?
check "plain run exits 5 (got $plain)" test "$plain" = 5

profile_mid_run py 0.8 "$plain" /dev/null "$PY" "$WORK/work.py"
snap=$SNAP exitp=$EXITP
[ -n "$snap" ] && check_real python3 "$snap" '^_?Py|^PyMem|dict|list|unicode'
[ -n "$exitp" ] && check_real python3 "$exitp" '^_?Py|^PyMem|dict|list|unicode' alloc_space
done_testing
