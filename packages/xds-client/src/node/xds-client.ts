import * as grpc from '@grpc/grpc-js';
import {
  type DeepPartial,
  type DeltaDiscoveryResponseScan,
  type DiscoveryResponse,
  decodeDiscoveryResponse,
  encodeDeltaDiscoveryRequest,
  encodeDiscoveryRequest,
  scanDeltaDiscoveryResponse,
  type XdsNode,
} from '@amesh/xds-types';
import {
  type AdsEvent,
  type AdsMode,
  AdsState,
  eventLogOf,
  type OutgoingRequest,
  type ResourceStatus,
  WILDCARD,
} from '../ads-state.js';
import { type BackoffOptions, backoffDelay } from '../backoff.js';
import { builtinResourceTypes } from '../builtin-types.js';
import { XdsClientError } from '../errors.js';
import { ResourceTypeRegistry } from '../resource-type.js';

const SOTW_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const DELTA_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

/** A log record; `msg` is one clear line. */
export interface XdsLogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly typeUrl?: string;
  readonly error?: Error;
}

/** Timers, injectable for tests. */
export interface XdsTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link XdsClient}. */
export interface XdsClientOptions {
  /** gRPC target of the control plane, for example `127.0.0.1:15010` or `dns:///istiod:15012`. */
  readonly target: string;
  /**
   * Channel credentials. For mTLS use the credentials `@amesh/mtls-identity`
   * builds from the workload certificate; `grpc.credentials.createInsecure()`
   * for plaintext (port 15010).
   */
  readonly credentials: grpc.ChannelCredentials;
  /** The node: `id` (ztunnel form `ztunnel~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`), metadata, locality. */
  readonly node: DeepPartial<XdsNode>;
  /** `delta` (ztunnel, default) or `sotw`. */
  readonly mode?: AdsMode;
  /** Resource types; defaults to the built-in Istio and Envoy types. */
  readonly registry?: ResourceTypeRegistry;
  readonly backoff?: BackoffOptions;
  /** Largest gRPC message accepted; default 64 MiB. A larger one fails the stream (then reconnect). */
  readonly maxMessageBytes?: number;
  /** Largest single resource accepted; a larger one is NACKed. Default 4 MiB. */
  readonly maxResourceBytes?: number;
  /** Extra gRPC channel options. */
  readonly channelOptions?: grpc.ChannelOptions;
  readonly log?: (record: XdsLogRecord) => void;
  readonly timers?: XdsTimers;
  /** Random source in [0, 1) for jitter. */
  readonly random?: () => number;
}

/** Callbacks of a watch. */
export interface ResourceWatcher<T = unknown> {
  /** A new or changed value (valid and accepted). */
  onChanged?(name: string, value: T): void;
  /** The resource was deleted or does not exist. */
  onRemoved?(name: string): void;
  /** A response for this type was NACKed (the last good value keeps serving). */
  onNack?(errors: readonly XdsClientError[]): void;
}

/** Connection state of the client, as a union. */
export type XdsConnectionState =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting'; readonly attempt: number }
  | { readonly state: 'connected'; readonly since: number }
  | {
      readonly state: 'backoff';
      readonly attempt: number;
      readonly delayMs: number;
      readonly lastError: string;
    }
  | { readonly state: 'closed' };

/** Counters of an {@link XdsClient}. */
export interface XdsClientMetrics {
  /** Streams opened. */
  streamsStarted: number;
  /** Streams that ended, for any reason. */
  streamTerminations: number;
  /** Responses received (including garbage). */
  messagesReceived: number;
  /** Requests sent (including ACKs and NACKs). */
  messagesSent: number;
  /** ACKs sent. */
  acks: number;
  /** NACKs sent. */
  nacks: number;
  /** Responses that were not a decodable discovery message. */
  garbageMessages: number;
  /** Resource changes applied (adds, updates, removals). */
  resourceUpdates: number;
}

type Incoming =
  | { readonly ok: true; readonly message: DiscoveryResponse | DeltaDiscoveryResponseScan }
  | { readonly ok: false; readonly error: Error; readonly bytes: number };

type AdsCall = grpc.ClientDuplexStream<OutgoingRequest['message'], Incoming>;

interface WatchEntry {
  readonly typeUrl: string;
  readonly name: string;
  readonly watcher: ResourceWatcher;
}

/**
 * An ADS client over `@grpc/grpc-js`: one stream (SotW or Delta) for every
 * watched type, ACK/NACK, reconnect with jittered exponential backoff, and a
 * last-known-good cache that keeps serving while the control plane is away.
 *
 * @example
 * ```ts
 * const client = new XdsClient({ target: '127.0.0.1:15010', credentials: grpc.credentials.createInsecure(),
 *   node: { id: 'ztunnel~10.0.0.1~zt.istio-system~istio-system.svc.cluster.local' } });
 * client.watch(TypeUrl.address, WILDCARD, { onChanged: (name, value) => console.log(name, value) });
 * client.start();
 * ```
 */
export class XdsClient {
  readonly #options: XdsClientOptions;
  readonly #state: AdsState;
  readonly #timers: XdsTimers;
  readonly #random: () => number;
  readonly #log: (record: XdsLogRecord) => void;
  readonly #watches = new Set<WatchEntry>();
  readonly #metrics: XdsClientMetrics = {
    streamsStarted: 0,
    streamTerminations: 0,
    messagesReceived: 0,
    messagesSent: 0,
    acks: 0,
    nacks: 0,
    garbageMessages: 0,
    resourceUpdates: 0,
  };
  #grpc: grpc.Client | undefined;
  #call: AdsCall | undefined;
  #connection: XdsConnectionState = { state: 'idle' };
  #attempt = 0;
  #retryTimer: unknown;
  #receivedOnStream = false;
  readonly #subscriptions = new Map<string, number>();

  /** Creates the client; nothing connects before {@link XdsClient.start}. */
  constructor(options: XdsClientOptions) {
    this.#options = options;
    this.#timers = options.timers ?? {
      setTimeout: (cb, ms) => setTimeout(cb, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
    this.#random = options.random ?? Math.random;
    this.#log = options.log ?? defaultLog;
    this.#state = new AdsState({
      mode: options.mode ?? 'delta',
      node: options.node,
      registry: options.registry ?? new ResourceTypeRegistry(builtinResourceTypes),
      ...(options.maxResourceBytes === undefined ? {} : { maxResourceBytes: options.maxResourceBytes }),
    });
  }

  /**
   * Opens the channel and the ADS stream (idempotent).
   * @throws {XdsClientError} `XDS_ERR_CLOSED` after {@link XdsClient.close}
   */
  start(): void {
    if (this.#connection.state === 'closed') throw new XdsClientError('XDS_ERR_CLOSED', 'client is closed');
    if (this.#grpc !== undefined) return;
    const max = this.#options.maxMessageBytes ?? 64 * 1024 * 1024;
    this.#grpc = new grpc.Client(this.#options.target, this.#options.credentials, {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      // A full Istio state is megabytes; the HTTP/2 default window of 64 KiB
      // would cost a WINDOW_UPDATE round trip per 64 KiB of it.
      'grpc-node.flow_control_window': 16 * 1024 * 1024,
      ...this.#options.channelOptions,
    });
    this.#openStream();
  }

  /**
   * Watches a resource by name, or every resource of the type with {@link WILDCARD}.
   * Values already cached are delivered at once. Returns a function that stops watching.
   * @throws {XdsClientError} `XDS_ERR_UNKNOWN_TYPE_URL` for a type missing from the registry
   */
  watch<T = unknown>(typeUrl: string, name: string, watcher: ResourceWatcher<T>): () => void {
    const entry: WatchEntry = { typeUrl, name, watcher: watcher as ResourceWatcher };
    const key = `${typeUrl}\n${name}`;
    const count = this.#subscriptions.get(key) ?? 0;
    if (count === 0) this.#send(this.#state.subscribe(typeUrl, name));
    this.#subscriptions.set(key, count + 1);
    this.#watches.add(entry);
    for (const [resourceName, status] of this.#state.resources(typeUrl)) {
      if (name !== WILDCARD && name !== resourceName) continue;
      const value = servedValue(status);
      if (value !== undefined) watcher.onChanged?.(resourceName, value as T);
      else if (status.state === 'does-not-exist') watcher.onRemoved?.(resourceName);
    }
    return () => {
      if (!this.#watches.delete(entry)) return;
      const left = (this.#subscriptions.get(key) ?? 1) - 1;
      if (left > 0) this.#subscriptions.set(key, left);
      else {
        this.#subscriptions.delete(key);
        this.#send(this.#state.unsubscribe(typeUrl, name));
      }
    };
  }

  /** Status of one resource (the last good value stays while nacked or disconnected). */
  get(typeUrl: string, name: string): ResourceStatus | undefined {
    return this.#state.get(typeUrl, name);
  }

  /** Every cached resource of a type with its status. */
  resources(typeUrl: string): Map<string, ResourceStatus> {
    return this.#state.resources(typeUrl);
  }

  /** The connection state. */
  connectionState(): XdsConnectionState {
    return this.#connection;
  }

  /** A copy of the counters. */
  metrics(): XdsClientMetrics {
    return { ...this.#metrics };
  }

  /** Ends the stream and the channel; cached values stay readable. */
  close(): void {
    this.#connection = { state: 'closed' };
    if (this.#retryTimer !== undefined) this.#timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
    this.#grpc?.close();
  }

  #openStream(): void {
    const client = this.#grpc;
    if (client === undefined || this.#connection.state === 'closed') return;
    const delta = this.#state.mode === 'delta';
    this.#connection = { state: 'connecting', attempt: this.#attempt };
    this.#receivedOnStream = false;
    const call = client.makeBidiStreamRequest<OutgoingRequest['message'], Incoming>(
      delta ? DELTA_METHOD : SOTW_METHOD,
      (message) =>
        asBuffer(
          delta ? encodeDeltaDiscoveryRequest(message as never) : encodeDiscoveryRequest(message as never),
        ),
      (bytes) => {
        try {
          return {
            ok: true,
            // Delta: checked whole here, resources decoded one by one as AdsState accepts them.
            message: delta ? scanDeltaDiscoveryResponse(bytes) : decodeDiscoveryResponse(bytes),
          };
        } catch (error) {
          return { ok: false, error: error as Error, bytes: bytes.length };
        }
      },
    );
    this.#call = call;
    this.#metrics.streamsStarted++;
    let ended = false;
    const end = (reason: string): void => {
      if (ended) return;
      ended = true;
      this.#onStreamEnd(call, reason);
    };
    call.on('data', (incoming: Incoming) => this.#onData(call, incoming));
    call.on('error', (error: grpc.ServiceError) =>
      end(`${grpc.status[error.code] ?? error.code}: ${error.details}`),
    );
    call.on('end', () => end('stream ended by the server'));
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code !== grpc.status.OK)
        end(`${grpc.status[status.code] ?? status.code}: ${status.details}`);
    });
    this.#send(this.#state.streamStarted());
  }

  #onData(call: AdsCall, incoming: Incoming): void {
    if (call !== this.#call) return;
    this.#metrics.messagesReceived++;
    if (!incoming.ok) {
      // Without a decodable message there is no nonce to NACK; restart the
      // stream and keep every last good value.
      this.#metrics.garbageMessages++;
      const error = new XdsClientError(
        'XDS_ERR_GARBAGE_MESSAGE',
        `control plane sent ${incoming.bytes} bytes that are not a discovery response; restarting the stream, keeping last good state`,
        { cause: incoming.error },
      );
      this.#log({ level: 'error', msg: error.message, error });
      call.cancel();
      return;
    }
    if (!this.#receivedOnStream) {
      this.#receivedOnStream = true;
      this.#attempt = 0;
      this.#connection = { state: 'connected', since: Date.now() };
    }
    const outcome =
      this.#state.mode === 'delta'
        ? this.#state.handleDeltaResponseScan(incoming.message as DeltaDiscoveryResponseScan)
        : this.#state.handleSotwResponse(incoming.message as DiscoveryResponse);
    this.#send(outcome.requests);
    // One snapshot of the watches per response, not per event (a full sync
    // is thousands of events); a watch removed meanwhile is skipped, and one
    // added meanwhile already got every value from the cache in watch().
    const watches = [...this.#watches];
    const log = eventLogOf(outcome);
    if (log === undefined) {
      for (const event of outcome.events) this.#dispatch(event, watches);
      return;
    }
    // The same events in the same order, without an event object per change.
    const { typeUrl, names, values } = log;
    for (let i = 0; i < names.length; i++) this.#changed(typeUrl, names[i]!, values[i], watches);
    for (const event of log.rest) this.#dispatch(event, watches);
  }

  #changed(typeUrl: string, name: string, value: unknown, watches: readonly WatchEntry[]): void {
    this.#metrics.resourceUpdates++;
    for (const entry of watches) {
      if (entry.typeUrl !== typeUrl || !this.#watches.has(entry)) continue;
      if (entry.name !== WILDCARD && entry.name !== name) continue;
      // A throwing watcher must not break the stream or the other watchers.
      try {
        entry.watcher.onChanged?.(name, value);
      } catch (error) {
        this.#watcherThrew(entry, error);
      }
    }
  }

  #dispatch(event: AdsEvent, watches: readonly WatchEntry[]): void {
    if (event.kind === 'changed') {
      this.#changed(event.typeUrl, event.name, event.value, watches);
      return;
    }
    if (event.kind === 'nacked') {
      this.#metrics.nacks++;
      this.#log({
        level: 'warn',
        typeUrl: event.typeUrl,
        msg: `NACK ${event.typeUrl} nonce ${event.nonce}: ${event.errors.map((e) => `${e.code}: ${e.message}`).join('; ')} (keeping last good values)`,
      });
    } else {
      this.#metrics.resourceUpdates++;
    }
    for (const entry of watches) {
      const { typeUrl, name, watcher } = entry;
      if (typeUrl !== event.typeUrl || !this.#watches.has(entry)) continue;
      // A throwing watcher must not break the stream or the other watchers.
      try {
        if (event.kind === 'nacked') watcher.onNack?.(event.errors);
        else if (name === WILDCARD || name === event.name) watcher.onRemoved?.(event.name);
      } catch (error) {
        this.#watcherThrew(entry, error);
      }
    }
  }

  #watcherThrew(entry: WatchEntry, error: unknown): void {
    this.#log({
      level: 'error',
      typeUrl: entry.typeUrl,
      msg: `watcher of ${entry.typeUrl} ${entry.name} threw: ${(error as Error).message}`,
      error: error as Error,
    });
  }

  #send(requests: readonly OutgoingRequest[]): void {
    const call = this.#call;
    if (call === undefined) return;
    for (const request of requests) {
      const message = request.message as { responseNonce?: string; errorDetail?: unknown };
      if (message.responseNonce) {
        if (message.errorDetail === undefined) this.#metrics.acks++;
      }
      this.#metrics.messagesSent++;
      call.write(request.message);
    }
  }

  #onStreamEnd(call: AdsCall, reason: string): void {
    this.#metrics.streamTerminations++;
    if (call === this.#call) this.#call = undefined;
    this.#state.streamEnded();
    if (this.#connection.state === 'closed') return;
    if (!this.#receivedOnStream) this.#attempt++;
    const delayMs = backoffDelay(
      this.#receivedOnStream ? 0 : this.#attempt - 1,
      this.#random,
      this.#options.backoff,
    );
    this.#connection = { state: 'backoff', attempt: this.#attempt, delayMs, lastError: reason };
    this.#log({
      level: 'warn',
      msg: `xDS stream to ${this.#options.target} ended (${reason}); reconnecting in ${delayMs} ms, serving last known good state`,
    });
    this.#retryTimer = this.#timers.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#openStream();
    }, delayMs);
  }
}

// protobufjs already returns a Buffer in Node; wrap, never copy, megabyte messages.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function servedValue(status: ResourceStatus): unknown {
  if (status.state === 'acked') return status.value;
  if (status.state === 'nacked') return status.value;
  return undefined;
}

function defaultLog(record: XdsLogRecord): void {
  if (record.level === 'warn' || record.level === 'error') {
    process.stderr.write(`xds-client ${record.level}: ${record.msg}\n`);
  }
}
