// LOCKSAN_OPTIONS end to end. The program has two distinct inversions (A/B and C/D): main takes A->B
// and C->D, then thread T1 takes B->A and D->C (sequentially: it never deadlocks).
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=2
// NATIVE-SAME-OUTPUT
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*options\.c:%line(BA) in inverted_ba$
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*options\.c:%line(DC) in inverted_dc$
// CHECK: ^==%pid==locksan: reported 2 warnings$
// CHECK-STDOUT: ^done$
//
// VARIANT: help
// help=1 lists every option with its default, then the program runs normally.
// RUN-OPTIONS: help=1
// CLEAR: CHECK
// CHECK: ^==%pid==locksan: LOCKSAN_OPTIONS=.*Available options:$
// CHECK: ^==%pid==  help +0 
// CHECK: ^==%pid==  log_path +stderr 
// CHECK: ^==%pid==  exitcode +66 
// CHECK: ^==%pid==  halt_on_error +0 
// CHECK: ^==%pid==  suppressions +"" 
// CHECK: ^==%pid==  print_suppressions +1 
// CHECK: ^==%pid==  report_gate_locks +0 
// CHECK: ^==%pid==  stack_depth +24 
// CHECK: ^==%pid==  verbosity +0 
// CHECK: ^==%pid==  max_memory_mb +4096 
// CHECK: ^==%pid==  acquire_stacks +0 
// CHECK: ^==%pid==  mutex_tail_call +1 
// CHECK: ^==%pid==  color +1 
// CHECK: ^==%pid==  report_double_lock +1 
// CHECK: ^==%pid==  report_bad_unlock +0 
// CHECK: ^==%pid==  detect_heap_reuse +1 
// CHECK: ^==%pid==WARNING: locksan: lock-order-inversion
// CHECK: ^==%pid==locksan: reported 2 warnings$
//
// VARIANT: log_path
// log_path=DIR/rep writes DIR/rep.PID, and nothing goes to stderr.
// RUN-OPTIONS: log_path=%t/rep
// LOG-FILE: %t/rep.%pid
// EXPECT-NO-STDERR
// CLEAR: CHECK
// CHECK-LOG: \A==%pid==WARNING: locksan: lock-order-inversion
// CHECK-LOG: ^SUMMARY: locksan: lock-order-inversion .*options\.c:%line(BA) in inverted_ba$
// CHECK-LOG: ^==%pid==WARNING: locksan: lock-order-inversion
// CHECK-LOG: ^SUMMARY: locksan: lock-order-inversion .*options\.c:%line(DC) in inverted_dc$
// CHECK-LOG: ^==%pid==locksan: reported 2 warnings\n\Z
//
// VARIANT: log_path_pid_pattern
// RUN-OPTIONS: log_path=%t/r-%p.txt
// LOG-FILE: %t/r-%pid.txt
// EXPECT-NO-STDERR
// CLEAR: CHECK
// CHECK-LOG: ^==%pid==locksan: reported 2 warnings$
//
// VARIANT: log_path_unwritable
// An unwritable log_path: one line saying so, the reports go to stderr.
// RUN-OPTIONS: log_path=/nonexistent/dir/x
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: cannot open log_path '/nonexistent/dir/x\.%pid' \(No such file or directory\); reports go to stderr\n==%pid==WARNING: locksan: lock-order-inversion
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*in inverted_ba$
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*in inverted_dc$
// CHECK-COUNT: 1 log_path
//
// VARIANT: suppressions
// A suppression file matching a function of each report: nothing reported, exit 0, and the
// "suppressions used" summary lists the rule.
// WRITE: %t/supp.txt: # locksan suppressions
// WRITE: %t/supp.txt: lock-order-inversion:inverted_*
// RUN-OPTIONS: suppressions=%t/supp.txt
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: suppressions used:\n  count  kind:pattern\n +2  lock-order-inversion:inverted_\*\n\Z
//
// VARIANT: suppressions_one
// Only the C/D inversion is suppressed.
// WRITE: %t/supp1.txt: lock-order-inversion:inverted_dc
// WRITE: %t/supp1.txt: double-lock:inverted_ba
// RUN-OPTIONS: suppressions=%t/supp1.txt
// EXPECT-REPORTS: lock-order-inversion=1
// CLEAR: CHECK
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*in inverted_ba$
// CHECK: ^==%pid==locksan: suppressions used:\n  count  kind:pattern\n +1  lock-order-inversion:inverted_dc\n==%pid==locksan: reported 1 warning\n\Z
//
// VARIANT: suppressions_print_off
// WRITE: %t/supp2.txt: lock-order-inversion:inverted_*
// RUN-OPTIONS: suppressions=%t/supp2.txt:print_suppressions=0
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// CLEAR: CHECK
// EXPECT-NO-STDERR
//
// VARIANT: suppressions_unreadable
// An unreadable suppressions file: one clear line, the program runs and is checked as usual.
// RUN-OPTIONS: suppressions=/nonexistent/supp.txt
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: cannot read suppressions file '/nonexistent/supp\.txt' \(No such file or directory\); continuing without it\n
// CHECK: ^==%pid==locksan: reported 2 warnings$
// CHECK-COUNT: 1 supp\.txt
//
// VARIANT: suppressions_malformed
// A malformed line is named (file:line) and ignored; the other rules still apply.
// WRITE: %t/supp3.txt: this line has no colon
// WRITE: %t/supp3.txt: lock-order-inversion:inverted_*
// RUN-OPTIONS: suppressions=%t/supp3.txt
// EXPECT-EXIT: 0
// EXPECT-REPORTS: lock-order-inversion=0
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: .*supp3\.txt:1: expected 'kind:pattern', got 'this line has no colon' \(line ignored\)\n
// CHECK: ^ +2  lock-order-inversion:inverted_\*$
//
// VARIANT: halt_on_error
// halt_on_error=1: the process exits with the exitcode right after the first report; the second
// inversion and main's "done" never happen.
// RUN-OPTIONS: halt_on_error=1
// EXPECT-REPORTS: lock-order-inversion=1
// CLEAR: CHECK CHECK-STDOUT NATIVE-SAME-OUTPUT
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*in inverted_ba\n==%pid==locksan: halt_on_error=1: exiting\n\Z
//
// VARIANT: verbosity1
// RUN-OPTIONS: verbosity=1
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: started; reports go to stderr\n
// CHECK: ^==%pid==locksan: stats: \d+ locks live \(\d+ seen\), \d+ edges
// CHECK: ^==%pid==locksan: reported 2 warnings$
//
// VARIANT: cuda_calls_bad
// An unknown cuda_calls value: one line saying so at start-up; detection unchanged.
// RUN-OPTIONS: cuda_calls=some
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: cuda_calls=some is not 'all', 'adaptive' or 'needed'; using 'adaptive'\n
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*in inverted_ba$
// CHECK: ^==%pid==locksan: reported 2 warnings$
// CHECK-COUNT: 1 cuda_calls
//
// VARIANT: cuda_calls_needed
// cuda_calls=needed is accepted silently (no CUDA here: nothing else changes).
// RUN-OPTIONS: cuda_calls=needed
// CLEAR: CHECK
// CHECK-NOT: cuda_calls
// CHECK: ^==%pid==locksan: reported 2 warnings$
//
// VARIANT: cuda_calls_all
// cuda_calls=all (every driver call tracked, none let go) is accepted silently too.
// RUN-OPTIONS: cuda_calls=all
// CLEAR: CHECK
// CHECK-NOT: cuda_calls
// CHECK: ^==%pid==locksan: reported 2 warnings$
//
// VARIANT: cuda_quiet_calls_bad
// A negative cuda_quiet_calls: one line saying so at start-up, read as 0 (never let a function go).
// RUN-OPTIONS: cuda_quiet_calls=-3
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: cuda_quiet_calls=-3 is negative; using 0 \(every call tracked\)\n
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*in inverted_ba$
// CHECK: ^==%pid==locksan: reported 2 warnings$
// CHECK-COUNT: 1 cuda_quiet_calls
//
// VARIANT: unwinder_bad
// An unknown unwinder value: one line saying so at start-up; stacks taken as by default.
// RUN-OPTIONS: unwinder=fast
// CLEAR: CHECK
// CHECK: \A==%pid==locksan: unwinder must be 'auto' or 'libgcc', not 'fast'; using 'auto'\n
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*options\.c:%line(BA) in inverted_ba$
// CHECK: ^==%pid==locksan: reported 2 warnings$
// CHECK-COUNT: 1 unwinder
//
// VARIANT: options_separators
// Options may be separated by ':' ',' or spaces, and quoted.
// RUN-OPTIONS: exitcode=9, halt_on_error=0 log_path='%t/q'
// LOG-FILE: %t/q.%pid
// EXPECT-EXIT: 9
// EXPECT-NO-STDERR
// CLEAR: CHECK
// CHECK-LOG: ^==%pid==locksan: reported 2 warnings$
#include <pthread.h>
#include <stdio.h>

pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER, d = PTHREAD_MUTEX_INITIALIZER;

static void lock2(pthread_mutex_t* x, pthread_mutex_t* y) {
  pthread_mutex_lock(x);
  pthread_mutex_lock(y);
  pthread_mutex_unlock(y);
  pthread_mutex_unlock(x);
}

__attribute__((noinline)) void inverted_ba(void) {
  pthread_mutex_lock(&b);
  pthread_mutex_lock(&a);  // @BA
  pthread_mutex_unlock(&a);
  pthread_mutex_unlock(&b);
}

__attribute__((noinline)) void inverted_dc(void) {
  pthread_mutex_lock(&d);
  pthread_mutex_lock(&c);  // @DC
  pthread_mutex_unlock(&c);
  pthread_mutex_unlock(&d);
}

static void* worker(void* arg) {
  (void)arg;
  inverted_ba();
  inverted_dc();
  return 0;
}

int main(void) {
  lock2(&a, &b);
  lock2(&c, &d);
  pthread_t t;
  pthread_create(&t, 0, worker, 0);
  pthread_join(t, 0);
  puts("done");
  return 0;
}
