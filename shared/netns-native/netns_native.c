/*
 * netns-native: the smallest native surface cni-ts needs.
 *
 *   openNetns(path) -> fd            open a network namespace file, checked to be one before it
 *                                    is opened (statfs: nsfs or procfs) and after (the fd's fs
 *                                    and NS_GET_NSTYPE); opened O_NONBLOCK, so nothing else hangs
 *   randomU32() -> number            getrandom(2): unpredictable netlink sequence numbers
 *   netnsCookie() -> string          SO_NETNS_COOKIE of the calling thread's network namespace:
 *                                    unique for the boot, never reused (an nsfs inode is)
 *   closeFd(fd)
 *   withNetns(fd, callback) -> any   run callback inside the namespace, always restore
 *   netlinkOpen(nsFd, protocol) -> fd   netlink socket created (bound) inside nsFd (-1: here)
 *   netlinkRequest(fd, request) -> Buffer[]   send one request, collect every reply
 *                                    up to its ACK, NLMSG_ERROR or NLMSG_DONE; only messages
 *                                    the kernel sent (sender port 0) with the request's seq
 *   flock(fd, operation)             flock(2), blocking unless LOCK_NB is in operation
 *   file syscalls: see files.c; listening sockets: see sockets.c; the agent's: see agent.c
 *
 * Everything about message contents lives in TypeScript (shared/netlink). Errors are thrown
 * as Error objects whose `code` is the errno name (e.g. "ENOENT").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "native.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO(0xb7, 0x3)
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define RECV_BUF (64 * 1024)

napi_value native_throw_errno(napi_env env, int err, const char *what) {
  char msg[4200];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, name ? name : "EUNKNOWN", msg);
  return NULL;
}

int native_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "EINVAL", "missing arguments");
    return -1;
  }
  return 0;
}

int native_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected an integer");
    return -1;
  }
  return 0;
}

/* A non-empty UTF-8 path that fits `out`; otherwise a TypeError "<what> must be a non-empty string". */
int native_path(napi_env env, napi_value v, char *out, size_t size, const char *what) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok || len == 0 || len >= size - 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a non-empty string", what);
    napi_throw_type_error(env, "EINVAL", msg);
    return -1;
  }
  return 0;
}

int native_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool isbuf;
  if (napi_is_buffer(env, v, &isbuf) != napi_ok || !isbuf || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a Buffer");
    return -1;
  }
  return 0;
}

napi_value native_make_int(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

static int open_current(void) {
  return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

static napi_value open_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[4096];
  struct statfs sfs;
  if (native_args(env, info, 1, argv) || native_path(env, argv[0], path, sizeof path, "netns path")) return NULL;
  char msg[4200];
  snprintf(msg, sizeof msg, "%s is not a network namespace", path);
  /* what the path is, before opening it: a FIFO or a device must never be opened (a FIFO
     blocks, a device can act on open); a namespace file lives on nsfs, or procfs for
     /proc/<pid>/ns/net */
  if (statfs(path, &sfs) < 0) return native_throw_errno(env, errno, path);
  if (sfs.f_type != NSFS_MAGIC && sfs.f_type != PROC_SUPER_MAGIC) {
    napi_throw_error(env, "ENOTNETNS", msg);
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return native_throw_errno(env, errno, path);
  /* and what was opened (the path may have changed since): nsfs, and a network namespace */
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC || type != CLONE_NEWNET) {
    close(fd);
    napi_throw_error(env, "ENOTNETNS", msg);
    return NULL;
  }
  return native_make_int(env, fd);
}

static napi_value random_u32(napi_env env, napi_callback_info info) {
  (void)info;
  uint32_t v;
  ssize_t n;
  do n = getrandom(&v, sizeof v, 0);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof v) return native_throw_errno(env, n < 0 ? errno : EIO, "getrandom");
  napi_value r;
  napi_create_uint32(env, v, &r);
  return r;
}

/* End the process now with `code`: a plugin call has written its answer with write(2) and has
 * nothing left to flush; the runtime's own teardown (exit handlers, heap, allocator) would add
 * to every call for memory the kernel frees anyway. */
static napi_value exit_now(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t code;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &code)) return NULL;
  _exit(code & 0xff);
}

static napi_value netns_cookie(napi_env env, napi_callback_info info) {
  (void)info;
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return native_throw_errno(env, errno, "socket");
  int r = getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len);
  int e = errno;
  close(s);
  if (r < 0) return native_throw_errno(env, e, "SO_NETNS_COOKIE");
  char text[24];
  snprintf(text, sizeof text, "%llu", (unsigned long long)cookie);
  napi_value v;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &fd)) return NULL;
  if (close(fd) < 0) return native_throw_errno(env, errno, "close");
  return NULL;
}

/* Enter `fd`, remembering where we were in *saved. Returns 0 or an errno. */
int native_enter(int fd, int *saved) {
  *saved = open_current();
  if (*saved < 0) return errno;
  if (setns(fd, CLONE_NEWNET) < 0) {
    int e = errno;
    close(*saved);
    return e;
  }
  return 0;
}

/* Return to the saved namespace. A thread that cannot get back must not run any more JS. */
void native_leave(int saved) {
  if (setns(saved, CLONE_NEWNET) < 0) {
    fprintf(stderr, "netns-native: cannot restore the original network namespace: %s\n",
            strerror(errno));
    abort();
  }
  close(saved);
}

static napi_value with_netns(napi_env env, napi_callback_info info) {
  napi_value argv[2], global, result = NULL;
  int32_t fd;
  int saved, err;
  if (native_args(env, info, 2, argv) || native_int(env, argv[0], &fd)) return NULL;
  if ((err = native_enter(fd, &saved))) return native_throw_errno(env, err, "setns");
  napi_get_global(env, &global);
  napi_status st = napi_call_function(env, global, argv[1], 0, NULL, &result);
  native_leave(saved); /* always, whether the callback returned or threw */
  return st == napi_ok ? result : NULL;
}

static napi_value netlink_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t nsfd, proto;
  int saved = -1, err, one = 1, sz = 1 << 20;
  if (native_args(env, info, 2, argv) || native_int(env, argv[0], &nsfd) || native_int(env, argv[1], &proto))
    return NULL;
  if (nsfd >= 0 && (err = native_enter(nsfd, &saved))) return native_throw_errno(env, err, "setns");
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  err = errno;
  if (s >= 0) {
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
      err = errno;
      close(s);
      s = -1;
    }
  }
  if (saved >= 0) native_leave(saved);
  if (s < 0) return native_throw_errno(env, err, "netlink socket");
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  /* an nf_tables batch goes in one send: room for thousands of elements (root may force it) */
  int snd = 8 << 20;
  if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) < 0) setsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(s, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return native_make_int(env, s);
}

static napi_value netlink_request(napi_env env, napi_callback_info info) {
  napi_value argv[2], list;
  int32_t fd;
  void *req;
  size_t reqlen;
  bool isbuf;
  if (native_args(env, info, 2, argv) || native_int(env, argv[0], &fd)) return NULL;
  if (napi_is_buffer(env, argv[1], &isbuf) != napi_ok || !isbuf ||
      napi_get_buffer_info(env, argv[1], &req, &reqlen) != napi_ok ||
      reqlen < sizeof(struct nlmsghdr)) {
    napi_throw_type_error(env, "EINVAL", "request must be a Buffer holding a netlink message");
    return NULL;
  }
  uint32_t seq = ((struct nlmsghdr *)req)->nlmsg_seq;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(fd, req, reqlen, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return native_throw_errno(env, errno, "netlink send");

  napi_create_array(env, &list);
  uint32_t count = 0;
  char *buf = malloc(RECV_BUF);
  if (!buf) return native_throw_errno(env, ENOMEM, "netlink receive");
  for (;;) {
    struct sockaddr_nl from;
    socklen_t fromlen;
    do {
      fromlen = sizeof from;
      n = recvfrom(fd, buf, RECV_BUF, 0, (struct sockaddr *)&from, &fromlen);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      free(buf);
      return native_throw_errno(env, e, "netlink receive");
    }
    /* only the kernel speaks for the kernel: another process in the namespace may send to us */
    if (fromlen < sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0) continue;
    int done = 0;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue; /* a stale reply to an earlier request */
      void *copy;
      napi_value b;
      napi_create_buffer_copy(env, h->nlmsg_len, h, &copy, &b);
      napi_set_element(env, list, count++, b);
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = 1;
    }
    if (done) break;
  }
  free(buf);
  return list;
}

static napi_value flock_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, op;
  if (native_args(env, info, 2, argv) || native_int(env, argv[0], &fd) || native_int(env, argv[1], &op)) return NULL;
  int r;
  do r = flock(fd, op);
  while (r < 0 && errno == EINTR);
  if (r < 0) return native_throw_errno(env, errno, "flock");
  return NULL;
}

void native_export_all(napi_env env, napi_value exports, const native_fn *fns, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
}

NAPI_MODULE_INIT(/* env, exports */) {
  static const native_fn fns[] = {
    {"openNetns", open_netns},     {"closeFd", close_fd},
    {"withNetns", with_netns},     {"netlinkOpen", netlink_open},       {"netlinkRequest", netlink_request},
    {"flock", flock_fd}, {"randomU32", random_u32}, {"netnsCookie", netns_cookie}, {"exitNow", exit_now},
  };
  native_export_all(env, exports, fns, sizeof fns / sizeof fns[0]);
  native_register_files(env, exports);
  native_register_sockets(env, exports);
  native_register_agent(env, exports);
  return exports;
}
