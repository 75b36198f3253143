/*
 * agent: the node agent's socket (agent/). One listening unix socket that the agent's workers
 * share (each blocks in accept, the kernel hands a connection to one of them), and one call's
 * connection taken with its caller's credentials and file descriptors.
 *
 *   agentListen(path) -> fd         unix stream socket bound at path, chmod 0600 before it
 *                                   listens (no caller can connect while the mode is wider);
 *                                   its accept gives up after 5 s (EAGAIN)
 *   agentAccept(fd) -> [conn, uid, pid]
 *                                   accept(2), blocking (a worker has nothing else to do), the
 *                                   peer's SO_PEERCRED; EINVAL once the socket is shut down,
 *                                   EAGAIN after 5 s with no connection
 *   agentReceive(conn, max, timeoutMs) -> [Buffer, fd...]
 *                                   one request: a 4-byte little-endian length, then that many
 *                                   bytes (at most max), and the descriptors it carried
 *                                   (SCM_RIGHTS, close-on-exec, at most 8); ETIMEDOUT, EPROTO
 *   agentWaitByte(conn, timeoutMs) -> byte, -1 at EOF, -2 on timeout
 *   agentShutdown(fd)               shutdown(2): every worker blocked in accept returns EINVAL
 *   dup2(old, new)                  dup2(2): a call's stdio put in place and taken away
 *   alarm(seconds) -> previous      alarm(2): a worker whose call outlives its deadline ends
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "native.h"

#define MAX_FDS 8

static napi_value agent_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (native_args(env, info, 1, argv) || native_path(env, argv[0], sa.sun_path, sizeof sa.sun_path, "socket path")) return NULL;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return native_throw_errno(env, errno, "socket");
  /* accept returns EAGAIN after a while with nothing to take: a worker may then leave when idle */
  struct timeval idle = {.tv_sec = 5};
  if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle) < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(sa.sun_path, 0600) < 0 || listen(s, 128) < 0) {
    int e = errno;
    close(s);
    return native_throw_errno(env, e, sa.sun_path);
  }
  return native_make_int(env, s);
}

static napi_value agent_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int32_t lfd;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &lfd)) return NULL;
  int c;
  for (;;) {
    c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) break;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    return native_throw_errno(env, errno, "accept");
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    int e = errno;
    close(c);
    return native_throw_errno(env, e, "SO_PEERCRED");
  }
  napi_create_array_with_length(env, 3, &out);
  napi_set_element(env, out, 0, native_make_int(env, c));
  napi_set_element(env, out, 1, native_make_int(env, (int32_t)cred.uid));
  napi_set_element(env, out, 2, native_make_int(env, (int32_t)cred.pid));
  return out;
}

static void close_all(int *fds, int n) {
  for (int i = 0; i < n; i++) close(fds[i]);
}

static napi_value agent_receive(napi_env env, napi_callback_info info) {
  napi_value argv[3], out, b;
  int32_t fd, max, timeout;
  if (native_args(env, info, 3, argv) || native_int(env, argv[0], &fd) || native_int(env, argv[1], &max) || native_int(env, argv[2], &timeout)) return NULL;
  if (max <= 0 || max > (64 << 20)) return native_throw_errno(env, EINVAL, "agentReceive max");
  long long deadline = native_now_ms() + timeout;
  int fds[MAX_FDS], nfds = 0;
  uint8_t head[4];
  size_t want = 4, got = 0, total = 0;
  char *buf = NULL;
  int err = 0;
  while (!err) {
    err = native_wait_fd(fd, POLLIN, deadline);
    if (err) break;
    union { char b[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } ctl;
    struct iovec iov;
    if (total == 0) { iov.iov_base = head + got; iov.iov_len = want - got; }
    else { iov.iov_base = buf + got; iov.iov_len = total - got; }
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      err = errno;
      break;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      int *p = (int *)CMSG_DATA(c);
      for (int i = 0; i < n; i++) {
        if (nfds < MAX_FDS) fds[nfds++] = p[i];
        else close(p[i]);
      }
    }
    if (m.msg_flags & MSG_CTRUNC) err = EPROTO;
    if (r == 0) { err = EPROTO; break; }   /* EOF before the whole request */
    got += (size_t)r;
    if (total == 0 && got == want) {
      total = (size_t)head[0] | (size_t)head[1] << 8 | (size_t)head[2] << 16 | (size_t)head[3] << 24;
      if (total == 0 || total > (size_t)max) { err = EPROTO; break; }
      buf = malloc(total);
      if (!buf) { err = ENOMEM; break; }
      got = 0;
    } else if (total && got == total) {
      break;
    }
  }
  if (err) {
    free(buf);
    close_all(fds, nfds);
    return native_throw_errno(env, err, "agent request");
  }
  void *copy;
  napi_create_array_with_length(env, 1 + nfds, &out);
  napi_create_buffer_copy(env, total, buf, &copy, &b);
  free(buf);
  napi_set_element(env, out, 0, b);
  for (int i = 0; i < nfds; i++) napi_set_element(env, out, 1 + i, native_make_int(env, fds[i]));
  return out;
}

static napi_value agent_wait_byte(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, timeout;
  if (native_args(env, info, 2, argv) || native_int(env, argv[0], &fd) || native_int(env, argv[1], &timeout)) return NULL;
  long long deadline = native_now_ms() + timeout;
  for (;;) {
    int err = native_wait_fd(fd, POLLIN, deadline);
    if (err == ETIMEDOUT) return native_make_int(env, -2);
    if (err) return native_throw_errno(env, err, "agent wait");
    unsigned char c;
    ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
    if (r == 1) return native_make_int(env, c);
    if (r == 0) return native_make_int(env, -1);
    if (errno == ECONNRESET) return native_make_int(env, -1);
    if (errno != EINTR && errno != EAGAIN) return native_throw_errno(env, errno, "agent wait");
  }
}

static napi_value agent_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &fd)) return NULL;
  if (shutdown(fd, SHUT_RDWR) < 0 && errno != ENOTCONN) return native_throw_errno(env, errno, "shutdown");
  return NULL;
}

static napi_value dup2_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t from, to;
  if (native_args(env, info, 2, argv) || native_int(env, argv[0], &from) || native_int(env, argv[1], &to)) return NULL;
  while (dup2(from, to) < 0) if (errno != EINTR && errno != EBUSY) return native_throw_errno(env, errno, "dup2");
  return NULL;
}

static napi_value alarm_s(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t s;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &s)) return NULL;
  if (s < 0) return native_throw_errno(env, EINVAL, "alarm");
  return native_make_int(env, (int32_t)alarm((unsigned)s));
}

void native_register_agent(napi_env env, napi_value exports) {
  static const native_fn fns[] = {{"agentListen", agent_listen}, {"agentAccept", agent_accept}, {"agentReceive", agent_receive},
    {"agentWaitByte", agent_wait_byte}, {"agentShutdown", agent_shutdown}, {"dup2", dup2_fd},
    {"alarm", alarm_s}};
  native_export_all(env, exports, fns, sizeof fns / sizeof fns[0]);
}
