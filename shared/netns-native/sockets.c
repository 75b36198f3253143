/*
 * sockets: a listening socket made inside another network namespace, for a long-running mode
 * that serves many containers from one process (the socket keeps the namespace it was made in;
 * the caller hands the fd to its event loop).
 *
 *   listenIn(nsFd, tcp, address, port) -> fd   socket(2) of the address's family, UDP or TCP,
 *                                             created inside nsFd (-1: here), non-blocking,
 *                                             close-on-exec, IP_FREEBIND (the address may not
 *                                             be up yet, e.g. 127.0.0.11 before lo is), bound,
 *                                             and listening when TCP
 *   udpExchange(nsFd, address, port, query, timeoutMs) -> Buffer | null
 *                                             one datagram to address:port from a socket made
 *                                             inside nsFd (connected: only that peer's reply
 *                                             is taken), the first reply, or null after
 *                                             timeoutMs
 *   unixExchange(path, request, timeoutMs) -> Buffer
 *                                             a request over a unix stream socket, the reply
 *                                             read to EOF; ETIMEDOUT after timeoutMs in all
 *   tcpExchange(address, port, request, timeoutMs) -> Buffer
 *                                             the same over TCP to an IP address (the write side
 *                                             stays open: the peer ends the reply by closing),
 *                                             at most 64 MiB of reply
 *   pollCreate, pollCtl, eventFd, eventSignal, udpNext, udpSend
 *                                             a blocking UDP loop's syscalls (see below)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <string.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "native.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

/* addr:port as a sockaddr; the family, or 0 when addr is not an IP address */
static int to_sockaddr(const char *addr, int port, struct sockaddr_storage *ssp, socklen_t *lenp) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  int family = 0;
  if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
    family = in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    *lenp = sizeof *in4;
  } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
    family = in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    *lenp = sizeof *in6;
  }
  *ssp = ss;
  return family;
}

long long native_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* wait for `events` on fd until the deadline: 0, ETIMEDOUT or an errno */
int native_wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - native_now_ms();
    if (left <= 0) return ETIMEDOUT;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, (int)left);
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return errno;
  }
}

static int make_listener(int tcp, const char *addr, int port, int *fd_out) {
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1;
  int family = to_sockaddr(addr, port, &ss, &len);
  if (!family) return EINVAL;
  int s = socket(family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  if (family == AF_INET) setsockopt(s, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  else {
    setsockopt(s, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (tcp) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, (struct sockaddr *)&ss, len) < 0 || (tcp && listen(s, 128) < 0)) {
    int e = errno;
    close(s);
    return e;
  }
  *fd_out = s;
  return 0;
}

static napi_value listen_in(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t nsfd, tcp, port;
  char addr[64];
  size_t alen;
  if (native_args(env, info, 4, argv) || native_int(env, argv[0], &nsfd) || native_int(env, argv[1], &tcp)) return NULL;
  if (napi_get_value_string_utf8(env, argv[2], addr, sizeof addr, &alen) != napi_ok || alen == 0 ||
      native_int(env, argv[3], &port) || port < 0 || port > 65535) {
    napi_throw_type_error(env, "EINVAL", "listenIn(nsFd, tcp, address, port)");
    return NULL;
  }
  int saved = -1, err, fd = -1;
  if (nsfd >= 0 && (err = native_enter(nsfd, &saved))) return native_throw_errno(env, err, "setns");
  err = make_listener(tcp, addr, port, &fd);
  if (saved >= 0) native_leave(saved);
  if (err) return native_throw_errno(env, err, "listen");
  return native_make_int(env, fd);
}

static napi_value udp_exchange(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t nsfd, port, timeout;
  char addr[64];
  size_t alen, qlen;
  void *q;
  if (native_args(env, info, 5, argv) || native_int(env, argv[0], &nsfd) || native_int(env, argv[2], &port) ||
      native_buffer(env, argv[3], &q, &qlen) || native_int(env, argv[4], &timeout))
    return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &alen) != napi_ok || !to_sockaddr(addr, port, &ss, &len)) {
    napi_throw_type_error(env, "EINVAL", "udpExchange: address must be an IP address");
    return NULL;
  }
  long long deadline = native_now_ms() + timeout;
  int saved = -1, err = 0;
  if (nsfd >= 0 && (err = native_enter(nsfd, &saved))) return native_throw_errno(env, err, "setns");
  int s = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) err = errno;
  else if (connect(s, (struct sockaddr *)&ss, len) < 0) err = errno;
  if (saved >= 0) native_leave(saved);
  if (err) {
    if (s >= 0) close(s);
    return native_throw_errno(env, err, "udpExchange");
  }
  char buf[65536];
  ssize_t n = send(s, q, qlen, 0);
  if (n < 0) err = errno;
  while (!err) {
    if ((err = native_wait_fd(s, POLLIN, deadline))) break;
    n = recv(s, buf, sizeof buf, 0);
    if (n >= 0) break;
    if (errno != EAGAIN && errno != EINTR) err = errno;
  }
  close(s);
  napi_value r;
  if (err == ETIMEDOUT) napi_get_null(env, &r);
  else if (err) return native_throw_errno(env, err, "udpExchange");
  else {
    void *copy;
    napi_create_buffer_copy(env, (size_t)n, buf, &copy, &r);
  }
  return r;
}

/* a request over a stream socket to `sa`, the reply read to EOF (at most `cap` bytes), all by
   the deadline; with half_close the write side is shut after the request (the unix control
   socket's end of request; an HTTP server may take it for a client gone, so TCP keeps it open) */
static napi_value stream_exchange(napi_env env, const struct sockaddr *sa, socklen_t salen, const void *req, size_t reqlen,
                                  long long deadline, int half_close, size_t cap_max, const char *what) {
  int err = 0, s = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return native_throw_errno(env, errno, what);
  if (connect(s, sa, salen) < 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) err = errno;
    else if (!(err = native_wait_fd(s, POLLOUT, deadline))) {
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl);
      err = soerr;
    }
  }
  size_t sent = 0;
  while (!err && sent < reqlen) {
    ssize_t n = send(s, (const char *)req + sent, reqlen - sent, MSG_NOSIGNAL);
    if (n >= 0) sent += (size_t)n;
    else if (errno == EAGAIN) err = native_wait_fd(s, POLLOUT, deadline);
    else if (errno != EINTR) err = errno;
  }
  if (!err && half_close) shutdown(s, SHUT_WR);
  size_t cap = 4096, got = 0;
  char *buf = malloc(cap);
  if (!buf) err = ENOMEM;
  while (!err) {
    if (got == cap) {
      char *b = cap >= cap_max ? NULL : realloc(buf, cap * 2);
      if (!b) { err = EMSGSIZE; break; }
      buf = b;
      cap *= 2;
    }
    ssize_t n = recv(s, buf + got, cap - got, 0);
    if (n == 0) break;
    if (n > 0) got += (size_t)n;
    else if (errno == EAGAIN) err = native_wait_fd(s, POLLIN, deadline);
    else if (errno != EINTR) err = errno;
  }
  close(s);
  if (err) {
    free(buf);
    return native_throw_errno(env, err, what);
  }
  napi_value r;
  void *copy;
  napi_create_buffer_copy(env, got, buf, &copy, &r);
  free(buf);
  return r;
}

static napi_value unix_exchange(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  void *req;
  size_t reqlen;
  int32_t timeout;
  if (native_args(env, info, 3, argv) || native_path(env, argv[0], path, sizeof path, "socket path") ||
      native_buffer(env, argv[1], &req, &reqlen) || native_int(env, argv[2], &timeout))
    return NULL;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, path, strlen(path) + 1);
  return stream_exchange(env, (struct sockaddr *)&sa, sizeof sa, req, reqlen, native_now_ms() + timeout, 1, 1 << 20, path);
}

static napi_value tcp_exchange(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t port, timeout;
  char addr[64];
  size_t alen, reqlen;
  void *req;
  if (native_args(env, info, 4, argv) || native_int(env, argv[1], &port) || native_buffer(env, argv[2], &req, &reqlen) ||
      native_int(env, argv[3], &timeout))
    return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (port < 1 || port > 65535 || napi_get_value_string_utf8(env, argv[0], addr, sizeof addr, &alen) != napi_ok ||
      !to_sockaddr(addr, port, &ss, &len)) {
    napi_throw_type_error(env, "EINVAL", "tcpExchange: address must be an IP address, port 1-65535");
    return NULL;
  }
  return stream_exchange(env, (struct sockaddr *)&ss, len, req, reqlen, native_now_ms() + timeout, 0, 64 << 20, "tcp");
}

/* the UDP serving loop's syscalls: an epoll set of listeners (each registered with a tag), an
   eventfd to wake the loop, one datagram in, one datagram out; IPv4 (the listeners are
   127.0.0.x), addresses as 32-bit integers, nothing allocated per datagram */
static napi_value poll_create(napi_env env, napi_callback_info info) {
  (void)info;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return native_throw_errno(env, errno, "epoll_create1");
  return native_make_int(env, ep);
}

/* pollCtl(ep, fd, tag, exclusive): add fd (tag >= 0) or remove it (tag < 0). exclusive: when
   several epoll sets (one a thread) hold the same fd, a datagram wakes one of them
   (EPOLLEXCLUSIVE), not every thread */
static napi_value poll_ctl(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t ep, fd, tag, exclusive;
  if (native_args(env, info, 4, argv) || native_int(env, argv[0], &ep) || native_int(env, argv[1], &fd) || native_int(env, argv[2], &tag) ||
      native_int(env, argv[3], &exclusive)) return NULL;
  struct epoll_event ev = {.events = EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0), .data.u64 = ((uint64_t)(uint32_t)tag << 32) | (uint32_t)fd};
  /* tag < 0: remove fd */
  if (epoll_ctl(ep, tag < 0 ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, fd, &ev) < 0) return native_throw_errno(env, errno, "epoll_ctl");
  return NULL;
}

static napi_value event_fd(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return native_throw_errno(env, errno, "eventfd");
  return native_make_int(env, fd);
}

static napi_value event_signal(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  uint64_t one = 1;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &fd)) return NULL;
  if (write(fd, &one, sizeof one) < 0 && errno != EAGAIN) return native_throw_errno(env, errno, "eventfd write");
  return NULL;
}

/* the first len bytes of the Buffer v to addr:port (IPv4, host order) from fd, never blocking
   (dropped when the socket's buffer is full); -1 with a JS exception when v is not a Buffer of
   at least len bytes */
static void send_to(int fd, const void *buf, size_t len, int32_t addr, int32_t port) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl((uint32_t)addr)};
  sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
}

static int send_datagram(napi_env env, int fd, napi_value v, int32_t len, int32_t addr, int32_t port) {
  void *buf;
  size_t blen;
  if (native_buffer(env, v, &buf, &blen)) return -1;
  if (len < 0 || (size_t)len > blen) {
    napi_throw_range_error(env, "EINVAL", "length beyond the buffer");
    return -1;
  }
  send_to(fd, buf, (size_t)len, addr, port);
  return 0;
}

/* the socket this thread read last, read again before waiting, up to `streak_max` datagrams in
   a row (each UDP thread has its own);
   reset by every wait, so a socket the main thread retires after a view change (which every
   thread takes through the wake eventfd first) is never read here */
static __thread int streak_fd = -1;
static __thread int32_t streak_tag, streak;

/* The UDP loop's step, without the runtime: with rlen > 0 the reply to the datagram meta
   describes is sent first, then the next datagram is waited for (timeout ms) and read into buf.
   Returns its length; 0 for the wake eventfd (drained); -1 nothing within the timeout (or a
   datagram gone before it was read); -2 - errno when epoll_wait fails. meta: [tag, fd, port,
   IPv4 address]. Exported for a runtime's foreign-function call, which costs no handle scope
   (Bun's FFI: each N-API call leaves a cell on the calling thread's heap, and its collections
   are pauses of the UDP thread); the N-API udpNext below is the same step. */
__attribute__((visibility("default"))) int32_t cnits_udp_step(int32_t ep, uint8_t *buf, int32_t blen, int32_t *meta,
                                                            int32_t timeout, const uint8_t *reply, int32_t rlen, int32_t streak_max) {
  if (rlen > 0) send_to(meta[1], reply, (size_t)rlen, meta[3], meta[2]);
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t n;
  /* a socket that just gave a datagram is read again first: under load its queue is rarely
     empty, and the epoll_wait saved is a third of the syscalls of a query. At most streak_max
     in a row, so one busy socket cannot keep the others (or the wake eventfd) waiting. */
  if (streak_fd >= 0 && streak < streak_max) {
    n = recvfrom(streak_fd, buf, blen > 0 ? (size_t)blen : 0, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n >= 0) {
      streak++;
      meta[0] = streak_tag;
      meta[1] = streak_fd;
      meta[2] = ntohs(from.sin_port);
      meta[3] = (int32_t)ntohl(from.sin_addr.s_addr);
      return (int32_t)n;
    }
    fl = sizeof from;
  }
  streak_fd = -1;
  struct epoll_event ev;
  int r;
  do r = epoll_wait(ep, &ev, 1, timeout);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -2 - errno;
  if (r == 0) return -1;
  int fd = (int)(uint32_t)ev.data.u64;
  meta[0] = (int32_t)(ev.data.u64 >> 32);
  meta[1] = fd;
  n = recvfrom(fd, buf, blen > 0 ? (size_t)blen : 0, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
  if (n < 0) {
    /* not a socket: the wake eventfd, drained (a view change follows: no streak across it) */
    uint64_t v;
    if (errno == ENOTSOCK && read(fd, &v, sizeof v) == (ssize_t)sizeof v) return 0;
    return -1;
  }
  streak_fd = fd;
  streak_tag = meta[0];
  streak = 1;
  meta[2] = ntohs(from.sin_port);
  meta[3] = (int32_t)ntohl(from.sin_addr.s_addr);
  return (int32_t)n;
}

/* udpNext(ep, buf, meta Int32Array[4], timeoutMs, reply, replyLength, streakMax) -> length; -1 nothing
   within the timeout: cnits_udp_step through N-API (its arguments checked here) */
static napi_value udp_next(napi_env env, napi_callback_info info) {
  napi_value argv[7], ab;
  void *buf, *metap, *reply = NULL;
  size_t blen, mlen, off, rblen = 0;
  napi_typedarray_type tt;
  int32_t ep, timeout, rlen, streak_max;
  if (native_args(env, info, 7, argv) || native_int(env, argv[0], &ep) || native_buffer(env, argv[1], &buf, &blen) ||
      native_int(env, argv[3], &timeout) || native_int(env, argv[5], &rlen) ||
      native_int(env, argv[6], &streak_max)) return NULL;
  if (napi_get_typedarray_info(env, argv[2], &tt, &mlen, &metap, &ab, &off) != napi_ok || tt != napi_int32_array || mlen < 4) {
    napi_throw_type_error(env, "EINVAL", "meta must be an Int32Array of 4");
    return NULL;
  }
  if (rlen > 0 && (native_buffer(env, argv[4], &reply, &rblen) || (size_t)rlen > rblen)) {
    if (reply) napi_throw_range_error(env, "EINVAL", "length beyond the buffer");
    return NULL;
  }
  int32_t n = cnits_udp_step(ep, buf, blen > INT32_MAX ? INT32_MAX : (int32_t)blen, metap, timeout, reply, rlen, streak_max);
  if (n < -1) return native_throw_errno(env, -2 - n, "epoll_wait");
  return native_make_int(env, n);
}

/* udpSend(fd, buf, length, IPv4 address, port): one datagram, never blocking (dropped when full) */
static napi_value udp_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t fd, len, addr, port;
  if (native_args(env, info, 5, argv) || native_int(env, argv[0], &fd) || native_int(env, argv[2], &len) ||
      native_int(env, argv[3], &addr) || native_int(env, argv[4], &port)) return NULL;
  send_datagram(env, fd, argv[1], len, addr, port);
  return NULL;
}

void native_register_sockets(napi_env env, napi_value exports) {
  static const native_fn fns[] = {{"listenIn", listen_in}, {"udpExchange", udp_exchange}, {"unixExchange", unix_exchange}, {"tcpExchange", tcp_exchange},
    {"pollCreate", poll_create}, {"pollCtl", poll_ctl}, {"eventFd", event_fd}, {"eventSignal", event_signal},
    {"udpNext", udp_next}, {"udpSend", udp_send}};
  native_export_all(env, exports, fns, sizeof fns / sizeof fns[0]);
}
