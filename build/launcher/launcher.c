// build/bin/cni-ts: a 9 KB launcher in front of the Bun-compiled executable (cni-ts.bun beside
// it). It adds BUN_JSC_useJIT=0 and MIMALLOC_ALLOW_THP=1 to the environment and execs
// cni-ts.bun with argv unchanged (argv[0] still names the plugin). A plugin call lives ~10 ms:
// JavaScriptCore's JIT threads and compiled code cost more than they return (a bridge ADD
// 0.4-1.2 ms, a VERSION ~0.4 ms); mimalloc's arena on huge pages spares ~350 page faults a call.
// Bun and mimalloc read these from the environment before any code of ours runs, so they can
// only be set here. Long-running modes (--resolver, --watch=) keep the runtime's defaults, and
// a caller's own setting of either stays. No libc: a static glibc start costs ~0.35 ms, this
// ~10 us.
// x86-64 Linux only (supported.ts; elsewhere the build names cni-ts.bun cni-ts).

#define SYS_execve 59
#define SYS_exit 60
#define SYS_write 1
#define SYS_readlinkat 267
#define AT_FDCWD (-100)

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
static long sys4(long n, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}

static int starts(const char *s, const char *p) {
  while (*p) if (*s++ != *p++) return 0;
  return 1;
}

static long len(const char *s) {
  long n = 0;
  while (s[n]) n++;
  return n;
}

/** The spec's error JSON on stdout (as every plugin failure), then exit 1. */
static void fail(const char *msg) {
  const char *head = "{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"cni-ts launcher: ";
  sys3(SYS_write, 1, (long)head, len(head));
  sys3(SYS_write, 1, (long)msg, len(msg));
  sys3(SYS_write, 1, (long)"\"}\n", 3);
  sys3(SYS_exit, 1, 0, 0);
}

static const char TARGET[] = "cni-ts.bun";
// what a plugin call runs with, each unless the caller set that variable itself
static char *DEFAULTS[] = {
  "BUN_JSC_useJIT=0",
  // mimalloc's arena on transparent huge pages (MADV_HUGEPAGE; nothing where THP is "never"):
  // ~350 fewer page faults a call, for ~8 huge pages zeroed (~55 us each): -4 ms a call where
  // a fault costs ~11 us (a VM with shadow paging), about even where one costs ~1.5 us.
  // Peak RSS counts each huge page whole: ~+15 MiB a call.
  "MIMALLOC_ALLOW_THP=1",
};
#define NDEFAULTS (sizeof DEFAULTS / sizeof DEFAULTS[0])

/** s is "NAME=..." for the NAME of def ("NAME=value"). */
static int sameName(const char *s, const char *def) {
  while (*def != '=') if (*s++ != *def++) return 0;
  return *s == '=';
}

__attribute__((used, noreturn)) void launch(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  // this file's own path (links resolved), then its sibling's
  char path[4096];
  long n = sys4(SYS_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)path, sizeof path - sizeof TARGET);
  if (n <= 0 || n >= (long)(sizeof path - sizeof TARGET)) fail("cannot read /proc/self/exe");
  while (n > 0 && path[n - 1] != '/') n--;
  for (unsigned long i = 0; i < sizeof TARGET; i++) path[n + i] = TARGET[i];

  int longRunning = 0;
  for (long i = 1; i < argc; i++) if (starts(argv[i], "--resolver") || starts(argv[i], "--watch=")) longRunning = 1;
  long ne = 0;
  while (envp[ne]) ne++;
  char *env[ne + NDEFAULTS + 1];
  for (long i = 0; i < ne; i++) env[i] = envp[i];
  long k = ne;
  for (unsigned long d = 0; d < NDEFAULTS && !longRunning; d++) {
    int set = 0;
    for (long i = 0; i < ne && !set; i++) set = sameName(envp[i], DEFAULTS[d]);
    if (!set) env[k++] = DEFAULTS[d];
  }
  env[k] = 0;
  sys3(SYS_execve, (long)path, (long)argv, (long)env);
  fail("cannot exec cni-ts.bun beside it");
  __builtin_unreachable();
}

// the kernel's entry: the stack holds argc, argv, NULL, envp, NULL
__asm__(".globl _start\n_start:\n xor %ebp, %ebp\n mov %rsp, %rdi\n and $-16, %rsp\n call launch\n hlt\n");
