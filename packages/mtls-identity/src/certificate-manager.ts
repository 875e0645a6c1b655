import { equalBytes } from './asn1.js';
import { DEFAULT_TTL_SECONDS } from './ca.js';
import { type CertificateInfo, parseCertificate, verifyCertificateChain } from './certificate.js';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import { buildCsr } from './csr.js';
import { IdentityError } from './errors.js';
import { type EcdsaP256, exportPrivateKeyPem, nobleEcdsaP256, type P256Key } from './keys.js';
import { type SpiffeId, toSpiffeId } from './spiffe-id.js';

/** Why a certificate is wanted; higher priorities are served first. */
export type FetchPriority = 'needed-now' | 'prefetch' | 'background';

const PRIORITY_RANK: Readonly<Record<FetchPriority, number>> = {
  'needed-now': 0,
  prefetch: 1,
  background: 2,
};

/** A request the manager sends to the CA. */
export interface CaClientRequest {
  /** The identity the certificate is for (a node agent asks on its pods' behalf). */
  readonly identity: SpiffeId;
  /** PEM CSR signed by the new key. */
  readonly csrPem: string;
  readonly ttlSeconds: number;
}

/**
 * How the manager reaches a CA. `@amesh/mtls-identity/node` has a gRPC
 * client for Istio's CA API; tests can call a {@link CertificateAuthority}
 * directly.
 */
export interface CaClient {
  /** Returns the PEM chain, leaf first. Rejects on any failure. */
  createCertificate(request: CaClientRequest): Promise<readonly string[]>;
}

/** A workload certificate and its key, ready for TLS. */
export interface WorkloadCertificate {
  readonly identity: SpiffeId;
  readonly key: P256Key;
  /** PKCS#8 PEM of {@link WorkloadCertificate.key}. */
  readonly privateKeyPem: string;
  /** PEM chain, leaf first. */
  readonly chain: readonly string[];
  /** Trusted roots (PEM) to verify peers with. */
  readonly roots: readonly string[];
  readonly leaf: CertificateInfo;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Where one identity's certificate stands. */
export type CertificateState =
  | { readonly status: 'idle'; readonly certificate: WorkloadCertificate | undefined }
  | {
      readonly status: 'queued';
      readonly priority: FetchPriority;
      readonly certificate: WorkloadCertificate | undefined;
    }
  | {
      readonly status: 'fetching';
      readonly priority: FetchPriority;
      readonly certificate: WorkloadCertificate | undefined;
    }
  | { readonly status: 'ready'; readonly certificate: WorkloadCertificate; readonly refreshAt: number }
  | {
      readonly status: 'backoff';
      readonly certificate: WorkloadCertificate | undefined;
      readonly attempt: number;
      readonly retryAt: number;
      readonly error: IdentityError;
    };

/** Events the manager emits. */
export interface CertificateManagerEvents {
  /** A new certificate is in place (first issue or refresh). Rebuild TLS contexts; open connections keep theirs. */
  rotated: {
    readonly identity: SpiffeId;
    readonly certificate: WorkloadCertificate;
    readonly previous: WorkloadCertificate | undefined;
  };
  /** A fetch failed; it will be retried after `retryInMs`. */
  error: {
    readonly identity: SpiffeId;
    readonly error: IdentityError;
    readonly attempt: number;
    readonly retryInMs: number;
  };
  /** A certificate expired before a refresh succeeded; it is no longer served. */
  expired: { readonly identity: SpiffeId; readonly certificate: WorkloadCertificate };
}

/** Options of {@link CertificateManager}. */
export interface CertificateManagerOptions {
  readonly caClient: CaClient;
  /** Requested lifetime. Default 24 h. */
  readonly ttlSeconds?: number;
  /** Roots to verify issued chains against and to trust peers with; default: the last certificate of each chain. */
  readonly roots?: readonly string[];
  /** Most fetches in flight at once. Default 8. */
  readonly concurrency?: number;
  /** First retry delay. Default 500 ms; doubles per failure. */
  readonly initialBackoffMs?: number;
  /** Longest retry delay. Default 150 s. */
  readonly maxBackoffMs?: number;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  readonly random?: () => number;
  readonly clock?: Clock;
  readonly ecdsa?: EcdsaP256;
}

interface Waiter {
  resolve(certificate: WorkloadCertificate): void;
  reject(error: IdentityError): void;
}

interface Entry {
  readonly identity: SpiffeId;
  state: CertificateState;
  waiters: Waiter[];
  timer: TimerHandle | undefined;
  expiryTimer: TimerHandle | undefined;
  attempt: number;
  /** Bumped on forget, so late results of an old fetch are dropped. */
  generation: number;
  queuedAt: number;
}

type Listener<E extends keyof CertificateManagerEvents> = (event: CertificateManagerEvents[E]) => void;

/**
 * Holds one certificate per identity, fetched through a {@link CaClient}:
 * refreshes at half-life, retries failures with exponential backoff (500 ms
 * doubling, ±10 % jitter, at most 150 s) while keeping the old certificate
 * until it expires, and serves `needed-now` before `prefetch` before
 * `background` with at most 8 fetches in flight. Sans-IO: the clock is
 * injected.
 *
 * @example
 * ```ts
 * const manager = new CertificateManager({ caClient });
 * manager.on('rotated', ({ identity }) => console.log('new certificate for', identity.uri));
 * const cert = await manager.fetch('spiffe://cluster.local/ns/default/sa/web');
 * ```
 */
export class CertificateManager {
  readonly #options: CertificateManagerOptions;
  readonly #clock: Clock;
  readonly #ecdsa: EcdsaP256;
  readonly #entries = new Map<string, Entry>();
  readonly #queue: Entry[] = [];
  readonly #listeners: { [E in keyof CertificateManagerEvents]: Set<Listener<E>> } = {
    rotated: new Set(),
    error: new Set(),
    expired: new Set(),
  };
  #roots: readonly string[] | undefined;
  #inFlight = 0;
  #closed = false;
  #sequence = 0;

  /** @throws {RangeError} for a non-positive concurrency or TTL */
  constructor(options: CertificateManagerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#ecdsa = options.ecdsa ?? nobleEcdsaP256;
    this.#roots = options.roots;
    if (this.#concurrency < 1) throw new RangeError('concurrency must be at least 1');
    if (!(this.#ttlSeconds > 0)) throw new RangeError('ttlSeconds must be positive');
  }

  get #concurrency(): number {
    return this.#options.concurrency ?? 8;
  }

  get #ttlSeconds(): number {
    return this.#options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<E extends keyof CertificateManagerEvents>(event: E, listener: Listener<E>): () => void {
    const set = this.#listeners[event] as Set<Listener<E>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * The certificate for `identity`, fetching it if needed. Resolves at once
   * with a valid certificate when one is held; otherwise joins the fetch in
   * flight, or queues one at `priority` (raising a queued fetch's priority).
   * While an identity is backing off after a failure, waits for the next
   * attempt (as ztunnel does) instead of hammering the CA.
   * @throws {IdentityError} `IDENTITY_ERR_CA_UNAVAILABLE` (or the CA's error) when the fetch fails (retries continue in the background), `IDENTITY_ERR_CLOSED`
   */
  fetch(identity: SpiffeId | string, priority: FetchPriority = 'needed-now'): Promise<WorkloadCertificate> {
    if (this.#closed) return Promise.reject(closedError());
    const id = toSpiffeId(identity);
    const current = this.get(id);
    const entry = this.#entryFor(id);
    if (current) return Promise.resolve(current);
    return new Promise((resolve, reject) => {
      entry.waiters.push({ resolve, reject });
      this.#request(entry, priority);
    });
  }

  /** Starts fetching `identity` at low priority, ahead of need. Errors are reported through the `error` event. */
  prefetch(identity: SpiffeId | string): void {
    this.fetch(identity, 'prefetch').catch(() => {});
  }

  /** The valid certificate held for `identity`, if any (never an expired one). */
  get(identity: SpiffeId | string): WorkloadCertificate | undefined {
    const entry = this.#entries.get(toSpiffeId(identity).uri);
    const certificate = entry?.state.certificate;
    if (!certificate) return undefined;
    const now = this.#clock.now();
    return now < certificate.notAfter.getTime() ? certificate : undefined;
  }

  /** Where `identity`'s certificate stands, or undefined when unknown. */
  state(identity: SpiffeId | string): CertificateState | undefined {
    return this.#entries.get(toSpiffeId(identity).uri)?.state;
  }

  /** Every identity the manager holds or is fetching. */
  identities(): SpiffeId[] {
    return [...this.#entries.values()].map((e) => e.identity);
  }

  /**
   * Replaces the trust bundle (root rotation: publish old and new roots
   * together). Every held certificate is re-emitted as a new object with the
   * new roots through `rotated`, so TLS contexts are rebuilt for new
   * connections; open connections are untouched.
   */
  setRoots(roots: readonly string[]): void {
    if (roots.length === 0) throw new RangeError('roots must not be empty');
    this.#roots = [...roots];
    for (const entry of this.#entries.values()) {
      const previous = entry.state.certificate;
      if (!previous) continue;
      const certificate: WorkloadCertificate = { ...previous, roots: [...roots] };
      entry.state = { ...entry.state, certificate } as CertificateState;
      this.#emit('rotated', { identity: entry.identity, certificate, previous });
    }
  }

  /** Drops `identity` (its last pod left the node): timers stop, waiters reject with `IDENTITY_ERR_CLOSED`. */
  forget(identity: SpiffeId | string): void {
    const entry = this.#entries.get(toSpiffeId(identity).uri);
    if (!entry) return;
    this.#entries.delete(entry.identity.uri);
    entry.generation++;
    this.#clearTimers(entry);
    const index = this.#queue.indexOf(entry);
    if (index !== -1) this.#queue.splice(index, 1);
    const waiters = entry.waiters.splice(0);
    for (const waiter of waiters) waiter.reject(closedError());
  }

  /** Stops every timer and rejects pending waiters. */
  close(): void {
    if (this.#closed) return;
    for (const entry of [...this.#entries.values()]) this.forget(entry.identity);
    this.#closed = true;
  }

  #entryFor(identity: SpiffeId): Entry {
    let entry = this.#entries.get(identity.uri);
    if (!entry) {
      entry = {
        identity,
        state: { status: 'idle', certificate: undefined },
        waiters: [],
        timer: undefined,
        expiryTimer: undefined,
        attempt: 0,
        generation: 0,
        queuedAt: 0,
      };
      this.#entries.set(identity.uri, entry);
    }
    return entry;
  }

  /** Queues a fetch for `entry` unless one is queued or running; upgrades the priority when higher. */
  #request(entry: Entry, priority: FetchPriority): void {
    const state = entry.state;
    if (state.status === 'fetching') {
      if (PRIORITY_RANK[priority] < PRIORITY_RANK[state.priority]) entry.state = { ...state, priority };
      return;
    }
    if (state.status === 'queued') {
      if (PRIORITY_RANK[priority] < PRIORITY_RANK[state.priority]) entry.state = { ...state, priority };
      this.#pump();
      return;
    }
    if (state.status === 'backoff') {
      // A retry is already scheduled; the waiter is served by it.
      return;
    }
    if (entry.timer) this.#clock.clearTimer(entry.timer);
    entry.timer = undefined;
    entry.state = { status: 'queued', priority, certificate: state.certificate };
    entry.queuedAt = this.#sequence++;
    this.#queue.push(entry);
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      let best = 0;
      for (let i = 1; i < this.#queue.length; i++) {
        const a = this.#queue[i]!;
        const b = this.#queue[best]!;
        const rankA = PRIORITY_RANK[(a.state as { priority: FetchPriority }).priority];
        const rankB = PRIORITY_RANK[(b.state as { priority: FetchPriority }).priority];
        if (rankA < rankB || (rankA === rankB && a.queuedAt < b.queuedAt)) best = i;
      }
      const entry = this.#queue.splice(best, 1)[0]!;
      void this.#run(entry);
    }
  }

  async #run(entry: Entry): Promise<void> {
    const state = entry.state as Extract<CertificateState, { status: 'queued' }>;
    entry.state = { status: 'fetching', priority: state.priority, certificate: state.certificate };
    const generation = entry.generation;
    const startedAt = this.#clock.now();
    this.#inFlight++;
    let result: WorkloadCertificate | IdentityError;
    try {
      result = await this.#fetchOnce(entry.identity);
    } catch (cause) {
      result =
        cause instanceof IdentityError
          ? cause
          : new IdentityError(
              'IDENTITY_ERR_CA_UNAVAILABLE',
              `certificate fetch for ${entry.identity.uri} failed`,
              { cause },
            );
    } finally {
      this.#inFlight--;
    }
    if (generation === entry.generation && !this.#closed) {
      if (result instanceof IdentityError) this.#failed(entry, result);
      else this.#succeeded(entry, result, startedAt);
    }
    this.#pump();
  }

  async #fetchOnce(identity: SpiffeId): Promise<WorkloadCertificate> {
    const key = this.#ecdsa.generateKey();
    const csr = buildCsr({ identity, key, ecdsa: this.#ecdsa });
    const chain = await this.#options.caClient.createCertificate({
      identity,
      csrPem: csr.pem,
      ttlSeconds: this.#ttlSeconds,
    });
    if (chain.length === 0) {
      throw new IdentityError('IDENTITY_ERR_CERT_INVALID', 'the CA returned an empty chain', {
        rule: 'empty',
      });
    }
    const leaf = parseCertificate(chain[0]!);
    if (!equalBytes(leaf.publicKey, key.publicKey)) {
      throw new IdentityError(
        'IDENTITY_ERR_CERT_INVALID',
        'the issued certificate is not for the requested key',
        {
          rule: 'key-mismatch',
        },
      );
    }
    if (leaf.identity?.uri !== identity.uri) {
      throw new IdentityError(
        'IDENTITY_ERR_CERT_INVALID',
        `the issued certificate is for ${leaf.uris.join(', ') || 'no URI'}, not ${identity.uri}`,
        { rule: 'identity-mismatch' },
      );
    }
    const roots = this.#roots ?? [chain[chain.length - 1]!];
    verifyCertificateChain(chain, { roots, now: this.#clock.now(), ecdsa: this.#ecdsa });
    return {
      identity,
      key,
      privateKeyPem: exportPrivateKeyPem(key),
      chain: [...chain],
      roots: [...roots],
      leaf,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
    };
  }

  #succeeded(entry: Entry, certificate: WorkloadCertificate, startedAt: number): void {
    const previous = entry.state.certificate;
    this.#clearTimers(entry);
    entry.attempt = 0;
    const issuedAt = Math.max(startedAt, certificate.notBefore.getTime());
    const refreshAt = issuedAt + (certificate.notAfter.getTime() - issuedAt) / 2;
    entry.state = { status: 'ready', certificate, refreshAt };
    entry.timer = this.#clock.setTimer(refreshAt - this.#clock.now(), () => {
      entry.timer = undefined;
      if (entry.state.status === 'ready') {
        entry.state = { status: 'idle', certificate: entry.state.certificate };
        this.#request(entry, 'background');
      }
    });
    entry.expiryTimer = this.#clock.setTimer(certificate.notAfter.getTime() - this.#clock.now(), () =>
      this.#expire(entry, certificate),
    );
    const waiters = entry.waiters.splice(0);
    for (const waiter of waiters) waiter.resolve(certificate);
    this.#emit('rotated', { identity: entry.identity, certificate, previous });
  }

  #failed(entry: Entry, error: IdentityError): void {
    entry.attempt++;
    const initial = this.#options.initialBackoffMs ?? 500;
    const max = this.#options.maxBackoffMs ?? 150_000;
    const base = Math.min(max, initial * 2 ** (entry.attempt - 1));
    const jitter = 0.9 + 0.2 * (this.#options.random ?? Math.random)();
    const retryInMs = Math.min(max, Math.round(base * jitter));
    const certificate = entry.state.certificate;
    entry.state = {
      status: 'backoff',
      certificate,
      attempt: entry.attempt,
      retryAt: this.#clock.now() + retryInMs,
      error,
    };
    if (entry.timer) this.#clock.clearTimer(entry.timer);
    entry.timer = this.#clock.setTimer(retryInMs, () => {
      entry.timer = undefined;
      if (entry.state.status !== 'backoff') return;
      const priority: FetchPriority =
        entry.waiters.length > 0 ? 'needed-now' : entry.state.certificate ? 'background' : 'prefetch';
      entry.state = { status: 'queued', priority, certificate: entry.state.certificate };
      entry.queuedAt = this.#sequence++;
      this.#queue.push(entry);
      this.#pump();
    });
    const waiters = entry.waiters.splice(0);
    for (const waiter of waiters) waiter.reject(error);
    this.#emit('error', { identity: entry.identity, error, attempt: entry.attempt, retryInMs });
  }

  #expire(entry: Entry, certificate: WorkloadCertificate): void {
    entry.expiryTimer = undefined;
    // Compare leaves: setRoots() re-wraps the same certificate in a new object.
    if (entry.state.certificate?.leaf !== certificate.leaf) return;
    switch (entry.state.status) {
      case 'idle':
      case 'queued':
      case 'fetching':
      case 'backoff':
        entry.state = { ...entry.state, certificate: undefined };
        break;
      case 'ready':
        // Refresh timer should have fired first; treat as a failed refresh.
        entry.state = { status: 'idle', certificate: undefined };
        this.#request(entry, 'needed-now');
        break;
    }
    this.#emit('expired', { identity: entry.identity, certificate });
  }

  #clearTimers(entry: Entry): void {
    if (entry.timer) this.#clock.clearTimer(entry.timer);
    if (entry.expiryTimer) this.#clock.clearTimer(entry.expiryTimer);
    entry.timer = undefined;
    entry.expiryTimer = undefined;
  }

  #emit<E extends keyof CertificateManagerEvents>(event: E, payload: CertificateManagerEvents[E]): void {
    for (const listener of this.#listeners[event] as Set<Listener<E>>) {
      try {
        listener(payload);
      } catch {
        // A listener's failure must not break rotation for the others.
      }
    }
  }
}

function closedError(): IdentityError<'IDENTITY_ERR_CLOSED'> {
  return new IdentityError(
    'IDENTITY_ERR_CLOSED',
    'the certificate manager dropped this identity or was closed',
  );
}
