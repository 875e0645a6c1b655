/**
 * Node glue of the DNS proxy: UDP (`node:dgram`) and TCP (`node:net`)
 * listeners in front of {@link respondToDnsQuery}, and a forwarder to the
 * upstream resolvers. All protocol decisions live in the sans-IO core.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { encodeDnsMessage, encodeDnsMessageWithin, peekDnsQuestion } from '../codec.js';
import { DnsError } from '../errors.js';
import type { DnsMessage } from '../message.js';
import { DnsRcode, foldName } from '../message.js';
import type { DnsNameTable } from '../name-table.js';
import { dnsErrorResponse, respondToDnsQuery, udpResponseLimit } from '../name-table.js';
import type { DnsUpstream } from '../resolv-conf.js';
import { parseUpstream } from '../resolv-conf.js';
import { DnsTcpFrameDecoder, frameDnsTcpMessage } from '../tcp-framing.js';

/** Where a query came from. */
export interface DnsRemote {
  readonly address: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp';
}

/** One handled query, as {@link DnsProxyOptions.onQuery} reports it. */
export interface DnsQueryEvent {
  readonly remote: DnsRemote;
  /** The question's type (a {@link DnsType} number). */
  readonly type: number;
  /**
   * `answered` from the table (or refused with FORMERR/NOTIMP/BADVERS),
   * `forwarded` and answered upstream, `failed`: forwarding was needed and
   * no upstream answered (or there was no capacity), SERVFAIL was sent.
   */
  readonly outcome: 'answered' | 'forwarded' | 'failed';
  /** Milliseconds spent on the upstream exchange; absent when none was tried. */
  readonly upstreamMs?: number;
}

/** A log event of the proxy; `event` says what happened. */
export interface DnsProxyLogEvent {
  readonly event: 'malformed' | 'upstream-failed' | 'overloaded' | 'socket-error' | 'encode-failed';
  readonly message: string;
  readonly remote?: DnsRemote;
  readonly error?: unknown;
}

/** Counters of the proxy, since it was created. */
export interface DnsProxyMetrics {
  /** Messages received on the listeners (parsable or not). */
  readonly queries: number;
  /** Queries answered locally: from the table, or NOTIMP/FORMERR/BADVERS. */
  readonly answered: number;
  /** Queries sent upstream. */
  readonly forwarded: number;
  /** Forwarded queries that ended in SERVFAIL (every upstream failed, or too many in flight). */
  readonly failed: number;
  /** Messages that did not parse, or responses sent to the query port. */
  readonly malformed: number;
}

/** Options of {@link DnsProxy}. */
export interface DnsProxyOptions {
  /** The name table to answer from; updates to it apply to the next query. */
  readonly table: DnsNameTable;
  /** Upstream resolvers: `ip`, `ip:port` or `[ipv6]:port` (see `readResolvConf(...).upstreams`). */
  readonly upstreams: readonly string[];
  /** The client's namespace (for bare service names): fixed, or per remote address. */
  readonly clientNamespace?: string | ((remote: DnsRemote) => string | undefined);
  /** Wait per UDP upstream attempt, ms. Default 2000. Two attempts are made, on consecutive upstreams. */
  readonly upstreamTimeoutMs?: number;
  /** Wait per TCP upstream attempt (connect to reply), ms. Default 5000. */
  readonly upstreamTcpTimeoutMs?: number;
  /** Close a client TCP connection idle this long, ms. Default 10000 (RFC 7766 §6.2.3 suggests seconds). */
  readonly tcpIdleTimeoutMs?: number;
  /** Forwarded queries in flight at once; more get SERVFAIL. Default 1024. */
  readonly maxConcurrentForwards?: number;
  /** Client TCP connections at once; more are closed on accept. Default 256. */
  readonly maxTcpConnections?: number;
  /**
   * Makes the socket of one upstream UDP exchange (bound or not; the proxy closes it). Default:
   * `dgram.createSocket` in this process's network namespace. In netns mode, return a socket made
   * inside the pod's namespace and marked so the pod's DNS redirect does not catch it.
   */
  readonly createUpstreamUdpSocket?: (upstream: DnsUpstream) => dgram.Socket;
  /** Opens the connection of one upstream TCP exchange (the proxy destroys it). Default: `net.connect`. */
  readonly connectUpstreamTcp?: (upstream: DnsUpstream) => net.Socket;
  /** Receives log events (malformed input, upstream failures); default: none. */
  readonly log?: (event: DnsProxyLogEvent) => void;
  /** Called once per well-formed query with how it was handled (for metrics such as Istio's DNS families). */
  readonly onQuery?: (event: DnsQueryEvent) => void;
}

/**
 * Where to listen. Sockets and fds given here are owned by the proxy from
 * then on and closed by {@link DnsProxy.close}. Without an fd or socket for a
 * transport, it listens on `host:port`; with `port: 0` UDP picks a port and
 * TCP listens on the same one.
 */
export interface DnsProxyListenOptions {
  /** Address for transports without an fd/socket. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port for transports without an fd/socket. Default 15053 (ztunnel's). */
  readonly port?: number;
  /** Serve UDP. Default true. */
  readonly udp?: boolean;
  /** Serve TCP. Default true. */
  readonly tcp?: boolean;
  /** An already-bound UDP socket (e.g. created inside a pod's network namespace). */
  readonly udpSocket?: dgram.Socket;
  /** A UDP socket file descriptor, wrapped with `dgram.Socket#bind({ fd })`. */
  readonly udpFd?: number;
  /** Socket type of `udpFd`. Default `udp4`. */
  readonly udpFdType?: 'udp4' | 'udp6';
  /** A net.Server without a `connection` listener of its own, listening or not (then it listens on host:port). */
  readonly tcpServer?: net.Server;
  /** A listening TCP socket file descriptor, served with `net.Server#listen({ fd })`. */
  readonly tcpFd?: number;
}

/** The bound addresses after {@link DnsProxy.listen}. */
export interface DnsProxyAddresses {
  readonly udp?: AddressInfo;
  readonly tcp?: AddressInfo;
}

interface MutableMetrics {
  queries: number;
  answered: number;
  forwarded: number;
  failed: number;
  malformed: number;
}

/**
 * ztunnel's DNS proxy (Istio's port 15053): answers mesh hostnames from a
 * {@link DnsNameTable} and forwards the rest upstream, over UDP and TCP.
 *
 * @example
 * ```ts
 * const proxy = new DnsProxy({ table, upstreams: readResolvConf(text).upstreams });
 * const { udp } = await proxy.listen({ host: '127.0.0.1', port: 15053 });
 * ```
 */
export class DnsProxy {
  readonly #table: DnsNameTable;
  readonly #upstreams: readonly DnsUpstream[];
  readonly #namespace: DnsProxyOptions['clientNamespace'];
  readonly #udpTimeout: number;
  readonly #tcpTimeout: number;
  readonly #idleTimeout: number;
  readonly #maxForwards: number;
  readonly #maxTcp: number;
  readonly #log: (event: DnsProxyLogEvent) => void;
  readonly #onQuery: ((event: DnsQueryEvent) => void) | undefined;
  readonly #createUdp: (upstream: DnsUpstream) => dgram.Socket;
  readonly #connectTcp: (upstream: DnsUpstream) => net.Socket;
  readonly #metrics: MutableMetrics = { queries: 0, answered: 0, forwarded: 0, failed: 0, malformed: 0 };
  #udp: dgram.Socket | undefined;
  #tcp: net.Server | undefined;
  readonly #clients = new Set<net.Socket>();
  /** Upstream sockets in use, closed on {@link DnsProxy.close}. */
  readonly #upstreamSockets = new Set<{ close(): void }>();
  #inFlight = 0;
  #nextUpstream = 0;
  #closed = false;

  /** @throws {DnsError} `DNS_ERR_INVALID_CONFIG` for a bad upstream or option */
  constructor(options: DnsProxyOptions) {
    this.#table = options.table;
    this.#upstreams = options.upstreams.map(parseUpstream);
    this.#namespace = options.clientNamespace;
    this.#udpTimeout = positive(options.upstreamTimeoutMs ?? 2000, 'upstreamTimeoutMs');
    this.#tcpTimeout = positive(options.upstreamTcpTimeoutMs ?? 5000, 'upstreamTcpTimeoutMs');
    this.#idleTimeout = positive(options.tcpIdleTimeoutMs ?? 10_000, 'tcpIdleTimeoutMs');
    this.#maxForwards = positive(options.maxConcurrentForwards ?? 1024, 'maxConcurrentForwards');
    this.#maxTcp = positive(options.maxTcpConnections ?? 256, 'maxTcpConnections');
    this.#log = options.log ?? (() => {});
    this.#onQuery = options.onQuery;
    this.#createUdp =
      options.createUpstreamUdpSocket ??
      ((upstream) => dgram.createSocket(upstream.family === 4 ? 'udp4' : 'udp6'));
    this.#connectTcp =
      options.connectUpstreamTcp ??
      ((upstream) => net.connect({ host: upstream.address, port: upstream.port }));
  }

  /** A snapshot of the counters. */
  get metrics(): DnsProxyMetrics {
    return { ...this.#metrics };
  }

  /**
   * Starts serving UDP and/or TCP.
   * @throws {DnsError} `DNS_ERR_INVALID_CONFIG` when called twice or after close; socket errors (EADDRINUSE, ...) as Node raises them
   */
  async listen(options: DnsProxyListenOptions = {}): Promise<DnsProxyAddresses> {
    if (this.#closed || this.#udp || this.#tcp) {
      throw new DnsError('DNS_ERR_INVALID_CONFIG', 'DnsProxy.listen may be called once, before close');
    }
    const ephemeralPair =
      (options.port ?? 15053) === 0 &&
      (options.udp ?? true) &&
      (options.tcp ?? true) &&
      options.udpSocket === undefined &&
      options.udpFd === undefined &&
      options.tcpServer === undefined &&
      options.tcpFd === undefined;
    // With port 0, UDP picks a port and TCP takes the same one (clients such as c-ares retry
    // truncated answers over TCP on the UDP port); when TCP finds it taken, try another pair.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#listenOnce(options);
      } catch (error) {
        // Assigned by #listenOnce before it failed.
        const udp = this.#udp as dgram.Socket | undefined;
        this.#udp = undefined;
        this.#tcp = undefined;
        if (udp) udp.close();
        const inUse = (error as { code?: unknown }).code === 'EADDRINUSE';
        if (!ephemeralPair || !inUse || attempt >= 20) throw error;
      }
    }
  }

  async #listenOnce(options: DnsProxyListenOptions): Promise<DnsProxyAddresses> {
    const host = options.host ?? '127.0.0.1';
    let port = options.port ?? 15053;
    let udp: AddressInfo | undefined;
    if (options.udp ?? true) {
      const socket =
        options.udpSocket ??
        dgram.createSocket(options.udpFd !== undefined ? (options.udpFdType ?? 'udp4') : udpType(host));
      this.#udp = socket;
      if (options.udpSocket === undefined || !isBound(socket)) {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          const done = () => {
            socket.off('error', reject);
            resolve();
          };
          if (options.udpFd !== undefined) socket.bind({ fd: options.udpFd }, done);
          else socket.bind({ address: host, port }, done);
        });
      }
      udp = socket.address();
      if (port === 0 && options.udpFd === undefined && options.udpSocket === undefined) port = udp.port;
    }
    let tcp: AddressInfo | undefined;
    if (options.tcp ?? true) {
      const server = options.tcpServer ?? net.createServer();
      this.#tcp = server;
      if (!server.listening) {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          const done = () => {
            server.off('error', reject);
            resolve();
          };
          if (options.tcpFd !== undefined) server.listen({ fd: options.tcpFd }, done);
          else server.listen({ host, port }, done);
        });
      }
      tcp = server.address() as AddressInfo;
      server.on('connection', (socket) => this.#onTcpConnection(socket));
      server.on('error', (error) =>
        this.#log({ event: 'socket-error', message: 'TCP listener error', error }),
      );
    }
    const socket = this.#udp;
    if (socket) {
      socket.on('message', (msg, rinfo) => this.#onUdp(socket, msg, rinfo));
      socket.on('error', (error) =>
        this.#log({ event: 'socket-error', message: 'UDP listener error', error }),
      );
    }
    return { ...(udp ? { udp } : {}), ...(tcp ? { tcp } : {}) };
  }

  /** Stops listening, closes client connections and upstream sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#upstreamSockets) s.close();
    this.#upstreamSockets.clear();
    for (const c of this.#clients) c.destroy();
    this.#clients.clear();
    const udp = this.#udp;
    const tcp = this.#tcp;
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }

  #clientNamespace(remote: DnsRemote): string | undefined {
    const ns = this.#namespace;
    return typeof ns === 'function' ? ns(remote) : ns;
  }

  /** Handles one query from either transport; resolves to the reply bytes, or undefined to send nothing. */
  async #handle(bytes: Uint8Array, remote: DnsRemote): Promise<Uint8Array | undefined> {
    this.#metrics.queries++;
    const decision = respondToDnsQuery(this.#table, bytes, { namespace: this.#clientNamespace(remote) });
    const limit = (query: DnsMessage) => (remote.transport === 'udp' ? udpResponseLimit(query) : 0xffff);
    switch (decision.kind) {
      case 'drop':
        this.#metrics.malformed++;
        this.#log({ event: 'malformed', message: 'dropped a message', remote, error: decision.error });
        return undefined;
      case 'reject':
        this.#metrics.malformed++;
        this.#log({ event: 'malformed', message: 'answered FORMERR', remote, error: decision.error });
        return encodeDnsMessage(decision.response);
      case 'answer':
        this.#metrics.answered++;
        this.#report(remote, decision.query, 'answered');
        return encodeDnsMessageWithin(decision.response, limit(decision.query));
      case 'forward': {
        const query = decision.query;
        if (this.#inFlight >= this.#maxForwards || this.#upstreams.length === 0) {
          this.#metrics.failed++;
          this.#log({ event: 'overloaded', message: 'no upstream capacity, answered SERVFAIL', remote });
          this.#report(remote, query, 'failed');
          return encodeDnsMessage(dnsErrorResponse(query, DnsRcode.SERVFAIL));
        }
        this.#metrics.forwarded++;
        this.#inFlight++;
        const started = performance.now();
        try {
          const reply = await this.#forward(bytes, query, remote.transport);
          const upstreamMs = performance.now() - started;
          if (reply === undefined) {
            this.#metrics.failed++;
            this.#report(remote, query, 'failed', upstreamMs);
            return encodeDnsMessage(dnsErrorResponse(query, DnsRcode.SERVFAIL));
          }
          this.#report(remote, query, 'forwarded', upstreamMs);
          reply[0] = query.id >> 8;
          reply[1] = query.id & 0xff;
          if (reply.length > limit(query)) {
            // Too big for this client over UDP: tell it to retry over TCP (RFC 1035 §4.2.1).
            const tc = dnsErrorResponse(query, DnsRcode.NOERROR);
            return encodeDnsMessage({
              ...tc,
              flags: { ...tc.flags, rcode: (reply[3] as number) & 0x0f, tc: true },
            });
          }
          return reply;
        } finally {
          this.#inFlight--;
        }
      }
    }
  }

  #report(
    remote: DnsRemote,
    query: DnsMessage,
    outcome: DnsQueryEvent['outcome'],
    upstreamMs?: number,
  ): void {
    const onQuery = this.#onQuery;
    const question = query.questions[0];
    if (onQuery === undefined || question === undefined) return;
    try {
      onQuery({ remote, type: question.type, outcome, ...(upstreamMs === undefined ? {} : { upstreamMs }) });
    } catch (error) {
      this.#log({ event: 'socket-error', message: 'onQuery threw', remote, error });
    }
  }

  #onUdp(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const remote: DnsRemote = { address: rinfo.address, port: rinfo.port, transport: 'udp' };
    this.#handle(msg, remote).then(
      (reply) => {
        if (reply && !this.#closed) socket.send(reply, rinfo.port, rinfo.address);
      },
      (error: unknown) => this.#log({ event: 'encode-failed', message: 'could not reply', remote, error }),
    );
  }

  #onTcpConnection(socket: net.Socket): void {
    if (this.#closed || this.#clients.size >= this.#maxTcp) {
      this.#log({ event: 'overloaded', message: 'too many TCP connections, closed one' });
      socket.destroy();
      return;
    }
    this.#clients.add(socket);
    const remote: DnsRemote = {
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
      transport: 'tcp',
    };
    const decoder = new DnsTcpFrameDecoder();
    socket.setTimeout(this.#idleTimeout, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#clients.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      // RFC 7766 §6.2.1.1: queries on one connection are handled concurrently, replies in any order.
      for (const message of decoder.push(chunk)) {
        this.#handle(message, remote).then(
          (reply) => {
            if (reply && !socket.destroyed) socket.write(frameDnsTcpMessage(reply));
          },
          (error: unknown) =>
            this.#log({ event: 'encode-failed', message: 'could not reply', remote, error }),
        );
      }
    });
  }

  /** Sends the query to up to two upstreams (next one on failure); the reply bytes, or undefined when all fail. */
  async #forward(
    bytes: Uint8Array,
    query: DnsMessage,
    transport: 'udp' | 'tcp',
  ): Promise<Buffer | undefined> {
    const n = this.#upstreams.length;
    const start = this.#nextUpstream++ % n;
    for (let attempt = 0; attempt < 2 && !this.#closed; attempt++) {
      const upstream = this.#upstreams[(start + attempt) % n] as DnsUpstream;
      const id = randomInt(0, 0x10000);
      const out = Buffer.from(bytes);
      out[0] = id >> 8;
      out[1] = id & 0xff;
      try {
        const reply =
          transport === 'udp'
            ? await this.#forwardUdp(out, id, query, upstream)
            : await this.#forwardTcp(out, id, query, upstream);
        if (reply) return reply;
      } catch (error) {
        this.#log({
          event: 'upstream-failed',
          message: `upstream ${upstream.address}:${upstream.port} failed`,
          error,
        });
      }
    }
    this.#log({ event: 'upstream-failed', message: 'every upstream attempt failed, answering SERVFAIL' });
    return undefined;
  }

  /** One UDP exchange on a fresh socket (a random source port per query, RFC 5452 §9.2). */
  #forwardUdp(
    out: Buffer,
    id: number,
    query: DnsMessage,
    upstream: DnsUpstream,
  ): Promise<Buffer | undefined> {
    return this.#exchange(
      'could not create an upstream UDP socket',
      () => this.#createUdp(upstream),
      (socket) => socket.close(),
      this.#udpTimeout,
      (socket, finish) => {
        socket.on('message', (msg, rinfo) => {
          // RFC 5452 §4: accept only a reply from the server asked, with our id and question.
          if (rinfo.port !== upstream.port || normalizeAddress(rinfo.address) !== upstream.address) return;
          if (matchesQuery(msg, id, query)) finish(msg);
        });
        socket.send(out, upstream.port, upstream.address, (error) => {
          if (error) finish(undefined);
        });
      },
    );
  }

  /** One TCP exchange on a fresh connection (RFC 7766). */
  #forwardTcp(
    out: Buffer,
    id: number,
    query: DnsMessage,
    upstream: DnsUpstream,
  ): Promise<Buffer | undefined> {
    const decoder = new DnsTcpFrameDecoder();
    return this.#exchange(
      'could not connect to an upstream over TCP',
      () => this.#connectTcp(upstream),
      (socket) => socket.destroy(),
      this.#tcpTimeout,
      (socket, finish) => {
        socket.on('close', () => finish(undefined));
        // Written at once: a socket still connecting buffers it, one from connectUpstreamTcp may be connected.
        socket.write(frameDnsTcpMessage(out));
        socket.on('data', (chunk: Buffer) => {
          for (const message of decoder.push(chunk)) {
            if (matchesQuery(message, id, query)) return finish(Buffer.from(message));
          }
        });
      },
    );
  }

  /**
   * One upstream exchange on a socket `open` makes: `exchange` sends the
   * query and calls `finish` with a matching reply. A timeout, a socket
   * error or {@link DnsProxy.close} finish it with undefined; the socket is
   * disposed of either way.
   */
  #exchange<S extends dgram.Socket | net.Socket>(
    openFailed: string,
    open: () => S,
    dispose: (socket: S) => void,
    timeoutMs: number,
    exchange: (socket: S, finish: (reply: Buffer | undefined) => void) => void,
  ): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let socket: S;
      try {
        socket = open();
      } catch (error) {
        this.#log({ event: 'upstream-failed', message: openFailed, error });
        resolve(undefined);
        return;
      }
      const handle = { close: () => finish(undefined) };
      let done = false;
      const finish = (reply: Buffer | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#upstreamSockets.delete(handle);
        dispose(socket);
        resolve(reply);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      this.#upstreamSockets.add(handle);
      socket.on('error', () => finish(undefined));
      exchange(socket, finish);
    });
  }
}

function matchesQuery(reply: Uint8Array, id: number, query: DnsMessage): boolean {
  const peek = peekDnsQuestion(reply);
  if (!peek || peek.id !== id || !peek.flags.qr) return false;
  const asked = query.questions[0];
  if (!peek.question || !asked) return peek.flags.rcode !== DnsRcode.NOERROR && !peek.question;
  return (
    peek.question.type === asked.type &&
    peek.question.class === asked.class &&
    foldName(peek.question.name) === foldName(asked.name)
  );
}

/** The RFC 5952 form of a reply's source address, to compare with the upstream's; as is when it does not parse. */
function normalizeAddress(address: string): string {
  if (!address.includes(':')) return address;
  try {
    return parseUpstream(`[${address}]:53`).address;
  } catch {
    return address;
  }
}

function udpType(host: string): 'udp4' | 'udp6' {
  return net.isIPv6(host) ? 'udp6' : 'udp4';
}

function isBound(socket: dgram.Socket): boolean {
  try {
    socket.address();
    return true;
  } catch {
    return false;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new DnsError('DNS_ERR_INVALID_CONFIG', `${name} must be a positive number, got ${value}`);
  }
  return value;
}
