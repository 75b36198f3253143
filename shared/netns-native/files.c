/*
 * files: the plain file syscalls the plugins make on every call, so that the compiled
 * executable need not load node:fs (whose module would be a large part of every start).
 * No logic: each function is one syscall (or one read/write loop). Paths are UTF-8 strings.
 *
 *   fileOpen(path, flags, mode) -> fd        open(2), O_CLOEXEC added
 *   fileRead(fd) -> string                   read(2) to end of file, as UTF-8 text
 *   fileWrite(fd, data, truncate)            write(2) all of a Buffer; with truncate, then
 *                                            ftruncate(2) the file to where the write ended
 *   pathOp(op, path, [path2|mode])           op: 0 link, 1 rename, 2 unlink, 3 mkdir, 4 rmdir,
 *                                            5 access (X_OK)
 *   readDir(path) -> string[]                names, without . and ..
 *   stat(path) -> [dev, ino, mode, size]     stat(2); numbers as doubles
 *   lstat(path) -> [dev, ino, mode, size]    lstat(2): the link itself, never what it points at
 *   fstat(fd) -> [dev, ino, mode, size]      fstat(2): what an open fd really is
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "native.h"

static int get_path(napi_env env, napi_value v, char *out) {
  return native_path(env, v, out, PATH_MAX, "path");
}

static napi_value file_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_MAX];
  int32_t flags, mode;
  if (native_args(env, info, 3, argv) || get_path(env, argv[0], path) || native_int(env, argv[1], &flags) ||
      native_int(env, argv[2], &mode))
    return NULL;
  int fd;
  do fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return native_throw_errno(env, errno, path);
  return native_make_int(env, fd);
}

static napi_value file_read(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &fd)) return NULL;
  // a state file, a /proc/sys value, a config: nearly always within the stack's buffer
  char small[4096], *buf = small;
  size_t cap = sizeof small, len = 0;
  for (;;) {
    if (len == cap) {
      char *bigger = buf == small ? malloc(cap * 2) : realloc(buf, cap * 2);
      if (!bigger) { if (buf != small) free(buf); return native_throw_errno(env, ENOMEM, "read"); }
      if (buf == small) memcpy(bigger, small, len);
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { int e = errno; if (buf != small) free(buf); return native_throw_errno(env, e, "read"); }
    if (n == 0) break;
    len += (size_t)n;
  }
  napi_value out;
  napi_status st = napi_create_string_utf8(env, buf, len, &out);
  if (buf != small) free(buf);
  if (st != napi_ok) return native_throw_errno(env, ENOMEM, "read");
  return out;
}

static napi_value file_write(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  void *data;
  size_t len;
  bool truncate;
  if (native_args(env, info, 3, argv) || native_int(env, argv[0], &fd)) return NULL;
  if (napi_get_value_bool(env, argv[2], &truncate) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a boolean");
    return NULL;
  }
  if (native_buffer(env, argv[1], &data, &len)) return NULL;
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, (char *)data + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return native_throw_errno(env, errno, "write");
    off += (size_t)n;
  }
  if (truncate) {
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (end < 0 || ftruncate(fd, end) < 0) return native_throw_errno(env, errno, "ftruncate");
  }
  return NULL;
}

static napi_value path_op(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t op, mode = 0755;
  char a[PATH_MAX], b[PATH_MAX];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || native_int(env, argv[0], &op) ||
      get_path(env, argv[1], a))
    return NULL;
  if ((op == 0 || op == 1) && (argc < 3 || get_path(env, argv[2], b))) return NULL;
  if (op == 3 && argc >= 3 && native_int(env, argv[2], &mode)) return NULL;
  int r;
  switch (op) {
    case 0: r = link(a, b); break;
    case 1: r = rename(a, b); break;
    case 2: r = unlink(a); break;
    case 3: r = mkdir(a, (mode_t)mode); break;
    case 4: r = rmdir(a); break;
    case 5: r = access(a, X_OK); break;
    default: napi_throw_type_error(env, "EINVAL", "unknown path operation"); return NULL;
  }
  if (r < 0) return native_throw_errno(env, errno, a);
  return NULL;
}

static napi_value read_dir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (native_args(env, info, 1, argv) || get_path(env, argv[0], path)) return NULL;
  DIR *d = opendir(path);
  if (!d) return native_throw_errno(env, errno, path);
  napi_value list;
  napi_create_array(env, &list);
  uint32_t i = 0;
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    napi_value name;
    napi_create_string_utf8(env, e->d_name, NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, list, i++, name);
  }
  int err = errno;
  closedir(d);
  if (err) return native_throw_errno(env, err, path);
  return list;
}

static napi_value stat_out(napi_env env, const struct stat *st) {
  napi_value out, v;
  const double f[4] = {(double)st->st_dev, (double)st->st_ino, (double)st->st_mode, (double)st->st_size};
  napi_create_array_with_length(env, 4, &out);
  for (uint32_t i = 0; i < 4; i++) {
    napi_create_double(env, f[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

static napi_value stat_common(napi_env env, napi_callback_info info, bool follow) {
  napi_value argv[1];
  char path[PATH_MAX];
  struct stat st;
  if (native_args(env, info, 1, argv) || get_path(env, argv[0], path)) return NULL;
  if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) return native_throw_errno(env, errno, path);
  return stat_out(env, &st);
}

static napi_value stat_path(napi_env env, napi_callback_info info) { return stat_common(env, info, true); }
static napi_value lstat_path(napi_env env, napi_callback_info info) { return stat_common(env, info, false); }

static napi_value fstat_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  struct stat st;
  if (native_args(env, info, 1, argv) || native_int(env, argv[0], &fd)) return NULL;
  if (fstat(fd, &st) < 0) return native_throw_errno(env, errno, "fstat");
  return stat_out(env, &st);
}

void native_register_files(napi_env env, napi_value exports) {
  static const native_fn fns[] = {
    {"fileOpen", file_open}, {"fileRead", file_read}, {"fileWrite", file_write},
    {"pathOp", path_op},     {"readDir", read_dir},   {"stat", stat_path},
    {"lstat", lstat_path},   {"fstat", fstat_fd},
  };
  native_export_all(env, exports, fns, sizeof fns / sizeof fns[0]);
}
