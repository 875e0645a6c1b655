import type {
  DeltaDiscoveryRequest,
  DiscoveryRequest,
  PreparedDeltaDiscoveryResponse,
  PreparedDiscoveryResponse,
  XdsNode,
} from '@amesh/xds-types';
import { XdsServerError } from './errors.js';
import { KnownVersions } from './known-versions.js';
import { type FullState, type ResourceInput, ResourceStore } from './resource-store.js';

/** Subscribe to every resource of a type. */
const WILDCARD = '*';

/** Which ADS flavour a stream speaks. */
export type XdsStreamMode = 'sotw' | 'delta';

/**
 * A response for the transport to send, resources already encoded. Read-only:
 * the full-state response of a type is one object shared by every fresh
 * wildcard client it goes to (a transport may encode it once).
 */
export type XdsServerResponse =
  | { readonly mode: 'sotw'; readonly response: PreparedDiscoveryResponse }
  | { readonly mode: 'delta'; readonly response: PreparedDeltaDiscoveryResponse };

/** Timers, injectable for tests. */
export interface XdsServerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A log record: one clear line. */
export interface XdsServerLogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly clientId?: string;
  readonly typeUrl?: string;
}

/** Options of {@link XdsServerCore}. */
export interface XdsServerOptions {
  /** Changes are pushed at most this long after the first one of a batch; default 20 ms. 0 pushes synchronously. */
  readonly debounceMs?: number;
  readonly timers?: XdsServerTimers;
  /** Clock in ms (for introspection timestamps). */
  readonly now?: () => number;
  readonly log?: (record: XdsServerLogRecord) => void;
}

/** Where the last response of a type stands with one client, as a union. */
export type ClientTypeStatus =
  | { readonly state: 'unsent' }
  | { readonly state: 'pending'; readonly nonce: string }
  | { readonly state: 'acked'; readonly nonce: string; readonly version: string }
  | { readonly state: 'nacked'; readonly nonce: string; readonly message: string };

/** What one client holds of one type. */
export interface ClientTypeInfo {
  readonly typeUrl: string;
  readonly wildcard: boolean;
  readonly names: readonly string[];
  readonly status: ClientTypeStatus;
  /** SotW: version of the last response sent; Delta: empty. */
  readonly sentVersion: string;
  /** SotW: the version the client last ACKed. */
  readonly ackedVersion: string;
  /** The last NACK of this type, kept after later ACKs. */
  readonly lastNack: { readonly nonce: string; readonly message: string; readonly at: number } | undefined;
  readonly acks: number;
  readonly nacks: number;
  /** Resources the client holds (Delta) or was last sent (SotW). */
  readonly resourceCount: number;
}

/** Introspection of one connected client (stream). */
export interface ClientInfo {
  readonly id: string;
  readonly mode: XdsStreamMode;
  readonly nodeId: string;
  readonly node: XdsNode | null;
  readonly peer: string;
  readonly connectedAt: number;
  readonly types: readonly ClientTypeInfo[];
}

/** One ADS stream as the core sees it; the transport feeds it requests. */
export interface XdsServerStream {
  readonly id: string;
  /** Handles one request from the client. */
  receive(request: DiscoveryRequest | DeltaDiscoveryRequest): void;
  /** The transport closed the stream. */
  close(): void;
}

interface TypeSubscription {
  wildcard: boolean;
  readonly names: Set<string>;
  /** Delta: name → version the client holds. SotW: names last sent. */
  readonly known: KnownVersions;
  sentNonce: string;
  sentVersion: string;
  ackedVersion: string;
  status: ClientTypeStatus;
  lastNack: { nonce: string; message: string; at: number } | undefined;
  acks: number;
  nacks: number;
}

interface StreamState {
  readonly id: string;
  readonly mode: XdsStreamMode;
  readonly peer: string;
  readonly connectedAt: number;
  readonly send: (response: XdsServerResponse) => void;
  node: XdsNode | null;
  readonly types: Map<string, TypeSubscription>;
  nonce: number;
  closed: boolean;
}

/**
 * The transport-free xDS server: versioned resources per type, SotW and
 * Delta serving with wildcard and named subscriptions, per-client ACK/NACK
 * tracking, debounced pushes of only what changed, and introspection.
 * `@amesh/xds-server/node` binds it to a `@grpc/grpc-js` server.
 *
 * @example
 * ```ts
 * const core = new XdsServerCore({ debounceMs: 20 });
 * core.setResources(TypeUrl.address, new Map([['w1', { version: '1', resource: encodeAddress(a) }]]));
 * const stream = core.openStream('delta', (r) => transport.write(r));
 * ```
 */
export class XdsServerCore {
  readonly #store = new ResourceStore();
  /**
   * Full-state responses by nonce, per shared full state (the first response
   * of a fresh stream has the same nonce on every stream): one response
   * object, so the transport can encode it once for every such client.
   */
  readonly #fullResponses = new WeakMap<FullState, Map<string, PreparedDeltaDiscoveryResponse>>();
  readonly #streams = new Map<string, StreamState>();
  readonly #debounceMs: number;
  readonly #timers: XdsServerTimers;
  readonly #now: () => number;
  readonly #log: (record: XdsServerLogRecord) => void;
  #timer: unknown;
  #nextStream = 0;

  constructor(options: XdsServerOptions = {}) {
    this.#debounceMs = options.debounceMs ?? 20;
    this.#timers = options.timers ?? {
      setTimeout: (cb, ms) => setTimeout(cb, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? defaultLog;
  }

  /** Replaces every resource of a type (missing names are deleted) and schedules a push. */
  setResources(typeUrl: string, resources: ReadonlyMap<string, ResourceInput>): void {
    if (this.#store.set(typeUrl, resources).length > 0) this.#schedule();
  }

  /** Adds, replaces (`ResourceInput`) or deletes (`null`) some resources of a type and schedules a push. */
  update(typeUrl: string, changes: ReadonlyMap<string, ResourceInput | null>): void {
    if (this.#store.update(typeUrl, changes).length > 0) this.#schedule();
  }

  /** The resources of a type as stored (name → version). */
  resourceVersions(typeUrl: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const [name, stored] of this.#store.all(typeUrl)) out.set(name, stored.version);
    return out;
  }

  /** Pushes pending changes now instead of waiting for the debounce. */
  flush(): void {
    if (this.#timer !== undefined) {
      this.#timers.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const dirty = this.#store.takeDirty();
    if (dirty.size === 0) return;
    for (const stream of this.#streams.values()) {
      for (const [typeUrl, names] of dirty) {
        const sub = stream.types.get(typeUrl);
        if (sub === undefined) continue;
        if (stream.mode === 'sotw') {
          if (sub.wildcard || intersects(names, sub.names)) this.#sendSotw(stream, typeUrl, sub);
        } else {
          this.#sendDelta(stream, typeUrl, sub, names, false);
        }
      }
    }
  }

  /**
   * Registers a new stream; `send` is called with every response for it.
   * @param peer - a label for introspection (for example the remote address)
   */
  openStream(mode: XdsStreamMode, send: (response: XdsServerResponse) => void, peer = ''): XdsServerStream {
    const id = String(++this.#nextStream);
    const stream: StreamState = {
      id,
      mode,
      peer,
      connectedAt: this.#now(),
      send,
      node: null,
      types: new Map(),
      nonce: 0,
      closed: false,
    };
    this.#streams.set(id, stream);
    return {
      id,
      receive: (request) => {
        if (stream.closed) throw new XdsServerError('XDS_ERR_STREAM_CLOSED', `stream ${id} is closed`);
        if (stream.node === null && request.node !== null && request.node !== undefined)
          stream.node = request.node;
        if (mode === 'sotw') this.#receiveSotw(stream, request as DiscoveryRequest);
        else this.#receiveDelta(stream, request as DeltaDiscoveryRequest);
      },
      close: () => {
        stream.closed = true;
        this.#streams.delete(id);
      },
    };
  }

  /** Introspection: every connected client, what it subscribes to, at which version, its last NACK. */
  clients(): ClientInfo[] {
    return [...this.#streams.values()].map((stream) => ({
      id: stream.id,
      mode: stream.mode,
      nodeId: stream.node?.id ?? '',
      node: stream.node,
      peer: stream.peer,
      connectedAt: stream.connectedAt,
      types: [...stream.types].map(([typeUrl, sub]) => ({
        typeUrl,
        wildcard: sub.wildcard,
        names: [...sub.names],
        status: sub.status,
        sentVersion: sub.sentVersion,
        ackedVersion: sub.ackedVersion,
        lastNack: sub.lastNack === undefined ? undefined : { ...sub.lastNack },
        acks: sub.acks,
        nacks: sub.nacks,
        resourceCount: sub.known.size,
      })),
    }));
  }

  /** Introspection: name → version of what one client holds of a type (Delta) or was last sent (SotW). */
  clientResources(clientId: string, typeUrl: string): Map<string, string> {
    return new Map(this.#streams.get(clientId)?.types.get(typeUrl)?.known ?? []);
  }

  /** Cancels a pending push; streams stay registered until their transport closes them. */
  close(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#debounceMs <= 0) {
      this.flush();
      return;
    }
    // Trailing push at most debounceMs after the first change of a batch, so a
    // steady stream of changes cannot starve clients.
    if (this.#timer !== undefined) return;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#debounceMs);
  }

  #subscription(stream: StreamState, typeUrl: string): { sub: TypeSubscription; first: boolean } {
    const existing = stream.types.get(typeUrl);
    if (existing !== undefined) return { sub: existing, first: false };
    const sub: TypeSubscription = {
      wildcard: false,
      names: new Set(),
      known: new KnownVersions(),
      sentNonce: '',
      sentVersion: '',
      ackedVersion: '',
      status: { state: 'unsent' },
      lastNack: undefined,
      acks: 0,
      nacks: 0,
    };
    stream.types.set(typeUrl, sub);
    return { sub, first: true };
  }

  #recordAnswer(
    stream: StreamState,
    typeUrl: string,
    sub: TypeSubscription,
    nonce: string,
    version: string,
    errorMessage: string | undefined,
  ): void {
    if (errorMessage !== undefined) {
      sub.nacks++;
      sub.lastNack = { nonce, message: errorMessage, at: this.#now() };
      if (nonce === sub.sentNonce) sub.status = { state: 'nacked', nonce, message: errorMessage };
      this.#log({
        level: 'warn',
        clientId: stream.id,
        typeUrl,
        msg: `client ${stream.node?.id ?? stream.id} NACKed ${typeUrl} nonce ${nonce}: ${errorMessage}`,
      });
    } else {
      sub.acks++;
      if (stream.mode === 'sotw') sub.ackedVersion = version;
      if (nonce === sub.sentNonce)
        sub.status = { state: 'acked', nonce, version: version || sub.sentVersion };
    }
  }

  #receiveSotw(stream: StreamState, request: DiscoveryRequest): void {
    if (!request.typeUrl) {
      this.#log({
        level: 'warn',
        clientId: stream.id,
        msg: `client ${stream.id} sent a DiscoveryRequest without type_url; ignored`,
      });
      return;
    }
    const { sub, first } = this.#subscription(stream, request.typeUrl);
    if (request.responseNonce) {
      // A stale nonce answers a response the client has not seen yet; the
      // newer response will be answered too (xDS protocol: ignore stale).
      if (request.responseNonce !== sub.sentNonce) return;
      this.#recordAnswer(
        stream,
        request.typeUrl,
        sub,
        request.responseNonce,
        request.versionInfo,
        nackMessage(request.errorDetail),
      );
    }
    const names = request.resourceNames;
    const wildcard = names.includes(WILDCARD) || (names.length === 0 && (first || sub.wildcard));
    const explicit = names.filter((n) => n !== WILDCARD);
    const changed =
      wildcard !== sub.wildcard ||
      explicit.length !== sub.names.size ||
      explicit.some((n) => !sub.names.has(n));
    sub.wildcard = wildcard;
    if (changed) {
      sub.names.clear();
      for (const name of explicit) sub.names.add(name);
    }
    if (first || changed || !request.responseNonce) this.#sendSotw(stream, request.typeUrl, sub);
  }

  #sendSotw(stream: StreamState, typeUrl: string, sub: TypeSubscription): void {
    if (!sub.wildcard && sub.names.size === 0) return;
    const resources: Uint8Array[] = [];
    sub.known.clear();
    const all = this.#store.all(typeUrl);
    if (sub.wildcard) {
      for (const stored of all.values()) {
        resources.push(stored.any);
        sub.known.set(stored.name, stored.version);
      }
    } else {
      for (const name of sub.names) {
        const stored = all.get(name);
        if (stored === undefined) continue;
        resources.push(stored.any);
        sub.known.set(name, stored.version);
      }
    }
    const nonce = String(++stream.nonce);
    const version = this.#store.version(typeUrl);
    sub.sentNonce = nonce;
    sub.sentVersion = version;
    sub.status = { state: 'pending', nonce };
    stream.send({ mode: 'sotw', response: { versionInfo: version, typeUrl, nonce, resources } });
  }

  #receiveDelta(stream: StreamState, request: DeltaDiscoveryRequest): void {
    if (!request.typeUrl) {
      this.#log({
        level: 'warn',
        clientId: stream.id,
        msg: `client ${stream.id} sent a DeltaDiscoveryRequest without type_url; ignored`,
      });
      return;
    }
    const typeUrl = request.typeUrl;
    const { sub, first } = this.#subscription(stream, typeUrl);
    if (request.responseNonce) {
      this.#recordAnswer(stream, typeUrl, sub, request.responseNonce, '', nackMessage(request.errorDetail));
    }
    const interesting = new Set<string>();
    let everything = false;
    if (first) {
      for (const [name, version] of Object.entries(request.initialResourceVersions))
        sub.known.set(name, version);
      // Legacy wildcard: a first request without names subscribes to all.
      if (request.resourceNamesSubscribe.length === 0) sub.wildcard = true;
    }
    for (const name of request.resourceNamesSubscribe) {
      if (name === WILDCARD) {
        if (!sub.wildcard) everything = true;
        sub.wildcard = true;
      } else if (!sub.names.has(name)) {
        sub.names.add(name);
        interesting.add(name);
      }
    }
    for (const name of request.resourceNamesUnsubscribe) {
      if (name === WILDCARD) sub.wildcard = false;
      else sub.names.delete(name);
      if (!sub.wildcard && !sub.names.has(name)) sub.known.delete(name);
    }
    if (first) {
      this.#log({
        level: 'info',
        clientId: stream.id,
        typeUrl,
        msg: `client ${stream.node?.id ?? stream.id} subscribed to ${typeUrl} (${sub.wildcard ? 'wildcard' : `${sub.names.size} names`}, ${sub.known.size} initial resource versions)`,
      });
    }
    if (first || everything) {
      const stored = this.#store.all(typeUrl).keys();
      if (sub.wildcard && sub.known.size === 0 && sub.names.size === 0) {
        // A fresh wildcard subscriber (every ztunnel): the shared full state.
        this.#sendFullDelta(stream, typeUrl, sub, first);
        return;
      }
      const all = new Set<string>(sub.known.keys());
      for (const name of sub.names) all.add(name);
      if (sub.wildcard) for (const name of stored) all.add(name);
      this.#sendDelta(stream, typeUrl, sub, all, first);
    } else if (interesting.size > 0) {
      this.#sendDelta(stream, typeUrl, sub, interesting, false);
    }
  }

  /**
   * Sends every stored resource of a type to a Delta client that holds none:
   * the encoded resources and the name → version map are built once per
   * store version and shared by every such client.
   */
  #sendFullDelta(stream: StreamState, typeUrl: string, sub: TypeSubscription, always: boolean): void {
    const full = this.#store.fullState(typeUrl);
    if (!always && full.versions.size === 0) return;
    sub.known.resetTo(full);
    const nonce = String(++stream.nonce);
    sub.sentNonce = nonce;
    sub.status = { state: 'pending', nonce };
    let byNonce = this.#fullResponses.get(full);
    if (byNonce === undefined) {
      byNonce = new Map();
      this.#fullResponses.set(full, byNonce);
    }
    let response = byNonce.get(nonce);
    if (response === undefined) {
      response = {
        systemVersionInfo: this.#store.version(typeUrl),
        typeUrl,
        nonce,
        resources: [],
        encodedResources: full.deltaResources,
        removedResources: [],
      };
      byNonce.set(nonce, response);
    }
    stream.send({ mode: 'delta', response });
  }

  #sendDelta(
    stream: StreamState,
    typeUrl: string,
    sub: TypeSubscription,
    names: Iterable<string>,
    always: boolean,
  ): void {
    const resources: Uint8Array[] = [];
    const removed: string[] = [];
    const all = this.#store.all(typeUrl);
    for (const name of names) {
      const wanted = sub.wildcard || sub.names.has(name);
      const stored = all.get(name);
      if (!wanted) {
        sub.known.delete(name);
        continue;
      }
      if (stored !== undefined) {
        if (sub.known.get(name) === stored.version) continue;
        resources.push(stored.delta);
        sub.known.set(name, stored.version);
      } else if (sub.known.has(name) || sub.names.has(name)) {
        // Removed, or explicitly asked for and absent: tell the client it does not exist.
        removed.push(name);
        sub.known.delete(name);
      }
    }
    if (!always && resources.length === 0 && removed.length === 0) return;
    const nonce = String(++stream.nonce);
    sub.sentNonce = nonce;
    sub.status = { state: 'pending', nonce };
    stream.send({
      mode: 'delta',
      response: {
        systemVersionInfo: this.#store.version(typeUrl),
        typeUrl,
        nonce,
        resources,
        removedResources: removed,
      },
    });
  }
}

function defaultLog(record: XdsServerLogRecord): void {
  if (record.level === 'warn' || record.level === 'error')
    process.stderr.write(`xds-server ${record.level}: ${record.msg}\n`);
}

function nackMessage(detail: { message: string } | null | undefined): string | undefined {
  if (detail === null || detail === undefined) return undefined;
  return detail.message || '(NACK without a message)';
}

function intersects(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const item of small) if (large.has(item)) return true;
  return false;
}
