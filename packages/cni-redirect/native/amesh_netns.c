// amesh_netns: what Node cannot do by itself on Linux.
//
//  - create a TCP socket inside another network namespace (listening, or
//    fresh and unconnected for the caller to connect()), optionally with
//    SO_MARK set, and hand its fd to Node (server.listen({fd}) /
//    new net.Socket({fd}));
//  - read SO_ORIGINAL_DST (IPv4) / IP6T_SO_ORIGINAL_DST (IPv6) of an
//    accepted, redirected connection;
//  - set SO_MARK on an existing socket;
//  - AF_UNIX SOCK_SEQPACKET sockets with one fd in SCM_RIGHTS ancillary
//    data (Istio's node agent <-> ztunnel transport), non-blocking, driven
//    by a uv_poll_t on Node's own event loop (never blocks the main thread).
//
// setns(CLONE_NEWNET) changes the namespace of the calling thread only, and
// a socket keeps the namespace it was created in: so the main thread enters
// the pod's namespace, creates the socket and returns at once (see
// run_socket_job), without a thread per socket.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <node_api.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#define NAPI_CALL(env, call)                                      \
  do {                                                            \
    if ((call) != napi_ok) {                                      \
      napi_throw_error((env), "ERR_AMESH_NAPI", "N-API call failed: " #call); \
      return NULL;                                                \
    }                                                             \
  } while (0)

static const char *errno_code(int err) {
  const char *name = strerrorname_np(err);
  return name != NULL ? name : "EUNKNOWN";
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  char message[512];
  snprintf(message, sizeof message, "%s failed%s%s: %s", syscall, detail ? " for " : "", detail ? detail : "",
           strerror(err));
  napi_value code, msg, error, errno_value, syscall_value;
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

// ---- socket creation on a helper thread -------------------------------

typedef struct {
  // inputs
  const char *netns_path; // NULL: the current namespace
  int family;             // AF_INET or AF_INET6
  int listen;             // 1: bind + listen; 0: fresh socket
  int datagram;           // 1: a bound UDP socket (SOCK_DGRAM, bind, no listen)
  struct sockaddr_storage bind_addr;
  socklen_t bind_len;
  int backlog;
  int has_mark;
  unsigned int mark;
  int ipv6_only; // -1 leave default, 0/1 set IPV6_V6ONLY
  // outputs
  int fd;
  int err;
  const char *failed_syscall;
} socket_job;

// The calling thread's own network namespace, opened once at load time
// (the addon is loaded on Node's main thread), to return to after creating a
// socket elsewhere.
static int home_netns = -1;

static void create_socket(socket_job *job);

// The fd n of a path "/proc/self/fd/<n>" (decimal digits only, no leading
// zero, fits an int), else -1.
static int held_fd_of(const char *path) {
  static const char prefix[] = "/proc/self/fd/";
  if (strncmp(path, prefix, sizeof prefix - 1) != 0) return -1;
  const char *digits = path + sizeof prefix - 1;
  if (*digits == '\0' || (*digits == '0' && digits[1] != '\0')) return -1;
  long n = 0;
  for (const char *c = digits; *c != '\0'; c++) {
    if (*c < '0' || *c > '9') return -1;
    n = n * 10 + (*c - '0');
    if (n > 0x7fffffffL) return -1;
  }
  return (int)n;
}

// Runs the job on the calling thread: enter the target namespace, create the
// socket, return home. No JavaScript runs in between, and other threads
// (libuv's pool) are unaffected: setns(CLONE_NEWNET) is per thread. If the
// way home fails the process aborts rather than run on in the wrong
// namespace (fail closed); with a valid fd to the original namespace setns
// does not fail in practice.
static void run_socket_job(socket_job *job) {
  job->fd = -1;
  if (job->netns_path == NULL) {
    create_socket(job);
    return;
  }
  if (home_netns < 0) {
    job->err = ENOTSUP;
    job->failed_syscall = "open(/proc/thread-self/ns/net)";
    return;
  }
  // A /proc/self/fd/<n> path names fd n of this process (the netns fd the node
  // agent passed over zds, held while the pod is served): enter it through
  // that fd, as opening the path would resolve to the same file, without the
  // open/close per socket.
  int ns = held_fd_of(job->netns_path);
  int owned = ns < 0;
  if (owned) ns = open(job->netns_path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    job->err = errno;
    job->failed_syscall = "open";
    return;
  }
  if (setns(ns, CLONE_NEWNET) != 0) {
    job->err = errno;
    job->failed_syscall = "setns";
    if (owned) close(ns);
    return;
  }
  if (owned) close(ns);
  create_socket(job);
  if (setns(home_netns, CLONE_NEWNET) != 0) {
    fprintf(stderr, "amesh_netns: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
}

static void create_socket(socket_job *job) {
  int fd = socket(job->family, (job->datagram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    job->err = errno;
    job->failed_syscall = "socket";
    return;
  }
  int one = 1;
  if (job->has_mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &job->mark, sizeof job->mark) != 0) {
    job->err = errno;
    job->failed_syscall = "setsockopt(SO_MARK)";
    close(fd);
    return;
  }
  if (job->family == AF_INET6 && job->ipv6_only >= 0 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &job->ipv6_only, sizeof job->ipv6_only) != 0) {
    job->err = errno;
    job->failed_syscall = "setsockopt(IPV6_V6ONLY)";
    close(fd);
    return;
  }
  if (job->listen || job->datagram) {
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      job->err = errno;
      job->failed_syscall = "setsockopt(SO_REUSEADDR)";
      close(fd);
      return;
    }
    if (bind(fd, (struct sockaddr *)&job->bind_addr, job->bind_len) != 0) {
      job->err = errno;
      job->failed_syscall = "bind";
      close(fd);
      return;
    }
    if (job->listen && listen(fd, job->backlog) != 0) {
      job->err = errno;
      job->failed_syscall = "listen";
      close(fd);
      return;
    }
  }
  job->fd = fd;
}

// ---- argument helpers ---------------------------------------------------

static int get_string(napi_env env, napi_value value, char *out, size_t size, int *is_null) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return -1;
  if (type == napi_null || type == napi_undefined) {
    *is_null = 1;
    return 0;
  }
  *is_null = 0;
  size_t len = 0;
  if (type != napi_string) return -1;
  if (napi_get_value_string_utf8(env, value, out, size, &len) != napi_ok) return -1;
  if (len >= size - 1) return -1;
  return 0;
}

static int get_int(napi_env env, napi_value value, int64_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return -1;
  return napi_get_value_int64(env, value, out) == napi_ok ? 0 : -1;
}

static napi_value make_fd(napi_env env, int fd) {
  napi_value result;
  NAPI_CALL(env, napi_create_int32(env, fd, &result));
  return result;
}

// The job's bind address from an IP literal and a port; -1 when host is not one.
static int set_bind_address(socket_job *job, const char *host, uint16_t port) {
  struct sockaddr_in *v4 = (struct sockaddr_in *)&job->bind_addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&job->bind_addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    job->family = AF_INET;
    job->bind_len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    job->family = AF_INET6;
    job->bind_len = sizeof *v6;
    return 0;
  }
  return -1;
}

// socketInNetns(netnsPath: string | null, family: 4 | 6, mark: number | -1): fd
static napi_value socket_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "socketInNetns(netnsPath, family, mark)");
    return NULL;
  }
  char path[4096];
  int is_null = 0;
  int64_t family = 0, mark = -1;
  if (get_string(env, argv[0], path, sizeof path, &is_null) != 0 || get_int(env, argv[1], &family) != 0 ||
      get_int(env, argv[2], &mark) != 0 || (family != 4 && family != 6) || mark < -1 || mark > 0xffffffffLL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "socketInNetns: invalid arguments");
    return NULL;
  }
  socket_job job = {0};
  job.netns_path = is_null ? NULL : path;
  job.family = family == 4 ? AF_INET : AF_INET6;
  job.has_mark = mark >= 0;
  job.mark = (unsigned int)(mark < 0 ? 0 : mark);
  job.ipv6_only = -1;
  run_socket_job(&job);
  if (job.fd < 0) return throw_errno(env, job.err, job.failed_syscall, job.netns_path);
  return make_fd(env, job.fd);
}

// bindInNetns(netnsPath: string | null, host: string, port: number,
//             mark: number | -1, backlog: number, ipv6Only: -1 | 0 | 1,
//             datagram: 0 | 1): fd of a listening TCP socket (datagram 0) or a
//             bound UDP socket (datagram 1, backlog unused)
static napi_value bind_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 7) {
    napi_throw_type_error(env, "ERR_INVALID_ARG",
                          "bindInNetns(netnsPath, host, port, mark, backlog, ipv6Only, datagram)");
    return NULL;
  }
  char path[4096], host[INET6_ADDRSTRLEN + 1];
  int path_null = 0, host_null = 0;
  int64_t port = 0, mark = -1, backlog = 0, ipv6_only = -1, datagram = 0;
  if (get_string(env, argv[0], path, sizeof path, &path_null) != 0 ||
      get_string(env, argv[1], host, sizeof host, &host_null) != 0 || host_null ||
      get_int(env, argv[2], &port) != 0 || get_int(env, argv[3], &mark) != 0 ||
      get_int(env, argv[4], &backlog) != 0 || get_int(env, argv[5], &ipv6_only) != 0 ||
      get_int(env, argv[6], &datagram) != 0 || port < 0 || port > 65535 || mark < -1 ||
      mark > 0xffffffffLL || backlog < 1 || ipv6_only < -1 || ipv6_only > 1 || datagram < 0 || datagram > 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "bindInNetns: invalid arguments");
    return NULL;
  }
  socket_job job = {0};
  job.netns_path = path_null ? NULL : path;
  job.datagram = (int)datagram;
  job.listen = !job.datagram;
  job.backlog = (int)backlog;
  job.has_mark = mark >= 0;
  job.mark = (unsigned int)(mark < 0 ? 0 : mark);
  job.ipv6_only = (int)ipv6_only;
  if (set_bind_address(&job, host, (uint16_t)port) != 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "bindInNetns: host must be an IPv4 or IPv6 literal");
    return NULL;
  }
  run_socket_job(&job);
  if (job.fd < 0) return throw_errno(env, job.err, job.failed_syscall, job.netns_path);
  return make_fd(env, job.fd);
}

static napi_value address_object(napi_env env, const struct sockaddr_storage *addr, int original) {
  char text[INET6_ADDRSTRLEN];
  int port, family;
  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    port = ntohs(v4->sin_port);
    family = 4;
  } else {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof text);
      family = 4;
    } else {
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      family = 6;
    }
    port = ntohs(v6->sin6_port);
  }
  napi_value result, address, port_value, family_value, original_value;
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address));
  NAPI_CALL(env, napi_create_int32(env, port, &port_value));
  NAPI_CALL(env, napi_create_int32(env, family, &family_value));
  NAPI_CALL(env, napi_get_boolean(env, original != 0, &original_value));
  NAPI_CALL(env, napi_set_named_property(env, result, "address", address));
  NAPI_CALL(env, napi_set_named_property(env, result, "port", port_value));
  NAPI_CALL(env, napi_set_named_property(env, result, "family", family_value));
  NAPI_CALL(env, napi_set_named_property(env, result, "redirected", original_value));
  return result;
}

// originalDestination(fd): { address, port, family, redirected }
// SO_ORIGINAL_DST for IPv4 connections (including v4-mapped ones accepted
// on a dual-stack socket), IP6T_SO_ORIGINAL_DST for IPv6 ones; when the
// connection was not NAT-ed (no conntrack entry: ENOENT), the local address.
static napi_value original_destination(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1;
  if (argc != 1 || get_int(env, argv[0], &fd) != 0 || fd < 0 || fd > 0x7fffffff) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "originalDestination(fd)");
    return NULL;
  }
  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  memset(&local, 0, sizeof local);
  if (getsockname((int)fd, (struct sockaddr *)&local, &local_len) != 0) {
    return throw_errno(env, errno, "getsockname", NULL);
  }
  int is_v4 = local.ss_family == AF_INET ||
              (local.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr));
  struct sockaddr_storage original;
  memset(&original, 0, sizeof original);
  socklen_t original_len;
  int rc;
  if (is_v4) {
    original_len = sizeof(struct sockaddr_in);
    rc = getsockopt((int)fd, SOL_IP, SO_ORIGINAL_DST, &original, &original_len);
  } else {
    original_len = sizeof(struct sockaddr_in6);
    rc = getsockopt((int)fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &original, &original_len);
  }
  if (rc != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOPROTOOPT) return address_object(env, &local, 0);
    return throw_errno(env, err, is_v4 ? "getsockopt(SO_ORIGINAL_DST)" : "getsockopt(IP6T_SO_ORIGINAL_DST)", NULL);
  }
  // Same address and port as the local one: the connection was not redirected.
  int redirected = 1;
  if (original.ss_family == AF_INET && local.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&original, *b = (const struct sockaddr_in *)&local;
    redirected = !(a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr);
  } else if (original.ss_family == AF_INET6 && local.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&original, *b = (const struct sockaddr_in6 *)&local;
    redirected = !(a->sin6_port == b->sin6_port && memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0);
  } else if (original.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&original;
    const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&local;
    redirected = !(a->sin_port == b->sin6_port && memcmp(&a->sin_addr, &b->sin6_addr.s6_addr[12], 4) == 0);
  }
  return address_object(env, &original, redirected);
}

// setMark(fd, mark)
static napi_value set_mark(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1, mark = -1;
  if (argc != 2 || get_int(env, argv[0], &fd) != 0 || get_int(env, argv[1], &mark) != 0 || fd < 0 ||
      fd > 0x7fffffff || mark < 0 || mark > 0xffffffffLL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "setMark(fd, mark)");
    return NULL;
  }
  unsigned int value = (unsigned int)mark;
  if (setsockopt((int)fd, SOL_SOCKET, SO_MARK, &value, sizeof value) != 0) {
    return throw_errno(env, errno, "setsockopt(SO_MARK)", NULL);
  }
  return NULL;
}

// getMark(fd): number
static napi_value get_mark(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1;
  if (argc != 1 || get_int(env, argv[0], &fd) != 0 || fd < 0 || fd > 0x7fffffff) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "getMark(fd)");
    return NULL;
  }
  unsigned int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt((int)fd, SOL_SOCKET, SO_MARK, &value, &len) != 0) {
    return throw_errno(env, errno, "getsockopt(SO_MARK)", NULL);
  }
  napi_value result;
  NAPI_CALL(env, napi_create_uint32(env, value, &result));
  return result;
}

// closeFd(fd): for fds never handed to Node (error paths).
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1;
  if (argc != 1 || get_int(env, argv[0], &fd) != 0 || fd < 0 || fd > 0x7fffffff) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "closeFd(fd)");
    return NULL;
  }
  if (close((int)fd) != 0) return throw_errno(env, errno, "close", NULL);
  return NULL;
}

// ---- AF_UNIX SOCK_SEQPACKET with SCM_RIGHTS --------------------------------

static int unix_address(napi_env env, napi_value value, struct sockaddr_un *addr, socklen_t *len) {
  char path[sizeof addr->sun_path + 1];
  int is_null = 0;
  if (get_string(env, value, path, sizeof path, &is_null) != 0 || is_null || path[0] == '\0' ||
      strlen(path) >= sizeof addr->sun_path) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "unix socket path must be a non-empty string under 108 bytes");
    return -1;
  }
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path, strlen(path));
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
  return 0;
}

// seqpacketListen(path, backlog): fd (non-blocking). The caller removes a stale file first.
static napi_value seqpacket_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t backlog = 0;
  struct sockaddr_un addr;
  socklen_t len;
  if (argc != 2 || get_int(env, argv[1], &backlog) != 0 || backlog < 1 || backlog > 65535) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "seqpacketListen(path, backlog)");
    return NULL;
  }
  if (unix_address(env, argv[0], &addr, &len) != 0) return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", addr.sun_path);
  if (bind(fd, (struct sockaddr *)&addr, len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", addr.sun_path);
  }
  if (listen(fd, (int)backlog) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "listen", addr.sun_path);
  }
  return make_fd(env, fd);
}

// seqpacketConnect(path): fd (non-blocking, connected). A unix socket connects at once
// or fails (ENOENT, ECONNREFUSED, EAGAIN when the listener's backlog is full).
static napi_value seqpacket_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un addr;
  socklen_t len;
  if (argc != 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "seqpacketConnect(path)");
    return NULL;
  }
  if (unix_address(env, argv[0], &addr, &len) != 0) return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", addr.sun_path);
  if (connect(fd, (struct sockaddr *)&addr, len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "connect", addr.sun_path);
  }
  return make_fd(env, fd);
}

// seqpacketAccept(listenFd): fd, or -1 when no connection is waiting.
static napi_value seqpacket_accept(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1;
  if (argc != 1 || get_int(env, argv[0], &fd) != 0 || fd < 0 || fd > 0x7fffffff) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "seqpacketAccept(fd)");
    return NULL;
  }
  int conn = accept4((int)fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (conn < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED || err == EINTR) return make_fd(env, -1);
    return throw_errno(env, err, "accept4", NULL);
  }
  return make_fd(env, conn);
}

// seqpacketSend(fd, bytes, passFd | -1): true when sent, false when the socket buffer is full (EAGAIN).
// One message per call; passFd travels as SCM_RIGHTS (the kernel duplicates it, the caller keeps its own).
static napi_value seqpacket_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1, pass = -1;
  bool is_typed = false;
  if (argc != 3 || get_int(env, argv[0], &fd) != 0 || get_int(env, argv[2], &pass) != 0 || fd < 0 ||
      fd > 0x7fffffff || pass < -1 || pass > 0x7fffffff ||
      napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "seqpacketSend(fd, Uint8Array, passFd)");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void *data = NULL;
  napi_value arraybuffer;
  NAPI_CALL(env, napi_get_typedarray_info(env, argv[1], &type, &length, &data, &arraybuffer, &offset));
  if (type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "seqpacketSend: bytes must be a Uint8Array");
    return NULL;
  }
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  if (pass >= 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    int passed = (int)pass;
    memcpy(CMSG_DATA(cmsg), &passed, sizeof passed);
  }
  ssize_t sent;
  do {
    sent = sendmsg((int)fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  napi_value result;
  if (sent < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      NAPI_CALL(env, napi_get_boolean(env, false, &result));
      return result;
    }
    return throw_errno(env, err, "sendmsg", NULL);
  }
  NAPI_CALL(env, napi_get_boolean(env, true, &result));
  return result;
}

#define SEQPACKET_MAX_FDS 8

// seqpacketRecv(fd, maxSize): { data: Buffer, fds: number[] } for one message, { eof: true }
// when the peer closed, or null when nothing is waiting. Received fds are close-on-exec.
// A message over maxSize (or with more fds than fit) is an EMSGSIZE error; its fds are closed.
static napi_value seqpacket_recv(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1, max = 0;
  if (argc != 2 || get_int(env, argv[0], &fd) != 0 || get_int(env, argv[1], &max) != 0 || fd < 0 ||
      fd > 0x7fffffff || max < 1 || max > (1 << 20)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "seqpacketRecv(fd, maxSize)");
    return NULL;
  }
  char *data = malloc((size_t)max);
  if (data == NULL) return throw_errno(env, ENOMEM, "malloc", NULL);
  struct iovec iov = {.iov_base = data, .iov_len = (size_t)max};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union {
    char buf[CMSG_SPACE(sizeof(int) * SEQPACKET_MAX_FDS)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do {
    n = recvmsg((int)fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    free(data);
    if (err == EAGAIN || err == EWOULDBLOCK) {
      napi_value null_value;
      NAPI_CALL(env, napi_get_null(env, &null_value));
      return null_value;
    }
    return throw_errno(env, err, "recvmsg", NULL);
  }
  int fds[SEQPACKET_MAX_FDS];
  size_t nfds = 0;
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count && nfds < SEQPACKET_MAX_FDS; i++) {
      memcpy(&fds[nfds++], CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    free(data);
    return throw_errno(env, EMSGSIZE, "recvmsg", "a message (or its fds) over the limit");
  }
  napi_value result;
  NAPI_CALL(env, napi_create_object(env, &result));
  if (n == 0 && nfds == 0) {
    free(data);
    napi_value yes;
    NAPI_CALL(env, napi_get_boolean(env, true, &yes));
    NAPI_CALL(env, napi_set_named_property(env, result, "eof", yes));
    return result;
  }
  napi_value buffer, list;
  void *copy;
  napi_status status = napi_create_buffer_copy(env, (size_t)n, data, &copy, &buffer);
  free(data);
  if (status != napi_ok) {
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    napi_throw_error(env, "ERR_AMESH_NAPI", "napi_create_buffer_copy failed");
    return NULL;
  }
  NAPI_CALL(env, napi_create_array_with_length(env, nfds, &list));
  for (size_t i = 0; i < nfds; i++) {
    napi_value v;
    NAPI_CALL(env, napi_create_int32(env, fds[i], &v));
    NAPI_CALL(env, napi_set_element(env, list, (uint32_t)i, v));
  }
  NAPI_CALL(env, napi_set_named_property(env, result, "data", buffer));
  NAPI_CALL(env, napi_set_named_property(env, result, "fds", list));
  return result;
}

// ---- readiness on Node's event loop (uv_poll_t) ----------------------------------------

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int closing;
} poll_handle;

static void on_poll(uv_poll_t *handle, int status, int events) {
  poll_handle *p = (poll_handle *)handle->data;
  if (p->closing) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, recv, argv[2], result;
  if (napi_get_reference_value(env, p->callback, &callback) == napi_ok && callback != NULL) {
    napi_get_global(env, &recv);  // napi_make_callback needs an object receiver
    int mask = ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0) |
               ((events & UV_DISCONNECT) ? 4 : 0);
    napi_create_int32(env, status, &argv[0]);
    napi_create_int32(env, mask, &argv[1]);
    if (napi_make_callback(env, p->async, recv, callback, 2, argv, &result) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_poll_closed(uv_handle_t *handle) {
  poll_handle *p = (poll_handle *)handle->data;
  napi_delete_reference(p->env, p->callback);
  napi_async_destroy(p->env, p->async);
  free(p);
}

static int uv_events(int64_t mask) {
  return ((mask & 1) ? UV_READABLE : 0) | ((mask & 2) ? UV_WRITABLE : 0) | ((mask & 1) ? UV_DISCONNECT : 0);
}

static poll_handle *get_poll(napi_env env, napi_value value) {
  void *data = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "not a poll handle");
    return NULL;
  }
  poll_handle *p = (poll_handle *)data;
  if (p->closing) {
    napi_throw_error(env, "ERR_AMESH_POLL_CLOSED", "poll handle already closed");
    return NULL;
  }
  return p;
}

// pollStart(fd, events (1 readable | 2 writable), callback(status, events)): handle.
// The fd stays the caller's; pollClose before closing it.
static napi_value poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t fd = -1, mask = 0;
  napi_valuetype type;
  if (argc != 3 || get_int(env, argv[0], &fd) != 0 || get_int(env, argv[1], &mask) != 0 || fd < 0 ||
      fd > 0x7fffffff || mask < 0 || mask > 3 || napi_typeof(env, argv[2], &type) != napi_ok ||
      type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "pollStart(fd, events, callback)");
    return NULL;
  }
  uv_loop_t *loop = NULL;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  poll_handle *p = calloc(1, sizeof *p);
  if (p == NULL) return throw_errno(env, ENOMEM, "calloc", NULL);
  p->env = env;
  int rc = uv_poll_init(loop, &p->poll, (int)fd);
  if (rc != 0) {
    free(p);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  p->poll.data = p;
  napi_value name, resource;
  if (napi_create_reference(env, argv[2], 1, &p->callback) != napi_ok ||
      napi_create_string_utf8(env, "amesh:seqpacket", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_object(env, &resource) != napi_ok || napi_async_init(env, resource, name, &p->async) != napi_ok) {
    p->closing = 1;
    uv_close((uv_handle_t *)&p->poll, NULL);
    napi_throw_error(env, "ERR_AMESH_NAPI", "pollStart: N-API setup failed");
    return NULL;  // leaks p (the close callback is NULL): N-API failed, the process is in trouble anyway
  }
  if (mask != 0) {
    rc = uv_poll_start(&p->poll, uv_events(mask), on_poll);
    if (rc != 0) {
      p->closing = 1;
      uv_close((uv_handle_t *)&p->poll, on_poll_closed);
      return throw_errno(env, -rc, "uv_poll_start", NULL);
    }
  }
  napi_value external;
  NAPI_CALL(env, napi_create_external(env, p, NULL, NULL, &external));
  return external;
}

// pollUpdate(handle, events): 0 stops watching (the handle stays usable).
static napi_value poll_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t mask = 0;
  if (argc != 2 || get_int(env, argv[1], &mask) != 0 || mask < 0 || mask > 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "pollUpdate(handle, events)");
    return NULL;
  }
  poll_handle *p = get_poll(env, argv[0]);
  if (p == NULL) return NULL;
  int rc = mask == 0 ? uv_poll_stop(&p->poll) : uv_poll_start(&p->poll, uv_events(mask), on_poll);
  if (rc != 0) return throw_errno(env, -rc, "uv_poll_start", NULL);
  return NULL;
}

// pollClose(handle): stops and releases the handle (not the fd).
static napi_value poll_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "pollClose(handle)");
    return NULL;
  }
  poll_handle *p = get_poll(env, argv[0]);
  if (p == NULL) return NULL;
  p->closing = 1;
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t *)&p->poll, on_poll_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  if (home_netns < 0) home_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  napi_property_descriptor props[] = {
      {"socketInNetns", NULL, socket_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindInNetns", NULL, bind_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"originalDestination", NULL, original_destination, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, set_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMark", NULL, get_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketListen", NULL, seqpacket_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketConnect", NULL, seqpacket_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketAccept", NULL, seqpacket_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketSend", NULL, seqpacket_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketRecv", NULL, seqpacket_recv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStart", NULL, poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollUpdate", NULL, poll_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollClose", NULL, poll_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
