// timed-exec CMD [ARG...]: runs CMD the way a Go runtime execs a CNI plugin (libcni's
// RawExec: os/exec, which spawns with vfork; stdin fed from memory through a pipe, stdout
// collected through a pipe, stderr inherited) and tells on fd 3 how long that took, in
// nanoseconds, from before the spawn to after the wait. Its own stdin (read in full first) is
// CMD's; CMD's stdout becomes its stdout once CMD has exited; its exit status is CMD's.
//
// Why: the bench is a Node program, and Node's spawnSync costs milliseconds of its own per
// exec (more the larger the bench's heap), which no runtime pays; measured here, a row's
// figure is the plugin's cost as a runtime sees it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_IO (16 << 20)

static unsigned long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

static char *read_all(int fd, size_t *len) {
  size_t cap = 65536, n = 0;
  char *b = malloc(cap);
  for (;;) {
    if (!b) { fprintf(stderr, "timed-exec: out of memory\n"); exit(125); }
    if (n == cap) {
      if (cap >= MAX_IO) { fprintf(stderr, "timed-exec: input over %d bytes\n", MAX_IO); exit(125); }
      b = realloc(b, cap *= 2);
      continue;
    }
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  *len = n;
  return b;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: timed-exec CMD [ARG...]\n"); return 125; }
  size_t in_len, out_len = 0, out_cap = 65536, written = 0;
  char *in = read_all(0, &in_len), *out = malloc(out_cap);
  int pin[2], pout[2];
  if (!out || pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC)) { perror("timed-exec"); return 125; }
  // (this process must not die writing to a plugin that never reads its stdin; the plugin
  // itself gets SIGPIPE's default back, as a Go runtime's children do)
  signal(SIGPIPE, SIG_IGN);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
  posix_spawn_file_actions_adddup2(&fa, pout[1], 1);

  unsigned long long t0 = now_ns();
  pid_t pid;
  int e = posix_spawn(&pid, argv[1], &fa, &attr, argv + 1, environ);
  if (e) { fprintf(stderr, "timed-exec: %s: %s\n", argv[1], strerror(e)); return 127; }
  close(pin[0]);
  close(pout[1]);
  fcntl(pin[1], F_SETFL, O_NONBLOCK);
  if (in_len == 0) { close(pin[1]); pin[1] = -1; }
  for (;;) {
    struct pollfd p[2] = { { pout[0], POLLIN, 0 }, { pin[1], POLLOUT, 0 } };
    if (poll(p, pin[1] >= 0 ? 2 : 1, -1) < 0) { if (errno == EINTR) continue; perror("timed-exec"); return 125; }
    if (pin[1] >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(pin[1], in + written, in_len - written);
      if (w > 0) written += (size_t)w;
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = in_len;   // (it closed its stdin)
      if (written == in_len) { close(pin[1]); pin[1] = -1; }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (out_len == out_cap) {
        if (out_cap >= MAX_IO) { fprintf(stderr, "timed-exec: output over %d bytes\n", MAX_IO); return 125; }
        out = realloc(out, out_cap *= 2);
        if (!out) { fprintf(stderr, "timed-exec: out of memory\n"); return 125; }
      }
      ssize_t r = read(pout[0], out + out_len, out_cap - out_len);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      out_len += (size_t)r;
    }
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  unsigned long long took = now_ns() - t0;
  if (pin[1] >= 0) close(pin[1]);

  for (size_t off = 0; off < out_len;) {
    ssize_t w = write(1, out + off, out_len - off);
    if (w <= 0) { if (w < 0 && errno == EINTR) continue; break; }
    off += (size_t)w;
  }
  dprintf(3, "%llu\n", took);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
