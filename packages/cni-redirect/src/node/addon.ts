import type dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { CniRedirectError } from '../errors.js';

interface NativeAddon {
  socketInNetns(netnsPath: string | null, family: number, mark: number): number;
  /** A listening TCP socket (`datagram` 0) or a bound UDP socket (`datagram` 1; `backlog` unused). */
  bindInNetns(
    netnsPath: string | null,
    host: string,
    port: number,
    mark: number,
    backlog: number,
    ipv6Only: number,
    datagram: 0 | 1,
  ): number;
  originalDestination(fd: number): OriginalDestination;
  setMark(fd: number, mark: number): void;
  getMark(fd: number): number;
  closeFd(fd: number): void;
  seqpacketListen(path: string, backlog: number): number;
  seqpacketConnect(path: string): number;
  seqpacketAccept(fd: number): number;
  seqpacketSend(fd: number, bytes: Uint8Array, passFd: number): boolean;
  seqpacketRecv(fd: number, maxSize: number): { data: Buffer; fds: number[] } | { eof: true } | null;
  pollStart(fd: number, events: number, callback: (status: number, events: number) => void): PollHandle;
  pollUpdate(handle: PollHandle, events: number): void;
  pollClose(handle: PollHandle): void;
}

/** An opaque uv_poll_t owned by the addon. @internal */
export interface PollHandle {
  readonly __brand: 'PollHandle';
}

/** Where a redirected connection was originally going. */
export interface OriginalDestination {
  /** IPv4 dotted quad (also for v4-mapped connections on a dual-stack socket) or IPv6 text. */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** False when the connection was not NAT-ed and this is simply the local address. */
  readonly redirected: boolean;
}

// The package root holds build/Release; this module runs from src/node/ (tests),
// or from a bundle chunk in dist/ or dist/node/, so look one and two levels up.
const ADDON_CANDIDATES = ['../build/Release/amesh_netns.node', '../../build/Release/amesh_netns.node'].map(
  (relative) => fileURLToPath(new URL(relative, import.meta.url)),
);
/** `AMESH_CNI_ADDON_PATH` overrides where the addon is loaded from (for packagers). */
const ADDON_PATH =
  process.env.AMESH_CNI_ADDON_PATH ??
  ADDON_CANDIDATES.find((path) => existsSync(path)) ??
  ADDON_CANDIDATES[1]!;
let loaded: NativeAddon | CniRedirectError | undefined;

/** @internal the loaded addon, for the seqpacket transport. */
export function nativeAddon(): NativeAddon {
  return addon();
}

/** @internal maps a native error to a typed one. */
export function toCniError(cause: unknown, netnsPath: string | null): CniRedirectError {
  return nativeError(cause, netnsPath);
}

function addon(): NativeAddon {
  if (loaded === undefined) {
    if (process.platform !== 'linux') {
      loaded = new CniRedirectError(
        'CNI_ERR_ADDON_UNAVAILABLE',
        `network namespace sockets, SO_MARK and SO_ORIGINAL_DST need Linux (this is ${process.platform})`,
      );
    } else {
      try {
        const module = createRequire(import.meta.url)(ADDON_PATH) as Partial<NativeAddon>;
        loaded =
          typeof module.socketInNetns === 'function'
            ? (module as NativeAddon)
            : new CniRedirectError('CNI_ERR_ADDON_UNAVAILABLE', `native addon at ${ADDON_PATH} is a stub`);
      } catch (cause) {
        loaded = new CniRedirectError(
          'CNI_ERR_ADDON_UNAVAILABLE',
          `native addon not built (${ADDON_PATH}); run "npm run build" in @amesh/cni-redirect (needs python3, make, g++)`,
          { cause },
        );
      }
    }
  }
  if (loaded instanceof CniRedirectError) throw loaded;
  return loaded;
}

/** True when the native addon is built and loadable (Linux only). */
export function isAddonAvailable(): boolean {
  try {
    addon();
    return true;
  } catch {
    return false;
  }
}

function nativeError(cause: unknown, netnsPath: string | null): CniRedirectError {
  const code = (cause as { code?: unknown }).code;
  const syscall = (cause as { syscall?: unknown }).syscall;
  const message = cause instanceof Error ? cause.message : String(cause);
  // EBADF from setns: a /proc/self/fd/<n> path whose fd is not open (entered through the fd itself).
  if ((syscall === 'open' && code === 'ENOENT') || (syscall === 'setns' && code === 'EBADF')) {
    return new CniRedirectError('CNI_ERR_NETNS_NOT_FOUND', `network namespace ${netnsPath} not found`, {
      cause,
    });
  }
  if (syscall === 'setns' && code === 'EINVAL') {
    return new CniRedirectError('CNI_ERR_NETNS_NOT_FOUND', `${netnsPath} is not a network namespace`, {
      cause,
    });
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return new CniRedirectError('CNI_ERR_PERMISSION', `${message} (needs CAP_SYS_ADMIN / CAP_NET_ADMIN)`, {
      cause,
    });
  }
  return new CniRedirectError('CNI_ERR_SOCKET', message, { cause });
}

/** Validates what a bound socket needs: the port, an IP literal host (default `::`), the mark (-1 for none). */
function checkBind(options: { port: number; host?: string; mark?: number }): { host: string; mark: number } {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new RangeError(`port must be an integer in 0..65535, got ${options.port}`);
  }
  const host = options.host ?? '::';
  if (net.isIP(host) === 0)
    throw new RangeError(`host must be an IP address literal, got ${JSON.stringify(host)}`);
  return { host, mark: checkMark(options.mark) };
}

/** IPV6_V6ONLY as the addon takes it: -1 leaves the system default. */
function ipv6OnlyFlag(ipv6Only: boolean | undefined): number {
  return ipv6Only === undefined ? -1 : ipv6Only ? 1 : 0;
}

function checkMark(mark: number | undefined): number {
  if (mark === undefined) return -1;
  if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) {
    throw new RangeError(`mark must be an integer in 0..0xffffffff, got ${mark}`);
  }
  return mark;
}

/** Options of {@link listenInNetns}. */
export interface ListenInNetnsOptions {
  readonly port: number;
  /** Address literal to bind; default `::` (dual stack unless {@link ListenInNetnsOptions.ipv6Only}). */
  readonly host?: string;
  /** SO_MARK for the listening socket (inherited by accepted sockets). */
  readonly mark?: number;
  /** Default 511, like Node. */
  readonly backlog?: number;
  /** For an IPv6 host: accept IPv6 only (default: the system default, dual stack on Linux). */
  readonly ipv6Only?: boolean;
}

/**
 * Creates a listening TCP socket inside a network namespace and returns its
 * fd, for `server.listen({ fd })`. The socket stays in that namespace.
 * `netnsPath` null means the current namespace; `/proc/self/fd/<n>` is
 * entered through fd `n` (see {@link connectSocketInNetns}).
 *
 * @throws {CniRedirectError} `CNI_ERR_ADDON_UNAVAILABLE`, `CNI_ERR_NETNS_NOT_FOUND`, `CNI_ERR_PERMISSION`, `CNI_ERR_SOCKET` (for example EADDRINUSE)
 * @throws {RangeError} for an invalid port, mark or backlog
 * @example
 * ```ts
 * const fd = listenInNetns('/var/run/netns/pod1', { port: 15001, mark: 0x539 });
 * net.createServer(onConnection).listen({ fd });
 * ```
 */
export function listenInNetns(netnsPath: string | null, options: ListenInNetnsOptions): number {
  const native = addon();
  const { host, mark } = checkBind(options);
  const backlog = options.backlog ?? 511;
  if (!Number.isInteger(backlog) || backlog < 1) throw new RangeError(`backlog must be a positive integer`);
  try {
    return native.bindInNetns(
      netnsPath,
      host,
      options.port,
      mark,
      backlog,
      ipv6OnlyFlag(options.ipv6Only),
      0,
    );
  } catch (cause) {
    throw nativeError(cause, netnsPath);
  }
}

/** Options of {@link connectSocketInNetns}. */
export interface ConnectSocketInNetnsOptions {
  readonly family: 4 | 6;
  /** SO_MARK, for example 0x539 so in-pod redirection rules let the connection pass. */
  readonly mark?: number;
}

/**
 * Creates a fresh, unconnected TCP socket inside a network namespace and
 * returns its fd, for `new net.Socket({ fd }).connect(...)`. `netnsPath`
 * null means the current namespace; a `/proc/self/fd/<n>` path (a netns fd
 * this process holds, as the node agent passes them) is entered through fd
 * `n` itself, with no open and close per socket.
 *
 * @throws {CniRedirectError} `CNI_ERR_ADDON_UNAVAILABLE`, `CNI_ERR_NETNS_NOT_FOUND`, `CNI_ERR_PERMISSION`, `CNI_ERR_SOCKET`
 * @example
 * ```ts
 * const fd = connectSocketInNetns('/proc/1234/ns/net', { family: 4, mark: 0x539 });
 * const socket = new net.Socket({ fd }).connect(8080, '10.0.0.7');
 * ```
 */
export function connectSocketInNetns(netnsPath: string | null, options: ConnectSocketInNetnsOptions): number {
  const native = addon();
  if (options.family !== 4 && options.family !== 6) throw new RangeError('family must be 4 or 6');
  const mark = checkMark(options.mark);
  try {
    return native.socketInNetns(netnsPath, options.family, mark);
  } catch (cause) {
    throw nativeError(cause, netnsPath);
  }
}

/**
 * Convenience over {@link connectSocketInNetns}: a `net.Socket` adopted from
 * the new fd, ready for `.connect()`.
 * @throws {CniRedirectError} as {@link connectSocketInNetns}
 */
export function createSocketInNetns(
  netnsPath: string | null,
  options: ConnectSocketInNetnsOptions,
): net.Socket {
  const fd = connectSocketInNetns(netnsPath, options);
  try {
    return new net.Socket({ fd });
  } catch (error) {
    addon().closeFd(fd);
    throw error;
  }
}

/**
 * Convenience over {@link listenInNetns}: makes `server` listen on a socket
 * created inside the namespace, resolving once it listens.
 * @throws {CniRedirectError} as {@link listenInNetns}
 */
export async function listenServerInNetns(
  server: net.Server,
  netnsPath: string | null,
  options: ListenInNetnsOptions,
): Promise<void> {
  const fd = listenInNetns(netnsPath, options);
  await new Promise<void>((resolve, reject) => {
    // On failure the fd is not closed here: Node may already own (and have
    // closed) it, and closing a reused fd number would hit someone else's file.
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Options of {@link bindUdpInNetns}. */
export interface BindUdpInNetnsOptions {
  readonly port: number;
  /** IP literal to bind; default `::` (both families on Linux unless `ipv6Only`). */
  readonly host?: string;
  /** SO_MARK for what the socket sends (for example 0x539, so the pod's rules let it pass). */
  readonly mark?: number;
  /** For an IPv6 host: IPv6 only (default: the system default, dual stack on Linux). */
  readonly ipv6Only?: boolean;
}

/**
 * Creates a UDP socket inside a network namespace, bound to `host:port`,
 * and returns its fd, for `dgramSocket.bind({ fd })` (a DNS proxy on 15053
 * inside a pod, for example). `netnsPath` as for {@link connectSocketInNetns}.
 *
 * @throws {CniRedirectError} `CNI_ERR_ADDON_UNAVAILABLE`, `CNI_ERR_NETNS_NOT_FOUND`, `CNI_ERR_PERMISSION`, `CNI_ERR_SOCKET` (for example EADDRINUSE)
 * @throws {RangeError} for an invalid port, host or mark
 * @example
 * ```ts
 * const fd = bindUdpInNetns('/var/run/netns/pod1', { port: 15053, host: '0.0.0.0', mark: 0x539 });
 * dgram.createSocket('udp4').bind({ fd });
 * ```
 */
export function bindUdpInNetns(netnsPath: string | null, options: BindUdpInNetnsOptions): number {
  const native = addon();
  const { host, mark } = checkBind(options);
  try {
    return native.bindInNetns(netnsPath, host, options.port, mark, 1, ipv6OnlyFlag(options.ipv6Only), 1);
  } catch (cause) {
    throw nativeError(cause, netnsPath);
  }
}

/**
 * Convenience over {@link bindUdpInNetns}: binds `socket` (created with the
 * matching `udp4`/`udp6` type) to a UDP socket made inside the namespace,
 * resolving once it listens.
 * @throws {CniRedirectError} as {@link bindUdpInNetns}
 */
export async function bindDgramInNetns(
  socket: dgram.Socket,
  netnsPath: string | null,
  options: BindUdpInNetnsOptions,
): Promise<void> {
  const fd = bindUdpInNetns(netnsPath, options);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ fd }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function fdOf(socket: net.Socket | number): number {
  if (typeof socket === 'number') return socket;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new CniRedirectError(
      'CNI_ERR_SOCKET',
      'the socket has no file descriptor (closed, or not a TCP socket)',
    );
  }
  return fd;
}

/**
 * The destination a redirected connection was going to before nftables
 * `redirect` rewrote it: `SO_ORIGINAL_DST` for IPv4 (including v4-mapped
 * connections on a dual-stack listener), `IP6T_SO_ORIGINAL_DST` for IPv6;
 * the local address (with `redirected: false`) when the connection was not
 * NAT-ed.
 *
 * @throws {CniRedirectError} `CNI_ERR_ADDON_UNAVAILABLE`, `CNI_ERR_SOCKET`
 * @example
 * ```ts
 * server.on('connection', (socket) => {
 *   const { address, port } = originalDestination(socket);
 * });
 * ```
 */
export function originalDestination(socket: net.Socket | number): OriginalDestination {
  const native = addon();
  const fd = fdOf(socket);
  try {
    return native.originalDestination(fd);
  } catch (cause) {
    throw nativeError(cause, null);
  }
}

/**
 * Sets SO_MARK on a socket (needs CAP_NET_ADMIN).
 * @throws {CniRedirectError} `CNI_ERR_ADDON_UNAVAILABLE`, `CNI_ERR_PERMISSION`, `CNI_ERR_SOCKET`
 */
export function setMark(socket: net.Socket | number, mark: number): void {
  const native = addon();
  const value = checkMark(mark);
  try {
    native.setMark(fdOf(socket), value);
  } catch (cause) {
    throw nativeError(cause, null);
  }
}

/**
 * Reads SO_MARK of a socket.
 * @throws {CniRedirectError} `CNI_ERR_ADDON_UNAVAILABLE`, `CNI_ERR_SOCKET`
 */
export function getMark(socket: net.Socket | number): number {
  const native = addon();
  try {
    return native.getMark(fdOf(socket));
  } catch (cause) {
    throw nativeError(cause, null);
  }
}
