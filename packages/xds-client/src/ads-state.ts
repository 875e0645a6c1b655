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

interface CachedResource {
  status: ResourceStatus;
  /**
   * Where the raw bytes of the accepted value are (a range of the response
   * they came in), to tell a real change from a resend. A range, not a
   * Uint8Array view: one view per resource is ~90 bytes of heap for the
   * garbage collector to copy, times every resource of a full sync.
   */
  rawBuffer: ArrayBufferLike | undefined;
  rawOffset: number;
  rawLength: number;
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

const NO_RAW = { rawBuffer: undefined, rawOffset: 0, rawLength: 0 } as const;

/** Google RPC code INVALID_ARGUMENT, used in NACK error details. */
const INVALID_ARGUMENT = 3;

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
        state.resources.set(name, { status: { state: 'requested' }, ...NO_RAW });
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
    const events: AdsEvent[] = [];
    const errors: XdsClientError[] = [];
    const seen = new Set<string>();
    let namelessErrors = false;
    for (const any of response.resources) {
      const bytes = any.value;
      const result = this.#decode(response.typeUrl, any.typeUrl, bytes, 0, bytes.length);
      if (result.ok) {
        seen.add(result.name);
        if (!state.wildcard && !state.names.has(result.name)) continue;
        this.#accept(
          response.typeUrl,
          state,
          result.name,
          result.value,
          bytes,
          0,
          bytes.length,
          response.versionInfo,
          events,
        );
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
    const events: AdsEvent[] = [];
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
    const events: AdsEvent[] = [];
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
    events: AdsEvent[],
    errors: XdsClientError[],
  ): void {
    if (anyTypeUrl === undefined || bytes === undefined) {
      const error = new XdsClientError('XDS_ERR_RESOURCE_INVALID', `resource ${name} carries no body`);
      errors.push(error);
      this.#reject(state, name, error);
      return;
    }
    const result = this.#decode(typeUrl, anyTypeUrl, bytes, start, end);
    if (result.ok) this.#accept(typeUrl, state, name, result.value, bytes, start, end, version, events);
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
    events: AdsEvent[],
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
    return { requests: [answer], events };
  }

  /** The status of one resource (`undefined` when neither subscribed nor received). */
  get(typeUrl: string, name: string): ResourceStatus | undefined {
    return this.#types.get(typeUrl)?.resources.get(name)?.status;
  }

  /** Every cached resource of a type with its status. */
  resources(typeUrl: string): Map<string, ResourceStatus> {
    const out = new Map<string, ResourceStatus>();
    for (const [name, cached] of this.#types.get(typeUrl)?.resources ?? []) out.set(name, cached.status);
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
    typeUrl: string,
    state: TypeState,
    name: string,
    value: unknown,
    bytes: Uint8Array,
    start: number,
    end: number,
    version: string,
    events: AdsEvent[],
  ): void {
    const cached = state.resources.get(name);
    const unchanged =
      cached?.status.state === 'acked' &&
      cached.rawBuffer !== undefined &&
      cached.rawLength === end - start &&
      Buffer.from(cached.rawBuffer, cached.rawOffset, cached.rawLength).equals(
        Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start),
      );
    if (unchanged) {
      cached.status = {
        state: 'acked',
        value: cached.status.state === 'acked' ? cached.status.value : value,
        version,
      };
      return;
    }
    state.resources.set(name, {
      status: { state: 'acked', value, version },
      rawBuffer: bytes.buffer,
      rawOffset: bytes.byteOffset + start,
      rawLength: end - start,
    });
    events.push({ kind: 'changed', typeUrl, name, value });
  }

  #reject(state: TypeState, name: string, error: XdsClientError): void {
    const cached = state.resources.get(name);
    const status = cached?.status;
    const lastGood =
      status?.state === 'acked'
        ? { value: status.value, version: status.version }
        : status?.state === 'nacked'
          ? { value: status.value, version: status.version }
          : { value: undefined, version: undefined };
    state.resources.set(name, {
      status: { state: 'nacked', error: error.message, ...lastGood },
      rawBuffer: cached?.rawBuffer,
      rawOffset: cached?.rawOffset ?? 0,
      rawLength: cached?.rawLength ?? 0,
    });
  }

  #remove(typeUrl: string, state: TypeState, name: string, events: AdsEvent[]): void {
    const cached = state.resources.get(name);
    const had = cached !== undefined && (cached.status.state === 'acked' || cached.status.state === 'nacked');
    if (state.names.has(name)) {
      if (cached?.status.state === 'does-not-exist') return;
      state.resources.set(name, { status: { state: 'does-not-exist' }, ...NO_RAW });
      events.push({ kind: 'removed', typeUrl, name });
    } else if (cached !== undefined) {
      state.resources.delete(name);
      if (had) events.push({ kind: 'removed', typeUrl, name });
    }
  }

  #answerSotw(
    response: DiscoveryResponse,
    state: TypeState,
    errors: XdsClientError[],
    events: AdsEvent[],
  ): ResponseOutcome {
    if (errors.length === 0) {
      state.version = response.versionInfo;
      return { requests: [this.#initialOrFullRequest(response.typeUrl, state)], events };
    }
    events.push({ kind: 'nacked', typeUrl: response.typeUrl, nonce: response.nonce, errors });
    const nack = this.#sotw({
      typeUrl: response.typeUrl,
      versionInfo: state.version,
      resourceNames: sotwNames(state),
      responseNonce: response.nonce,
      errorDetail: { code: INVALID_ARGUMENT, message: nackMessage(response.typeUrl, errors) },
    });
    return { requests: [nack], events };
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
    for (const [name, cached] of state.resources) {
      const status = cached.status;
      if (status.state === 'acked') initialResourceVersions[name] = status.version;
      else if (status.state === 'nacked' && status.version !== undefined)
        initialResourceVersions[name] = status.version;
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
