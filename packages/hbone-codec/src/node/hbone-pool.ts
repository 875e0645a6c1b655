import type { Duplex } from 'node:stream';
import { HboneError } from '../errors.js';
import type { ConnectRequestInit } from '../hbone/connect-request.js';
import { HboneClientConnection, type HboneClientOptions } from './hbone-client.js';
import { type KeepAliveOptions, type HboneTunnel, ZTUNNEL_KEEPALIVE } from './session.js';

/** What identifies a reusable HBONE connection (ztunnel's pool key). */
export interface HbonePoolKey {
  /** SPIFFE identity we present (our client certificate). */
  readonly sourceIdentity: string;
  /** SPIFFE identities the server may present. */
  readonly destinationIdentities: readonly string[];
  /** `ip:port` (or `[v6]:port`) we dial, normally port 15008. */
  readonly nextHop: string;
  /** Source IP the connection is bound to (the pod's IP). */
  readonly sourceIp?: string;
}

/** Options of {@link HbonePool}. */
export interface HbonePoolOptions {
  /** Dials and secures a transport for a key (TLS with ALPN h2); the pool never dials two at once per key. */
  readonly connect: (key: HbonePoolKey) => Promise<Duplex>;
  /** Tunnels per connection before another is opened; default 100 (ztunnel). */
  readonly maxStreamsPerConnection?: number;
  /** Close a connection idle this long; default 5 minutes (ztunnel). */
  readonly idleTimeoutMs?: number;
  /** PING keepalive; default 10 s interval, 20 s timeout (ztunnel). */
  readonly keepAlive?: KeepAliveOptions | false;
  readonly client?: Omit<HboneClientOptions, 'keepAlive'>;
}

interface PoolEntry {
  readonly connections: Set<HboneClientConnection>;
  dialing: Promise<HboneClientConnection> | undefined;
}

/** The canonical string of a pool key (identities order-insensitive). */
export function poolKeyString(key: HbonePoolKey): string {
  const identities = key.destinationIdentities;
  return JSON.stringify([
    key.sourceIdentity,
    identities.length < 2 ? identities : [...identities].sort(),
    key.nextHop,
    key.sourceIp ?? '',
  ]);
}

/**
 * A pool of HBONE client connections keyed by {source identity, destination
 * identities, next hop, source IP}: reuses a connection while it has room
 * (100 tunnels by default), dials at most one new connection per key at a
 * time, closes connections idle for 5 minutes, keeps them alive with PING,
 * and stops using a connection that got GOAWAY (its tunnels finish).
 *
 * @example
 * ```ts
 * const pool = new HbonePool({ connect: (key) => dialTls(key) });
 * const tunnel = await pool.open(key, { authority: '10.0.0.2:8080' });
 * ```
 */
export class HbonePool {
  readonly #options: HbonePoolOptions;
  readonly #entries = new Map<string, PoolEntry>();
  readonly #idleTimers = new Map<HboneClientConnection, NodeJS.Timeout>();
  #closed = false;
  #dials = 0;

  constructor(options: HbonePoolOptions) {
    this.#options = options;
  }

  /** Connections dialled so far (for metrics and tests). */
  get dials(): number {
    return this.#dials;
  }

  /** Open connections for a key. */
  connectionCount(key: HbonePoolKey): number {
    return this.#entries.get(poolKeyString(key))?.connections.size ?? 0;
  }

  /**
   * Opens a tunnel through a pooled connection for `key`.
   * @throws {HboneConnectRefusedError} when the server answers non-2xx
   * @throws {HboneError} HBONE_ERR_CONNECTION_CLOSED after close(); dial errors as thrown by `connect`
   */
  async open(key: HbonePoolKey, request: ConnectRequestInit): Promise<HboneTunnel> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.#acquire(key);
      this.#busy(connection);
      try {
        const tunnel = await connection.open(request);
        // 'close' fires once: `on` spares the `once` wrapper, which a tunnel would hold for its whole life.
        tunnel.on('close', () => this.#maybeIdle(connection));
        return tunnel;
      } catch (error) {
        this.#maybeIdle(connection);
        // A stream refused by GOAWAY or REFUSED_STREAM was never processed: retry once elsewhere (RFC 9113 §8.7).
        // A CONNECT the server answered (400, 401, 503) is final.
        const retryable =
          (error as { retryable?: boolean }).retryable === true ||
          (error instanceof HboneError && error.code === 'HBONE_ERR_REFUSED_STREAM');
        if (!retryable || attempt >= 1) throw error;
      }
    }
  }

  async #acquire(key: HbonePoolKey): Promise<HboneClientConnection> {
    const max = this.#options.maxStreamsPerConnection ?? 100;
    const id = poolKeyString(key);
    for (;;) {
      if (this.#closed) throw new HboneError('HBONE_ERR_CONNECTION_CLOSED', 'pool closed');
      let entry = this.#entries.get(id);
      if (!entry) {
        entry = { connections: new Set(), dialing: undefined };
        this.#entries.set(id, entry);
      }
      for (const c of entry.connections) {
        if (c.available && c.activeStreams < max) return c;
      }
      if (entry.dialing) {
        // One dial per key at a time: wait for it, then look again.
        await entry.dialing.catch(() => undefined);
        continue;
      }
      const dialing = this.#dial(key, entry);
      entry.dialing = dialing;
      try {
        return await dialing;
      } finally {
        entry.dialing = undefined;
      }
    }
  }

  async #dial(key: HbonePoolKey, entry: PoolEntry): Promise<HboneClientConnection> {
    this.#dials++;
    const socket = await this.#options.connect(key);
    const keepAlive = this.#options.keepAlive === undefined ? ZTUNNEL_KEEPALIVE : this.#options.keepAlive;
    const connection = new HboneClientConnection(socket, {
      ...this.#options.client,
      ...(keepAlive ? { keepAlive } : {}),
    });
    entry.connections.add(connection);
    connection.onClose(() => {
      entry.connections.delete(connection);
      clearTimeout(this.#idleTimers.get(connection));
      this.#idleTimers.delete(connection);
    });
    return connection;
  }

  #busy(connection: HboneClientConnection): void {
    clearTimeout(this.#idleTimers.get(connection));
    this.#idleTimers.delete(connection);
  }

  #maybeIdle(connection: HboneClientConnection): void {
    if (connection.closed) return;
    if (connection.activeStreams > 0) return;
    if (connection.draining) {
      connection.destroy();
      return;
    }
    clearTimeout(this.#idleTimers.get(connection));
    const timer = setTimeout(() => {
      this.#idleTimers.delete(connection);
      if (connection.activeStreams === 0) void connection.close();
    }, this.#options.idleTimeoutMs ?? 300_000);
    timer.unref();
    this.#idleTimers.set(connection, timer);
  }

  /** Closes every connection gracefully and refuses new tunnels. */
  async close(): Promise<void> {
    this.#closed = true;
    const all: Promise<void>[] = [];
    for (const entry of this.#entries.values()) for (const c of entry.connections) all.push(c.close());
    for (const t of this.#idleTimers.values()) clearTimeout(t);
    this.#idleTimers.clear();
    await Promise.all(all);
  }
}
