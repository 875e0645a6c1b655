import type {
  DeepPartial,
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DeltaDiscoveryResponseScan,
  DiscoveryRequest,
  DiscoveryResponse,
  XdsNode,
} from '@amesh/xds-types';
import { XdsClientError } from './errors.js';
import type { ResourceTypeRegistry } from './resource-type.js';

/** Subscribe to every resource of a type. */
export const WILDCARD = '*';

/** Which ADS flavour a stream speaks. */
export type AdsMode = 'sotw' | 'delta';

/**
 * Where one resource stands, as a union (grpc-js-xds's statuses):
 * `nacked` keeps the last good value (if any) that is still served.
 */
export type ResourceStatus<T = unknown> =
  | { readonly state: 'requested' }
  | { readonly state: 'acked'; readonly value: T; readonly version: string }
  | {
      readonly state: 'nacked';
      readonly error: string;
      readonly value: T | undefined;
      readonly version: string | undefined;
    }
  | { readonly state: 'does-not-exist' };

/** A request the client must send: SotW or Delta shape. */
export type OutgoingRequest =
  | { readonly mode: 'sotw'; readonly message: DeepPartial<DiscoveryRequest> }
  | { readonly mode: 'delta'; readonly message: DeepPartial<DeltaDiscoveryRequest> };

/** What changed because of a response. */
export type AdsEvent =
  | { readonly kind: 'changed'; readonly typeUrl: string; readonly name: string; readonly value: unknown }
  | { readonly kind: 'removed'; readonly typeUrl: string; readonly name: string }
  | {
      readonly kind: 'nacked';
      readonly typeUrl: string;
      readonly nonce: string;
      readonly errors: readonly XdsClientError[];
    };

/** Result of handling one response: the ACK or NACK to send and what changed. */
export interface ResponseOutcome {
  readonly requests: readonly OutgoingRequest[];
  /** What changed, in order: changes, then removals, then the NACK (built when first read). */
  readonly events: readonly AdsEvent[];
}

/** Options of {@link AdsState}. */
export interface AdsStateOptions {
  readonly mode: AdsMode;
  readonly node: DeepPartial<XdsNode>;
  readonly registry: ResourceTypeRegistry;
  /** Resources larger than this are refused (NACK); default 4 MiB. */
  readonly maxResourceBytes?: number;
}

/**
 * One cached resource, one object: its status (as fields; {@link statusOf}
 * builds the `ResourceStatus` that `get` hands out) and, once accepted, where
 * the raw bytes of the value are (a range of the response they came in), to
 * tell a real change from a resend. A status object inside an entry, or a
 * Uint8Array view of the bytes, would be one more object per resource of a
 * full sync for the garbage collector.
 */
interface CachedResource {
  state: ResourceStatus['state'];
  value: unknown;
  version: string | undefined;
  /** The NACK reason (`nacked` only). */
  error: string;
  rawBuffer: ArrayBufferLike | undefined;
  rawOffset: number;
  rawLength: number;
}

/** Every cache entry is built here, so that all have the same shape. */
function cached(
  state: ResourceStatus['state'],
  value: unknown,
  version: string | undefined,
  error: string,
  rawBuffer: ArrayBufferLike | undefined,
  rawOffset: number,
  rawLength: number,
): CachedResource {
  return { state, value, version, error, rawBuffer, rawOffset, rawLength };
}

/** The status of a cache entry, as `get` and `resources` give it. */
function statusOf(entry: CachedResource): ResourceStatus {
  switch (entry.state) {
    case 'acked':
      return { state: 'acked', value: entry.value, version: entry.version as string };
    case 'nacked':
      return { state: 'nacked', error: entry.error, value: entry.value, version: entry.version };
    case 'requested':
      return { state: 'requested' };
    default:
      return { state: 'does-not-exist' };
  }
}

interface TypeState {
  wildcard: boolean;
  readonly names: Set<string>;
  readonly resources: Map<string, CachedResource>;
  /** SotW: the last accepted `version_info`. */
  version: string;
  /** The nonce of the last response of this type on the current stream. */
  nonce: string;
  /** Whether this type's first request went out on the current stream. */
  requested: boolean;
}

/** Google RPC code INVALID_ARGUMENT, used in NACK error details. */
const INVALID_ARGUMENT = 3;

/**
 * The events of one response as they are collected: the changed resources
 * as two parallel lists, then any other event (removals, the NACK) in order.
 * A full sync changes every resource, and an event object each would be
 * thousands of objects per response for the garbage collector to move;
 * `ResponseOutcome.events` builds them only when read.
 */
export class EventLog {
  readonly typeUrl: string;
  /** Names of the changed resources, in order (before every event of `rest`). */
  readonly names: string[] = [];
  /** Their new values, index by index. */
  readonly values: unknown[] = [];
  /** The events after the changes, in order. */
  readonly rest: AdsEvent[] = [];

  constructor(typeUrl: string) {
    this.typeUrl = typeUrl;
  }

  /** A resource changed. */
  changed(name: string, value: unknown): void {
    // Changes come before removals and the NACK; should one ever follow them, it keeps its place.
    if (this.rest.length > 0) this.rest.push({ kind: 'changed', typeUrl: this.typeUrl, name, value });
    else {
      this.names.push(name);
      this.values.push(value);
    }
  }

  /** Any other event. */
  push(event: AdsEvent): void {
    this.rest.push(event);
  }

  /** The outcome of the response: `events` is built from this log when first read. */
  outcome(requests: readonly OutgoingRequest[]): ResponseOutcome {
    return new LoggedOutcome(requests, this);
  }
}

/** A {@link ResponseOutcome} over an {@link EventLog}: the event objects are made when `events` is first read. */
class LoggedOutcome implements ResponseOutcome {
  readonly requests: readonly OutgoingRequest[];
  readonly log: EventLog;
  #events: AdsEvent[] | undefined;

  constructor(requests: readonly OutgoingRequest[], log: EventLog) {
    this.requests = requests;
    this.log = log;
  }

  get events(): readonly AdsEvent[] {
    if (this.#events === undefined) {
      const { typeUrl, names, values, rest } = this.log;
      const events: AdsEvent[] = [];
      for (let i = 0; i < names.length; i++) {
        events.push({ kind: 'changed', typeUrl, name: names[i]!, value: values[i] });
      }
      for (const event of rest) events.push(event);
      this.#events = events;
    }
    return this.#events;
  }
}

/**
 * The {@link EventLog} behind an outcome of {@link AdsState}, if it has one
 * (package-internal: `XdsClient` dispatches from it without building the
 * event objects).
 */
export function eventLogOf(outcome: ResponseOutcome): EventLog | undefined {
  return outcome instanceof LoggedOutcome ? outcome.log : undefined;
}

/**
 * The client side of one ADS session, sans-IO: subscriptions, the resource
 * cache with last-known-good values, and what to ACK or NACK. It survives
 * stream restarts (call {@link AdsState.streamStarted} on each new stream), so
 * the cache keeps serving while the control plane is away.
 */
export class AdsState {
  readonly mode: AdsMode;
  readonly #node: DeepPartial<XdsNode>;
  readonly #registry: ResourceTypeRegistry;
  readonly #maxResourceBytes: number;
  readonly #types = new Map<string, TypeState>();
  #streaming = false;
  #nodeSent = false;

  constructor(options: AdsStateOptions) {
    this.mode = options.mode;
    this.#node = options.node;
    this.#registry = options.registry;
    this.#maxResourceBytes = options.maxResourceBytes ?? 4 * 1024 * 1024;
  }

  /**
   * Adds a subscription (a name or {@link WILDCARD}); returns what to send
   * when a stream is up.
   * @throws {XdsClientError} `XDS_ERR_UNKNOWN_TYPE_URL` for a type URL missing from the registry
   */
  subscribe(typeUrl: string, name: string): OutgoingRequest[] {
    if (this.#registry.get(typeUrl) === undefined) {
      throw new XdsClientError('XDS_ERR_UNKNOWN_TYPE_URL', `no resource type registered for ${typeUrl}`);
    }
    const state = this.#typeState(typeUrl);
    if (name === WILDCARD) {
      if (state.wildcard) return [];
      state.wildcard = true;
    } else {
      if (state.names.has(name)) return [];
      state.names.add(name);
      if (!state.resources.has(name))
        state.resources.set(name, cached('requested', undefined, undefined, '', undefined, 0, 0));
    }
    if (!this.#streaming) return [];
    if (!state.requested || this.mode === 'sotw') return [this.#initialOrFullRequest(typeUrl, state)];
    return [this.#delta({ typeUrl, resourceNamesSubscribe: [name] })];
  }

  /** Drops a subscription; returns what to send when a stream is up. */
  unsubscribe(typeUrl: string, name: string): OutgoingRequest[] {
    const state = this.#types.get(typeUrl);
    if (state === undefined) return [];
    if (name === WILDCARD) {
      if (!state.wildcard) return [];
      state.wildcard = false;
      for (const key of [...state.resources.keys()]) if (!state.names.has(key)) state.resources.delete(key);
    } else {
      if (!state.names.delete(name)) return [];
      if (!state.wildcard) state.resources.delete(name);
    }
    if (!this.#streaming || !state.requested) return [];
    if (this.mode === 'sotw') return [this.#initialOrFullRequest(typeUrl, state)];
    return [this.#delta({ typeUrl, resourceNamesUnsubscribe: [name] })];
  }

  /** A new stream is open: returns the first request of every subscribed type. */
  streamStarted(): OutgoingRequest[] {
    this.#streaming = true;
    this.#nodeSent = false;
    const out: OutgoingRequest[] = [];
    for (const [typeUrl, state] of this.#types) {
      state.nonce = '';
      state.requested = false;
      if (state.wildcard || state.names.size > 0) out.push(this.#initialOrFullRequest(typeUrl, state));
    }
    return out;
  }

  /** The stream ended: nonces are forgotten, the cache (last known good) stays. */
  streamEnded(): void {
    this.#streaming = false;
    for (const state of this.#types.values()) {
      state.nonce = '';
      state.requested = false;
    }
  }

  /** Handles a SotW response: accepts the valid resources, returns the ACK or NACK. */
  handleSotwResponse(response: DiscoveryResponse): ResponseOutcome {
    const type = this.#registry.get(response.typeUrl);
    const state = this.#types.get(response.typeUrl);
    if (type === undefined || state === undefined) {
      const error = new XdsClientError(
        'XDS_ERR_UNKNOWN_TYPE_URL',
        `response for type ${JSON.stringify(response.typeUrl)} that this client neither knows nor asked for`,
      );
      const nack = this.#sotw({
        typeUrl: response.typeUrl,
        responseNonce: response.nonce,
        errorDetail: { code: INVALID_ARGUMENT, message: error.message },
      });
      return {
        requests: [nack],
        events: [{ kind: 'nacked', typeUrl: response.typeUrl, nonce: response.nonce, errors: [error] }],
      };
    }
    state.nonce = response.nonce;
    const events = new EventLog(response.typeUrl);
    const errors: XdsClientError[] = [];
    const seen = new Set<string>();
    let namelessErrors = false;
    for (const any of response.resources) {
      const bytes = any.value;
      const result = this.#decode(response.typeUrl, any.typeUrl, bytes, 0, bytes.length);
      if (result.ok) {
        seen.add(result.name);
        if (!state.wildcard && !state.names.has(result.name)) continue;
        this.#accept(state, result.name, result.value, bytes, 0, bytes.length, response.versionInfo, events);
      } else {
        errors.push(result.error);
        if (result.name === undefined) namelessErrors = true;
        else {
          seen.add(result.name);
          this.#reject(state, result.name, result.error);
        }
      }
    }
    // A full-state type lists every resource: what is missing was deleted.
    // Skipped when a resource could not even be named, so a bad resource never
    // removes a good one.
    if (type.allResourcesRequiredInSotW && !namelessErrors) {
      for (const name of [...state.resources.keys()]) {
        if (!seen.has(name)) this.#remove(response.typeUrl, state, name, events);
      }
    }
    return this.#answerSotw(response, state, errors, events);
  }

  /** Handles a Delta response: accepts the valid resources and removals, returns the ACK or NACK. */
  handleDeltaResponse(response: DeltaDiscoveryResponse): ResponseOutcome {
    const state = this.#deltaTypeState(response.typeUrl);
    if (state === undefined) return this.#unknownDeltaType(response.typeUrl, response.nonce);
    state.nonce = response.nonce;
    const events = new EventLog(response.typeUrl);
    const errors: XdsClientError[] = [];
    for (const resource of response.resources) {
      const body = resource.resource;
      this.#deltaResource(
        response.typeUrl,
        state,
        resource.name,
        resource.version,
        body === null ? undefined : body.typeUrl,
        body === null ? undefined : body.value,
        0,
        body === null ? 0 : body.value.length,
        events,
        errors,
      );
    }
    return this.#deltaDone(
      response.typeUrl,
      state,
      response.nonce,
      response.removedResources,
      events,
      errors,
    );
  }

  /**
   * Handles a Delta response scanned by `scanDeltaDiscoveryResponse` (same
   * outcome as {@link AdsState.handleDeltaResponse} for the same bytes): each
   * resource is decoded and accepted as it is visited, so nothing of the
   * envelope stays alive per resource while a full sync is processed.
   */
  handleDeltaResponseScan(scan: DeltaDiscoveryResponseScan): ResponseOutcome {
    const typeUrl = scan.typeUrl;
    const state = this.#deltaTypeState(typeUrl);
    if (state === undefined) return this.#unknownDeltaType(typeUrl, scan.nonce);
    state.nonce = scan.nonce;
    const events = new EventLog(typeUrl);
    const errors: XdsClientError[] = [];
    scan.forEachResource((ref) => {
      this.#deltaResource(
        typeUrl,
        state,
        ref.name,
        ref.version,
        ref.hasBody ? ref.typeUrl : undefined,
        ref.hasBody ? ref.bytes : undefined,
        ref.start,
        ref.end,
        events,
        errors,
      );
    });
    return this.#deltaDone(typeUrl, state, scan.nonce, scan.removedResources, events, errors);
  }

  #deltaTypeState(typeUrl: string): TypeState | undefined {
    return this.#registry.get(typeUrl) === undefined ? undefined : this.#types.get(typeUrl);
  }

  #unknownDeltaType(typeUrl: string, nonce: string): ResponseOutcome {
    const error = new XdsClientError(
      'XDS_ERR_UNKNOWN_TYPE_URL',
      `response for type ${JSON.stringify(typeUrl)} that this client neither knows nor asked for`,
    );
    const nack = this.#delta({
      typeUrl,
      responseNonce: nonce,
      errorDetail: { code: INVALID_ARGUMENT, message: error.message },
    });
    return { requests: [nack], events: [{ kind: 'nacked', typeUrl, nonce, errors: [error] }] };
  }

  /**
   * One resource of a Delta response, its body `bytes[start, end)`;
   * `anyTypeUrl` and `bytes` are undefined when it carries no body.
   */
  #deltaResource(
    typeUrl: string,
    state: TypeState,
    name: string,
    version: string,
    anyTypeUrl: string | undefined,
    bytes: Uint8Array | undefined,
    start: number,
    end: number,
    events: EventLog,
    errors: XdsClientError[],
  ): void {
    if (anyTypeUrl === undefined || bytes === undefined) {
      const error = new XdsClientError('XDS_ERR_RESOURCE_INVALID', `resource ${name} carries no body`);
      errors.push(error);
      this.#reject(state, name, error);
      return;
    }
    const result = this.#decode(typeUrl, anyTypeUrl, bytes, start, end);
    if (result.ok) this.#accept(state, name, result.value, bytes, start, end, version, events);
    else {
      errors.push(result.error);
      this.#reject(state, name, result.error);
    }
  }

  #deltaDone(
    typeUrl: string,
    state: TypeState,
    nonce: string,
    removedResources: readonly string[],
    events: EventLog,
    errors: XdsClientError[],
  ): ResponseOutcome {
    for (const name of removedResources) this.#remove(typeUrl, state, name, events);
    const failed = errors.length > 0;
    const message = failed ? nackMessage(typeUrl, errors) : '';
    if (failed) events.push({ kind: 'nacked', typeUrl, nonce, errors });
    const answer = this.#delta({
      typeUrl,
      responseNonce: nonce,
      ...(failed ? { errorDetail: { code: INVALID_ARGUMENT, message } } : {}),
    });
    return events.outcome([answer]);
  }

  /** The status of one resource (`undefined` when neither subscribed nor received). */
  get(typeUrl: string, name: string): ResourceStatus | undefined {
    const entry = this.#types.get(typeUrl)?.resources.get(name);
    return entry === undefined ? undefined : statusOf(entry);
  }

  /** Every cached resource of a type with its status. */
  resources(typeUrl: string): Map<string, ResourceStatus> {
    const out = new Map<string, ResourceStatus>();
    for (const [name, entry] of this.#types.get(typeUrl)?.resources ?? []) out.set(name, statusOf(entry));
    return out;
  }

  /** The last accepted SotW version of a type (empty before the first ACK). */
  version(typeUrl: string): string {
    return this.#types.get(typeUrl)?.version ?? '';
  }

  #typeState(typeUrl: string): TypeState {
    let state = this.#types.get(typeUrl);
    if (state === undefined) {
      state = {
        wildcard: false,
        names: new Set(),
        resources: new Map(),
        version: '',
        nonce: '',
        requested: false,
      };
      this.#types.set(typeUrl, state);
    }
    return state;
  }

  /** Decodes `bytes[start, end)` with the type's decoder (in place when it has `decodeRange`). */
  #decode(typeUrl: string, anyTypeUrl: string, bytes: Uint8Array, start: number, end: number) {
    if (anyTypeUrl !== typeUrl) {
      return {
        ok: false as const,
        error: new XdsClientError(
          'XDS_ERR_RESOURCE_TYPE_MISMATCH',
          `resource of type ${anyTypeUrl} in a response for ${typeUrl}`,
        ),
      };
    }
    const length = end - start;
    if (length > this.#maxResourceBytes) {
      return {
        ok: false as const,
        error: new XdsClientError(
          'XDS_ERR_RESOURCE_TOO_LARGE',
          `resource of ${length} bytes exceeds the limit of ${this.#maxResourceBytes}`,
        ),
      };
    }
    const type = this.#registry.get(typeUrl)!;
    const result =
      type.decodeRange === undefined
        ? type.decode(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end))
        : type.decodeRange(bytes, start, end);
    if (result.ok) return result;
    const error = new XdsClientError('XDS_ERR_RESOURCE_INVALID', result.error.message, {
      cause: result.error,
    });
    return result.name === undefined
      ? { ok: false as const, error }
      : { ok: false as const, error, name: result.name };
  }

  #accept(
    state: TypeState,
    name: string,
    value: unknown,
    bytes: Uint8Array,
    start: number,
    end: number,
    version: string,
    events: EventLog,
  ): void {
    const entry = state.resources.get(name);
    if (
      entry !== undefined &&
      entry.state === 'acked' &&
      entry.rawBuffer !== undefined &&
      entry.rawLength === end - start &&
      Buffer.from(entry.rawBuffer, entry.rawOffset, entry.rawLength).equals(
        Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start),
      )
    ) {
      // A resend of the same bytes: the value stays (no event), the version is the new one.
      entry.version = version;
      return;
    }
    state.resources.set(
      name,
      cached('acked', value, version, '', bytes.buffer, bytes.byteOffset + start, end - start),
    );
    events.changed(name, value);
  }

  #reject(state: TypeState, name: string, error: XdsClientError): void {
    // The last good value (and its version) keeps serving.
    const entry = state.resources.get(name);
    const good = entry !== undefined && (entry.state === 'acked' || entry.state === 'nacked');
    state.resources.set(
      name,
      cached(
        'nacked',
        good ? entry.value : undefined,
        good ? entry.version : undefined,
        error.message,
        undefined,
        0,
        0,
      ),
    );
  }

  #remove(typeUrl: string, state: TypeState, name: string, events: EventLog): void {
    const entry = state.resources.get(name);
    const had = entry !== undefined && (entry.state === 'acked' || entry.state === 'nacked');
    if (state.names.has(name)) {
      if (entry?.state === 'does-not-exist') return;
      state.resources.set(name, cached('does-not-exist', undefined, undefined, '', undefined, 0, 0));
      events.push({ kind: 'removed', typeUrl, name });
    } else if (entry !== undefined) {
      state.resources.delete(name);
      if (had) events.push({ kind: 'removed', typeUrl, name });
    }
  }

  #answerSotw(
    response: DiscoveryResponse,
    state: TypeState,
    errors: XdsClientError[],
    events: EventLog,
  ): ResponseOutcome {
    if (errors.length === 0) {
      state.version = response.versionInfo;
      return events.outcome([this.#initialOrFullRequest(response.typeUrl, state)]);
    }
    events.push({ kind: 'nacked', typeUrl: response.typeUrl, nonce: response.nonce, errors });
    const nack = this.#sotw({
      typeUrl: response.typeUrl,
      versionInfo: state.version,
      resourceNames: sotwNames(state),
      responseNonce: response.nonce,
      errorDetail: { code: INVALID_ARGUMENT, message: nackMessage(response.typeUrl, errors) },
    });
    return events.outcome([nack]);
  }

  #initialOrFullRequest(typeUrl: string, state: TypeState): OutgoingRequest {
    const first = !state.requested;
    state.requested = true;
    if (this.mode === 'sotw') {
      return this.#sotw({
        typeUrl,
        versionInfo: state.version,
        resourceNames: sotwNames(state),
        responseNonce: state.nonce,
      });
    }
    if (!first) return this.#delta({ typeUrl, responseNonce: state.nonce });
    const initialResourceVersions: Record<string, string> = {};
    for (const [name, entry] of state.resources) {
      if ((entry.state === 'acked' || entry.state === 'nacked') && entry.version !== undefined)
        initialResourceVersions[name] = entry.version;
    }
    // A pure wildcard subscription sends no names (legacy wildcard, what
    // ztunnel does); with explicit names too, "*" is spelled out.
    const names = [...state.names];
    const subscribe = state.wildcard && names.length > 0 ? [WILDCARD, ...names] : names;
    return this.#delta({ typeUrl, resourceNamesSubscribe: subscribe, initialResourceVersions });
  }

  #sotw(message: DeepPartial<DiscoveryRequest>): OutgoingRequest {
    return { mode: 'sotw', message: this.#withNode(message) };
  }

  #delta(message: DeepPartial<DeltaDiscoveryRequest>): OutgoingRequest {
    return { mode: 'delta', message: this.#withNode(message) };
  }

  // The node goes in the first request of each stream only (xDS protocol).
  #withNode<M extends object>(message: M): M {
    if (this.#nodeSent) return message;
    this.#nodeSent = true;
    return { ...message, node: this.#node };
  }
}

function sotwNames(state: TypeState): string[] {
  const names = [...state.names];
  return state.wildcard && names.length > 0 ? [WILDCARD, ...names] : names;
}

function nackMessage(typeUrl: string, errors: readonly XdsClientError[]): string {
  const shown = errors.slice(0, 10).map((e) => `${e.code}: ${e.message}`);
  const more = errors.length > 10 ? `; and ${errors.length - 10} more` : '';
  return `${errors.length} invalid ${typeUrl} resource(s): ${shown.join('; ')}${more}`;
}
