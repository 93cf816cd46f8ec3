# SPDX-License-Identifier: MIT
# libheapprof.so exports exactly the interposed symbols and heapprof_*,
# unversioned (a version node would keep malloc@GLIBC_2.2.5 from binding):
# the allocator, the signal-disposition calls (trigger.c), the changes of
# user and _exit (proc_record.c), the calls libunwind makes for its memory checks
# (unwind_io.c), the lock calls the contention profiles time (locks.c) and
# the two calls heapprof attach and detach make in a running process
# (attach.c).
. "$(dirname "$0")/lib.sh"

expected="_ZdaPv _ZdaPvRKSt9nothrow_t _ZdaPvSt11align_val_t _ZdaPvSt11align_val_tRKSt9nothrow_t
_ZdaPvm _ZdaPvmSt11align_val_t _ZdlPv _ZdlPvRKSt9nothrow_t _ZdlPvSt11align_val_t
_ZdlPvSt11align_val_tRKSt9nothrow_t _ZdlPvm _ZdlPvmSt11align_val_t _Znam _ZnamRKSt9nothrow_t
_ZnamSt11align_val_t _ZnamSt11align_val_tRKSt9nothrow_t _Znwm _ZnwmRKSt9nothrow_t
_ZnwmSt11align_val_t _ZnwmSt11align_val_tRKSt9nothrow_t aligned_alloc calloc dlclose free
heapprof_dump malloc malloc_usable_size memalign posix_memalign pvalloc realloc
heapprof_attach_start heapprof_attach_stop
reallocarray valloc
bsd_signal sigaction signal sigset sysv_signal pipe2 read write syscall
pthread_mutex_lock pthread_mutex_timedlock pthread_mutex_unlock pthread_rwlock_rdlock
pthread_rwlock_wrlock pthread_rwlock_timedrdlock pthread_rwlock_timedwrlock
pthread_rwlock_unlock pthread_cond_wait pthread_cond_timedwait
pthread_mutex_clocklock pthread_rwlock_clockrdlock pthread_rwlock_clockwrlock pthread_cond_clockwait
seteuid setresuid setreuid setuid _exit _Exit"
got=$(nm -D --defined-only "$HEAPPROF_LIB" | awk '{ print $3 }' | sort | tr '\n' ' ')
want=$(echo $expected | tr ' ' '\n' | sort | tr '\n' ' ')
check "exported symbols are exactly the interposers and heapprof_*" test "$got" = "$want"
[ "$got" = "$want" ] || diag "got: $got"
check "no symbol carries a version" bash -c "! nm -D --defined-only '$HEAPPROF_LIB' | grep -q '@'"
check "the 20 C++ operators are exported" test "$(echo "$got" | tr ' ' '\n' | grep -c '^_Z')" = 20
# Bound at load, never unloaded (its fork handlers and key destructors stay
# registered), and without the C start files: no exit hook walks the
# program's exit handlers, no weak reference is looked for at load.
flags=$(readelf -d "$HEAPPROF_LIB" | awk '/FLAGS_1/ { $1 = $2 = $3 = ""; print }')
check "bound at load and never unloaded (FLAGS_1:$flags)" \
	bash -c "echo '$flags' | grep -qw NOW && echo '$flags' | grep -qw NODELETE"
undef=$(nm -D --undefined-only "$HEAPPROF_LIB" | grep -Ec ' (_ITM_|__gmon_start__|__cxa_finalize)')
check "no start files' references ($undef)" test "$undef" = 0
done_testing
