import type { PodRef, RedirectionStatus } from '@amesh/cni-redirect/node';

/** Options of {@link ControlPlaneStatusReporter}. */
export interface StatusReporterOptions {
  /** The control plane's HTTP base URL, e.g. `http://10.0.0.1:15014`. */
  readonly controlPlane: string;
  /** This node's bearer token (the same the ztunnel presents to the CA). */
  readonly token: string;
  /** First retry delay; doubles up to 5 s. Default 100 ms. */
  readonly retryDelayMs?: number;
  /**
   * Every this many ms, re-send every captured pod's status (the control
   * plane keeps statuses in memory: a restart forgets them). Default 30 000;
   * 0 turns the periodic resync off (the resync after an outage stays).
   */
  readonly resyncIntervalMs?: number;
  readonly log?: (line: string) => void;
}

type Wanted = RedirectionStatus | 'none';

interface PodReport {
  readonly ref: PodRef;
  wanted: Wanted;
  /** What the control plane acknowledged last. */
  sent: Wanted | undefined;
  /** Send `wanted` again even if acknowledged (a resync). */
  resend: boolean;
  running: boolean;
}

/**
 * Reports each pod's redirection status to the control plane
 * (`PUT /v1/namespaces/<ns>/pods/<name>/redirection` with `enabled` or
 * `pending`, `DELETE` when the pod is no longer captured). Reports for one
 * pod are sent in order and coalesced (only the latest status matters);
 * failures that may pass (unreachable, 404 because the control plane has
 * not seen the pod yet, 5xx) are retried with backoff; refusals (400, 401,
 * 403) are logged and dropped.
 *
 * A control plane without a state directory keeps these statuses in memory
 * only, so the reporter re-sends every captured pod's status (`enabled`/`pending`; removals are
 * not repeated) when the control plane answers again after a failed report,
 * and every `resyncIntervalMs` (a restart nobody noticed).
 *
 * @example
 * ```ts
 * const reporter = new ControlPlaneStatusReporter({ controlPlane: 'http://10.0.0.1:15014', token: 't1' });
 * const agent = await NodeAgent.start({ ..., reportStatus: (pod, status) => reporter.report(pod, status) });
 * ```
 */
export class ControlPlaneStatusReporter {
  readonly #options: StatusReporterOptions;
  readonly #pods = new Map<string, PodReport>();
  readonly #timers = new Map<NodeJS.Timeout, () => void>();
  readonly #idleWaiters: Array<() => void> = [];
  #closed = false;
  /** A report failed as retryable and none succeeded since: the next success triggers a resync. */
  #outage = false;
  readonly #resyncTimer: NodeJS.Timeout | undefined;

  constructor(options: StatusReporterOptions) {
    this.#options = options;
    const interval = options.resyncIntervalMs ?? 30_000;
    if (!Number.isFinite(interval) || interval < 0)
      throw new RangeError(`resyncIntervalMs must be ≥ 0, got ${interval}`);
    if (interval > 0) {
      this.#resyncTimer = setInterval(() => this.resync('periodic'), interval);
      this.#resyncTimer.unref();
    }
  }

  /**
   * Re-sends the status of every captured pod (removals are not repeated).
   * Called after an outage and periodically; call it when you know the control plane restarted.
   * @returns how many pods are re-sent
   */
  resync(reason = 'requested'): number {
    if (this.#closed) return 0;
    let count = 0;
    for (const entry of this.#pods.values()) {
      if (entry.wanted === 'none') continue;
      entry.resend = true;
      count += 1;
      if (!entry.running) void this.#drain(entry);
    }
    if (count > 0) this.#options.log?.(`status: resyncing ${count} pod(s) (${reason})`);
    return count;
  }

  /** Queues a status (`undefined`: not captured). Never throws; the node agent's `reportStatus` fits. */
  report(ref: PodRef, status: RedirectionStatus | undefined): void {
    if (this.#closed) return;
    const key = `${ref.namespace}/${ref.name}`;
    const wanted: Wanted = status ?? 'none';
    let entry = this.#pods.get(key);
    if (!entry) {
      entry = { ref, wanted, sent: undefined, resend: false, running: false };
      this.#pods.set(key, entry);
    }
    entry.wanted = wanted;
    if (!entry.running) void this.#drain(entry);
  }

  /** The last status the control plane accepted for a pod (`none`: annotation removed). */
  acknowledged(namespace: string, name: string): Wanted | undefined {
    return this.#pods.get(`${namespace}/${name}`)?.sent;
  }

  /** Resolves when every queued report was sent (or dropped). */
  whenIdle(): Promise<void> {
    if (![...this.#pods.values()].some((p) => p.running)) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops sending and retrying. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#resyncTimer);
    for (const [timer, wake] of this.#timers) {
      clearTimeout(timer);
      wake();
    }
    this.#timers.clear();
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  async #drain(entry: PodReport): Promise<void> {
    entry.running = true;
    let delay = this.#options.retryDelayMs ?? 100;
    while (!this.#closed && (entry.wanted !== entry.sent || entry.resend)) {
      const wanted = entry.wanted;
      entry.resend = false;
      const outcome = await this.#send(entry.ref, wanted);
      if (outcome === 'sent') {
        entry.sent = wanted;
        delay = this.#options.retryDelayMs ?? 100;
        if (this.#outage) {
          // The control plane answers again: it may have restarted and forgotten every status.
          this.#outage = false;
          this.resync('control plane reachable again');
          entry.resend = false; // this pod's status just went through
        }
      } else if (outcome === 'refused') {
        if (entry.wanted === wanted) break;
      } else {
        // Not for 404 (the control plane is up but has not seen the pod yet).
        if (outcome === 'unreachable') this.#outage = true;
        await this.#sleep(delay);
        delay = Math.min(delay * 2, 5_000);
      }
    }
    entry.running = false;
    if (![...this.#pods.values()].some((p) => p.running))
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  async #send(ref: PodRef, wanted: Wanted): Promise<'sent' | 'refused' | 'retry' | 'unreachable'> {
    const url = `${this.#options.controlPlane.replace(/\/$/, '')}/v1/namespaces/${encodeURIComponent(ref.namespace)}/pods/${encodeURIComponent(ref.name)}/redirection`;
    const what = `${ref.namespace}/${ref.name} ${wanted}`;
    try {
      const response = await fetch(url, {
        method: wanted === 'none' ? 'DELETE' : 'PUT',
        headers: { authorization: `Bearer ${this.#options.token}`, 'content-type': 'text/plain' },
        ...(wanted === 'none' ? {} : { body: wanted }),
        signal: AbortSignal.timeout(5_000),
      });
      const text = (await response.text()).trim();
      if (response.ok) {
        this.#options.log?.(`status: reported ${what}`);
        return 'sent';
      }
      const retry = response.status === 404 || response.status >= 500;
      this.#options.log?.(
        `status: control plane answered ${response.status} for ${what}${text ? `: ${text}` : ''}${retry ? ' (will retry)' : ''}`,
      );
      if (response.status >= 500) return 'unreachable';
      return retry ? 'retry' : 'refused';
    } catch (error) {
      this.#options.log?.(`status: cannot report ${what}: ${(error as Error).message} (will retry)`);
      return 'unreachable';
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.set(timer, resolve);
    });
  }
}
