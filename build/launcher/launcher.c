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
// A plugin call is first offered to the node agent (agent/, docs/agent.md) when one of this
// build listens: the call's stdio and network namespace go over its socket and the agent runs
// it warm; the launcher prints nothing of its own and exits with the call's status. When no
// agent answers (none, another build, busy, another namespace), the call is exec'd as before.
// x86-64 Linux only (supported.ts; elsewhere the build names cni-ts.bun cni-ts).
// Built with -include of the generated launcher-gen.h: VERSION_REPLY, PLUGIN_NAMES, BUILD_ID.

#define SYS_execve 59
#define SYS_exit 60
#define SYS_read 0
#define SYS_write 1
#define SYS_readlinkat 267
#define SYS_close 3
#define SYS_poll 7
#define SYS_socket 41
#define SYS_connect 42
#define SYS_sendmsg 46
#define SYS_getsockopt 55
#define SYS_openat 257
#define SYS_clock_gettime 228
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

static long sys5(long n, long a, long b, long c, long d, long e) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
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

/** The value of the first `name=` in the environment (as getenv, and the agent's worker, find it), or 0. */
static const char *envValue(char **envp, const char *nameEq) {
  for (char **e = envp; *e; e++) if (starts(*e, nameEq)) return *e + len(nameEq);
  return 0;
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

static const char *baseName(const char *p) {
  const char *name = p;
  for (; *p; p++) if (*p == '/') name = p + 1;
  return name;
}

static int isPlugin(const char *name) {
  for (const char *const *n = PLUGIN_NAMES; *n; n++) if (same(name, *n)) return 1;
  return 0;
}

/** A plugin's name (the name it was invoked as) asked VERSION: the reply, then exit 0. */
static void answerVersion(const char *argv0, char **envp) {
  if (!isPlugin(baseName(argv0))) return;
  const char *cmd = envValue(envp, "CNI_COMMAND=");
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

// ---- the node agent (agent/serve.ts holds the other end of this exchange) ----
#define AF_UNIX 1
#define SOCK_STREAM 1
#define SOCK_NONBLOCK 04000
#define SOCK_CLOEXEC 02000000
#define SOL_SOCKET 1
#define SO_PEERCRED 17
#define SCM_RIGHTS 1
#define MSG_NOSIGNAL 0x4000
#define POLLIN 1
#define POLLOUT 4
#define O_RDONLY 0
#define O_CLOEXEC 02000000
#define O_PATH 010000000
#define O_DIRECTORY 0200000
#define EINTR 4
#define EAGAIN 11
#define MAX_REQUEST (256 * 1024)
// how long a call waits for a worker to take it before it is exec'd instead, and for the steps
// of the exchange around the call (the call itself has the agent's deadline)
#define TAKE_MS 3000
#define STEP_MS 2000

struct iovec { void *base; unsigned long len; };
struct msghdr { void *name; unsigned namelen; struct iovec *iov; unsigned long iovlen; void *control; unsigned long controllen; int flags; };
struct sockaddr_un { unsigned short family; char path[108]; };
struct pollfd { int fd; short events, revents; };
struct ucred { int pid; unsigned uid, gid; };
struct timespec { long sec, nsec; };

static long nowMs(void) {
  struct timespec t;
  sys3(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&t, 0);
  return t.sec * 1000 + t.nsec / 1000000;
}

/** 1 when fd is ready for `events` before the deadline, else 0 */
static int ready(int fd, short events, long deadline) {
  for (;;) {
    long left = deadline - nowMs();
    if (left <= 0) return 0;
    struct pollfd p = {fd, events, 0};
    long r = sys3(SYS_poll, (long)&p, 1, left);
    if (r > 0) return 1;   // (a hang-up too: the read or write after it says so)
    if (r < 0 && r != -EINTR) return 0;
  }
}

/** n bytes from fd before the deadline: 1, or 0 (EOF, error, time) */
static int readFull(int fd, char *buf, long n, long deadline) {
  long off = 0;
  while (off < n) {
    if (!ready(fd, POLLIN, deadline)) return 0;
    long r = sys3(SYS_read, fd, (long)buf + off, n - off);
    if (r == -EINTR || r == -EAGAIN) continue;
    if (r <= 0) return 0;
    off += r;
  }
  return 1;
}

static int sendAll(int fd, const char *buf, long n, long deadline, int *fds, int nfds) {
  long off = 0;
  while (off < n) {
    if (!ready(fd, POLLOUT, deadline)) return 0;
    struct iovec iov = {(void *)(buf + off), (unsigned long)(n - off)};
    // the descriptors ride with the first bytes (cmsghdr: len, level, type, then the ints)
    long ctl[6];
    struct msghdr m = {0, 0, &iov, 1, 0, 0, 0};
    if (off == 0 && nfds) {
      long clen = 16 + 4 * nfds;
      ctl[0] = clen;
      int *hdr = (int *)(ctl + 1);
      hdr[0] = SOL_SOCKET;
      hdr[1] = SCM_RIGHTS;
      int *data = (int *)(ctl + 2);
      for (int i = 0; i < nfds; i++) data[i] = fds[i];
      m.control = ctl;
      m.controllen = (clen + 7) & ~7L;
    }
    long w = sys3(SYS_sendmsg, fd, (long)&m, MSG_NOSIGNAL);
    if (w == -EINTR || w == -EAGAIN) continue;
    if (w <= 0) return 0;
    off += w;
  }
  return 1;
}

static long copy(char *dst, const char *src) {
  long n = 0;
  while ((dst[n] = src[n])) n++;
  return n;
}

static void writeOut(const char *s, long n) {
  long off = 0;
  while (off < n) {
    long w = sys3(SYS_write, 1, (long)s + off, n - off);
    if (w == -EINTR) continue;
    if (w <= 0) return;
    off += w;
  }
}

/** Where the agent listens unless CNI_TS_AGENT_DIR says (agent/defaults.ts AGENT_DIR: a test holds them equal). */
#define DEFAULT_AGENT_DIR "/run/cni-ts/agent"
static char request[MAX_REQUEST];

/**
 * The call through the agent: returns when it was not taken (run it as before); exits with the
 * call's status when it was. Never both: a worker runs a call only after this side said "go".
 */
static void viaAgent(const char *name, char **envp) {
  const char *off = envValue(envp, "CNI_TS_AGENT="), *dir = envValue(envp, "CNI_TS_AGENT_DIR=");
  if (off && same(off, "off")) return;
  if (!dir || dir[0] != '/') dir = DEFAULT_AGENT_DIR;
  struct sockaddr_un sa;
  sa.family = AF_UNIX;
  long dl = len(dir), bl = len(BUILD_ID);
  if (dl + 1 + bl + 6 > (long)sizeof sa.path) return;
  long p = copy(sa.path, dir);
  sa.path[p++] = '/';
  p += copy(sa.path + p, BUILD_ID);
  copy(sa.path + p, ".sock");
  // the request: a magic line, the build, the plugin's name, the environment (NUL-separated)
  long n = 4;
  n += copy(request + n, "cni-ts-agent/1") + 1;
  n += copy(request + n, BUILD_ID) + 1;
  n += copy(request + n, name) + 1;
  for (char **e = envp; *e; e++) {
    long l = len(*e);
    if (n + l + 1 > MAX_REQUEST) return;
    copy(request + n, *e);
    n += l + 1;
  }
  long body = n - 4;
  request[0] = body & 255, request[1] = (body >> 8) & 255, request[2] = (body >> 16) & 255, request[3] = (body >> 24) & 255;

  long s = sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  // non-blocking: a full backlog (every worker busy, many waiting) is EAGAIN, not a wait
  if (sys3(SYS_connect, s, (long)&sa, sizeof sa) < 0) { sys3(SYS_close, s, 0, 0); return; }
  // only root's agent: whoever made a socket at this path must be root
  struct ucred cred;
  unsigned clen = sizeof cred;
  if (sys5(SYS_getsockopt, s, SOL_SOCKET, SO_PEERCRED, (long)&cred, (long)&clen) < 0) { sys3(SYS_close, s, 0, 0); return; }
  if (cred.uid != 0) { sys3(SYS_close, s, 0, 0); return; }
  long ns = sys4(SYS_openat, AT_FDCWD, (long)"/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC, 0);
  if (ns < 0) { sys3(SYS_close, s, 0, 0); return; }
  // and our root: the agent opens CNI_NETNS as we would see it (`ip netns exec` gives its
  // process a mount namespace of its own, where a netns made since may be mounted and not in
  // the agent's)
  long root = sys4(SYS_openat, AT_FDCWD, (long)"/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (root < 0) { sys3(SYS_close, ns, 0, 0); sys3(SYS_close, s, 0, 0); return; }
  int fds[5] = {0, 1, 2, (int)ns, (int)root};
  long start = nowMs();
  int sent = sendAll(s, request, n, start + STEP_MS, fds, 5);
  sys3(SYS_close, ns, 0, 0);
  sys3(SYS_close, root, 0, 0);
  char reply[5];
  // taken ("A" and the call's deadline in seconds) or not ("X", EOF, no worker in time)
  if (!sent || !readFull(s, reply, 1, start + TAKE_MS) || reply[0] != 'A' || !readFull(s, reply + 1, 4, nowMs() + STEP_MS)) { sys3(SYS_close, s, 0, 0); return; }
  long deadline = (long)(unsigned char)reply[1] | (long)(unsigned char)reply[2] << 8 | (long)(unsigned char)reply[3] << 16 | (long)(unsigned char)reply[4] << 24;
  if (!sendAll(s, "G", 1, nowMs() + STEP_MS, 0, 0)) { sys3(SYS_close, s, 0, 0); return; }
  // from here the call is the agent's: its status, or (the worker gone) the error it left
  static char failure[1024];
  long flen = 0;
  long end = nowMs() + (deadline + 5) * 1000;
  for (;;) {
    char kind;
    if (!readFull(s, &kind, 1, end)) break;
    if (kind == 'S') {
      char status;
      if (!readFull(s, &status, 1, end)) break;
      sys3(SYS_exit, (unsigned char)status, 0, 0);
    }
    if (kind != 'E' || !readFull(s, reply, 2, end)) break;
    long l = (long)(unsigned char)reply[0] | (long)(unsigned char)reply[1] << 8;
    if (l > (long)sizeof failure || !readFull(s, failure, l, end)) break;
    flen = l;
  }
  if (flen) writeOut(failure, flen);
  else {
    const char *msg = "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"cni-ts agent: the call did not finish: try again later\"}\n";
    writeOut(msg, len(msg));
  }
  sys3(SYS_exit, 1, 0, 0);
}

__attribute__((used, noreturn)) void launch(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  int longRunning = 0;
  for (long i = 1; i < argc; i++) if (starts(argv[i], "--resolver") || starts(argv[i], "--sync")) longRunning = 1;
  if (argc > 1 && same(argv[1], "agent")) longRunning = 1;
  if (argc > 0 && !longRunning) answerVersion(argv[0], envp);
  // a plugin call (a plugin's name, no arguments, a command): offered to the agent first
  if (argc == 1 && isPlugin(baseName(argv[0]))) {
    const char *command = envValue(envp, "CNI_COMMAND=");
    if (command && *command) viaAgent(baseName(argv[0]), envp);
  }
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
