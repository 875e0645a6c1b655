/**
 * ztunnel's side of the pod hand-off, sans-IO: which pods it serves, what
 * an Add/Keep/Del/SnapshotSent means for them, and how long to wait before
 * reconnecting to the node agent.
 *
 * Istio's ztunnel keeps serving its pods while the node agent is away; on
 * reconnect the agent replays every enrolled pod (Add or Keep) and then
 * SnapshotSent, and ztunnel drops only the pods the snapshot did not name.
 * An Add for a pod already served in the same network namespace is a no-op
 * (no listener is reopened, no connection dropped).
 */

/** What ztunnel should do with one Add (see {@link ZdsPodTable.decideAdd}). */
export type ZdsAddDecision =
  /** A pod it does not serve yet: open its listeners. */
  | { readonly action: 'serve' }
  /** Served, but in another network namespace (the sandbox was recreated): reopen in the new one. */
  | { readonly action: 'replace' }
  /** Served in this very namespace already: nothing to do (idempotent Add). */
  | { readonly action: 'unchanged' };

/** One pod ztunnel serves: the identity of its network namespace and what the caller attached to it. */
export interface ZdsPodEntry<T> {
  readonly uid: string;
  /** Identifies the netns (for example `dev:inode` of the nsfs file); equal identities = same namespace. */
  readonly netnsIdentity: string;
  readonly value: T;
}

/**
 * The pods ztunnel serves and the snapshot bookkeeping of the current agent
 * connection. Pure: the caller opens listeners and closes fds as told.
 *
 * @example
 * ```ts
 * const table = new ZdsPodTable<number>();
 * table.beginSession();
 * if (table.decideAdd('u1', '4:4026532').action !== 'unchanged') table.commitAdd('u1', '4:4026532', fd);
 * const stale = table.snapshotSent(); // pods to stop serving
 * ```
 */
export class ZdsPodTable<T> {
  private readonly pods = new Map<string, ZdsPodEntry<T>>();
  /** Pods named by the current connection before its SnapshotSent; undefined once the snapshot is complete. */
  private snapshot: Set<string> | undefined;

  /** A new agent connection: its snapshot starts. */
  beginSession(): void {
    this.snapshot = new Set();
  }

  /** True between {@link beginSession} and {@link snapshotSent}. */
  get inSnapshot(): boolean {
    return this.snapshot !== undefined;
  }

  /** What an Add for `uid` in the namespace `netnsIdentity` asks for. Marks the pod as named by the snapshot. */
  decideAdd(uid: string, netnsIdentity: string): ZdsAddDecision {
    this.snapshot?.add(uid);
    const current = this.pods.get(uid);
    if (!current) return { action: 'serve' };
    return current.netnsIdentity === netnsIdentity ? { action: 'unchanged' } : { action: 'replace' };
  }

  /** Records a pod as served (after its listeners opened). Returns the entry it replaced, if any. */
  commitAdd(uid: string, netnsIdentity: string, value: T): ZdsPodEntry<T> | undefined {
    this.snapshot?.add(uid);
    const previous = this.pods.get(uid);
    this.pods.set(uid, { uid, netnsIdentity, value });
    return previous;
  }

  /** Keep: the pod stays served if it is (the agent could not hand its netns over again). */
  keep(uid: string): void {
    this.snapshot?.add(uid);
  }

  /** Forgets a pod (Del, or a failed Add). Returns its entry when it was served. */
  remove(uid: string): ZdsPodEntry<T> | undefined {
    const entry = this.pods.get(uid);
    this.pods.delete(uid);
    return entry;
  }

  /**
   * End of the snapshot: every served pod it did not name is forgotten and
   * returned (stop serving them). Outside a snapshot, nothing is removed.
   */
  snapshotSent(): ZdsPodEntry<T>[] {
    const named = this.snapshot;
    this.snapshot = undefined;
    if (!named) return [];
    const stale: ZdsPodEntry<T>[] = [];
    for (const [uid, entry] of this.pods) {
      if (named.has(uid)) continue;
      this.pods.delete(uid);
      stale.push(entry);
    }
    return stale;
  }

  /** The served pods. */
  entries(): ZdsPodEntry<T>[] {
    return [...this.pods.values()];
  }

  /** The entry of one pod, if served. */
  get(uid: string): ZdsPodEntry<T> | undefined {
    return this.pods.get(uid);
  }
}

/** Reconnect backoff: the first delay, doubling up to the maximum. */
export interface ZdsBackoffOptions {
  /** Default 100 ms. */
  readonly initialMs?: number;
  /** Default 5000 ms. */
  readonly maxMs?: number;
}

/**
 * Delay before reconnect attempt `attempt` (0 = first retry): exponential
 * from `initialMs` doubling to `maxMs`, with "equal jitter" (half fixed,
 * half random) so the ztunnels of many nodes do not retry in lockstep.
 *
 * @param random a number in [0, 1) (inject for tests; default `Math.random()`)
 * @throws {RangeError} when attempt is negative or not an integer, or a delay option is not positive
 * @example
 * ```ts
 * zdsReconnectDelay(0, {}, 0.5); // 75 (ms: 50 fixed + 25 of jitter)
 * ```
 */
export function zdsReconnectDelay(
  attempt: number,
  options: ZdsBackoffOptions = {},
  random: number = Math.random(),
): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be ≥ 0, got ${attempt}`);
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 5_000;
  if (!(initial > 0) || !(max >= initial))
    throw new RangeError(`backoff needs 0 < initialMs ≤ maxMs, got ${initial} and ${max}`);
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 52));
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(Math.max(random, 0), 1));
}
