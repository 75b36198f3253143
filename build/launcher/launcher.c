// build/bin/cni-ts: a small launcher in front of the Bun-compiled executable (cni-ts.bun beside
// it). It answers VERSION itself: the reply is a constant (the build writes it here from
// shared/cni/version.ts, with the plugins' names), and podman asks every plugin for it before
// every ADD and DEL, so a whole runtime start for it is work for nothing. Every other call: it
// adds BUN_JSC_useJIT=0 to the environment and execs cni-ts.bun with argv unchanged (argv[0]
// still names the plugin). A plugin call is too short for JavaScriptCore's JIT threads and
// compiled code to pay back what they cost. Bun reads it from the environment before any code
// of ours runs, so it can only be set here. Long-running modes (--resolver, --sync) keep the
// runtime's defaults, and a caller's own setting stays. No libc: a static glibc start would
// cost more than the launcher saves (docs/start-up.md, "the JIT").
// x86-64 Linux only (supported.ts; elsewhere the build names cni-ts.bun cni-ts).
// Built with -include of the generated launcher-gen.h: VERSION_REPLY and PLUGIN_NAMES.

#define SYS_execve 59
#define SYS_exit 60
#define SYS_read 0
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
  // (not MIMALLOC_ALLOW_THP=1: mimalloc's arena on huge pages spares page faults where they are
  // dear and costs time where they are cheap, and memory everywhere: docs/start-up.md)
};
#define NDEFAULTS (sizeof DEFAULTS / sizeof DEFAULTS[0])

/** s is "NAME=..." for the NAME of def ("NAME=value"). */
static int sameName(const char *s, const char *def) {
  while (*def != '=') if (*s++ != *def++) return 0;
  return *s == '=';
}

static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/** A plugin's name (the name it was invoked as) asked VERSION: the reply, then exit 0. */
static void answerVersion(const char *argv0, char **envp) {
  const char *name = argv0;
  for (const char *p = argv0; *p; p++) if (*p == '/') name = p + 1;
  int plugin = 0;
  for (const char *const *n = PLUGIN_NAMES; *n && !plugin; n++) plugin = same(name, *n);
  if (!plugin) return;
  const char *cmd = 0;   // the first CNI_COMMAND, as getenv finds it
  for (char **e = envp; *e && !cmd; e++) if (starts(*e, "CNI_COMMAND=")) cmd = *e + 12;
  if (!cmd || !same(cmd, "VERSION")) return;
  // stdin to its end first, as every call's (and the reference's) is read: a runtime writing
  // the config to a pipe never finds it closed under it (EPIPE)
  char sink[4096];
  for (;;) {
    long r = sys3(SYS_read, 0, (long)sink, sizeof sink);
    if (r == -4) continue;   // EINTR
    if (r <= 0) break;
  }
  long off = 0, n = sizeof VERSION_REPLY - 1;
  while (off < n) {
    long w = sys3(SYS_write, 1, (long)VERSION_REPLY + off, n - off);
    if (w == -4) continue;   // EINTR
    if (w <= 0) { if (off == 0) return; sys3(SYS_exit, 1, 0, 0); }   // nothing written: the runtime reports it
    off += w;
  }
  sys3(SYS_exit, 0, 0, 0);
}

__attribute__((used, noreturn)) void launch(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  int longRunning = 0;
  for (long i = 1; i < argc; i++) if (starts(argv[i], "--resolver") || starts(argv[i], "--sync")) longRunning = 1;
  if (argc > 0 && !longRunning) answerVersion(argv[0], envp);
  // this file's own path (links resolved), then its sibling's
  char path[4096];
  long n = sys4(SYS_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)path, sizeof path - sizeof TARGET);
  if (n <= 0 || n >= (long)(sizeof path - sizeof TARGET)) fail("cannot read /proc/self/exe");
  while (n > 0 && path[n - 1] != '/') n--;
  for (unsigned long i = 0; i < sizeof TARGET; i++) path[n + i] = TARGET[i];

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
