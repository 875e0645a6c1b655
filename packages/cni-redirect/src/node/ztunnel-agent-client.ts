import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import type { ZdsRequest, ZdsWorkloadInfo } from '../zds-protocol.js';
import { type ZdsBackoffOptions, ZdsPodTable, zdsReconnectDelay } from '../zds-pod-table.js';
import { closeFds, type ZdsTransport } from './zds-channel.js';
import { type ZdsRequestContext, ZtunnelAgentConnection } from './ztunnel-agent-connection.js';

/** A pod the node agent handed to ztunnel. */
export interface ZtunnelPod {
  readonly uid: string;
  /**
   * Path of the pod's network namespace, for `listenInNetns` /
   * `connectSocketInNetns`. On SOCK_SEQPACKET it is `/proc/self/fd/<fd>` of
   * the netns fd the agent passed, which the client keeps open until the pod is stopped.
   */
  readonly netnsPath: string;
  readonly workloadInfo?: ZdsWorkloadInfo;
}

/**
 * What ztunnel does with the pods: {@link ZtunnelAgentClient} calls `serve`
 * for a new pod (or one whose namespace changed: then `serve` must replace
 * the old listeners) and `stop` for a pod it must no longer serve. A throw
 * from `serve` is acked to the agent as an error and the pod is not held.
 */
export interface ZtunnelPodHandler {
  serve(pod: ZtunnelPod): Promise<void> | void;
  stop(uid: string): Promise<void> | void;
}

/** Connection state of {@link ZtunnelAgentClient}. */
export type ZtunnelAgentClientState =
  | { readonly state: 'idle' }
  /** Dialling the agent; `attempt` counts consecutive failures before this one. */
  | { readonly state: 'connecting'; readonly attempt: number }
  /** Connected, receiving the snapshot (pods are still served). */
  | { readonly state: 'syncing' }
  /** Snapshot complete: pods the agent did not name were dropped. */
  | { readonly state: 'synced' }
  /** Not connected; the next attempt starts after `delayMs`. Pods stay served. */
  | {
      readonly state: 'backoff';
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: Error | undefined;
    }
  | { readonly state: 'closed' };

/** What happened to one pod (the `pod` event). */
export interface ZtunnelPodEvent {
  readonly uid: string;
  readonly change:
    | 'served'
    | 'replaced'
    /** A repeated Add (snapshot replay) for a pod already served in that namespace: nothing reopened. */
    | 'unchanged'
    | 'stopped'
    /** Dropped at SnapshotSent: the agent no longer knows it. */
    | 'stale'
    | 'failed';
  readonly error?: Error;
}

/** Events of {@link ZtunnelAgentClient}. */
export interface ZtunnelAgentClientEvents {
  state: [ZtunnelAgentClientState];
  pod: [ZtunnelPodEvent];
}

/** Options of {@link ZtunnelAgentClient}. */
export interface ZtunnelAgentClientOptions {
  /** The node agent's socket (Istio: `/var/run/ztunnel/ztunnel.sock`). */
  readonly socketPath: string;
  /** Default `seqpacket` (Istio's: netns fd in SCM_RIGHTS); `stream` for the length-prefixed transport. Must match the agent's. */
  readonly transport?: ZdsTransport;
  readonly handler: ZtunnelPodHandler;
  /** Reconnect backoff; default 100 ms doubling to 5 s, jittered. */
  readonly backoff?: ZdsBackoffOptions;
  /** Per attempt; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Random source for the jitter, in [0, 1). */
  readonly random?: () => number;
}

/** The namespace identity used to tell a repeated Add from a moved pod: `dev:inode` of the nsfs file. */
async function netnsIdentity(path: string): Promise<string> {
  try {
    const info = await stat(path, { bigint: true });
    return `${info.dev}:${info.ino}`;
  } catch {
    return `path:${path}`;
  }
}

/**
 * ztunnel's supervised connection to the node agent. It keeps dialling the
 * agent's socket (jittered exponential backoff) while the agent is absent,
 * at start or after it went away, and keeps every pod served meanwhile. On
 * each (re)connect the agent replays its pods: Adds for pods already served
 * in the same namespace change nothing, and SnapshotSent drops the pods the
 * agent did not name (deleted while ztunnel was disconnected).
 *
 * @example
 * ```ts
 * const agent = new ZtunnelAgentClient({
 *   socketPath: '/run/amesh/ztunnel.sock',
 *   handler: { serve: (pod) => openListeners(pod.uid, pod.netnsPath), stop: (uid) => closeListeners(uid) },
 * });
 * agent.on('state', (s) => console.log('node agent', s.state));
 * agent.start();
 * // ... on shutdown:
 * await agent.close();
 * ```
 */
export class ZtunnelAgentClient extends EventEmitter<ZtunnelAgentClientEvents> {
  readonly #options: ZtunnelAgentClientOptions;
  /** Each served pod and, on SOCK_SEQPACKET, the netns fd its path points at. */
  readonly #table = new ZdsPodTable<{ readonly pod: ZtunnelPod; readonly fd: number | undefined }>();
  #state: ZtunnelAgentClientState = { state: 'idle' };
  #connection: ZtunnelAgentConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wakeTimer: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** Counts connections, so a request of an ended one cannot touch the next one's snapshot. */
  #generation = 0;

  constructor(options: ZtunnelAgentClientOptions) {
    super();
    this.#options = options;
  }

  /** The current connection state. */
  get state(): ZtunnelAgentClientState {
    return this.#state;
  }

  /** The pods served now. */
  pods(): ZtunnelPod[] {
    return this.#table.entries().map((e) => e.value.pod);
  }

  /** Starts connecting (returns at once; watch the `state` event). Calling it again does nothing. */
  start(): void {
    if (this.#state.state !== 'idle') return;
    this.#loop = this.#run();
  }

  /** Resolves the next time the state is `synced` (at once if it is). Rejects if the client closes first. */
  whenSynced(): Promise<void> {
    if (this.#state.state === 'synced') return Promise.resolve();
    if (this.#state.state === 'closed') return Promise.reject(new Error('ztunnel agent client closed'));
    return new Promise((resolve, reject) => {
      const onState = (s: ZtunnelAgentClientState): void => {
        if (s.state === 'synced') {
          this.off('state', onState);
          resolve();
        } else if (s.state === 'closed') {
          this.off('state', onState);
          reject(new Error('ztunnel agent client closed'));
        }
      };
      this.on('state', onState);
    });
  }

  /**
   * Stops reconnecting and closes the connection. Pods stay served (ztunnel
   * stops them itself on shutdown); `pods()` still lists them, and their
   * netns fds stay open (their paths stay valid) until {@link releasePods}.
   */
  async close(): Promise<void> {
    if (this.#state.state === 'closed') return;
    this.#setState({ state: 'closed' });
    if (this.#timer) clearTimeout(this.#timer);
    this.#wakeTimer?.();
    this.#connection?.close();
    await this.#loop;
  }

  /** After {@link close}: forgets every pod and closes the netns fds it holds (call once the pods are stopped). */
  releasePods(): void {
    for (const entry of this.#table.entries()) {
      this.#table.remove(entry.uid);
      if (entry.value.fd !== undefined) closeFds([entry.value.fd]);
    }
  }

  #setState(state: ZtunnelAgentClientState): void {
    if (this.#state.state === 'closed') return;
    this.#state = state;
    this.emit('state', state);
  }

  get #closed(): boolean {
    return this.#state.state === 'closed';
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      this.#setState({ state: 'connecting', attempt });
      let error: Error | undefined;
      const generation = this.#generation + 1;
      try {
        const connection = await ZtunnelAgentConnection.connect(
          this.#options.socketPath,
          (request, context) => this.#handle(request, context, generation),
          {
            connectTimeoutMs: this.#options.connectTimeoutMs ?? 5_000,
            ...(this.#options.transport ? { transport: this.#options.transport } : {}),
          },
        );
        if (this.#closed) {
          connection.close();
          break;
        }
        this.#connection = connection;
        this.#generation = generation;
        this.#table.beginSession();
        this.#setState({ state: 'syncing' });
        attempt = 0;
        error = await connection.closed;
        this.#connection = undefined;
      } catch (cause) {
        error = cause as Error;
      }
      if (this.#closed) break;
      const delayMs = zdsReconnectDelay(attempt, this.#options.backoff, this.#options.random?.());
      this.#setState({ state: 'backoff', attempt, delayMs, error });
      attempt += 1;
      await new Promise<void>((resolve) => {
        this.#wakeTimer = resolve;
        this.#timer = setTimeout(resolve, delayMs);
      });
      this.#timer = undefined;
      this.#wakeTimer = undefined;
    }
  }

  async #handle(request: ZdsRequest, context: ZdsRequestContext, generation: number): Promise<void> {
    switch (request.type) {
      case 'add': {
        // A throw from here on: the connection closes the fd that came with the Add.
        const identity = await netnsIdentity(request.netnsPath);
        if (generation !== this.#generation) throw new Error('connection to the node agent replaced');
        const decision = this.#table.decideAdd(request.uid, identity);
        if (decision.action === 'unchanged') {
          if (context.netnsFd !== undefined) closeFds([context.netnsFd]);
          this.emit('pod', { uid: request.uid, change: 'unchanged' });
          return;
        }
        const pod: ZtunnelPod = {
          uid: request.uid,
          netnsPath: request.netnsPath,
          ...(request.workloadInfo ? { workloadInfo: request.workloadInfo } : {}),
        };
        try {
          await this.#options.handler.serve(pod);
        } catch (error) {
          const old = this.#table.remove(request.uid);
          if (old?.value.fd !== undefined) closeFds([old.value.fd]);
          this.emit('pod', { uid: request.uid, change: 'failed', error: error as Error });
          throw error;
        }
        const replaced = this.#table.commitAdd(request.uid, identity, { pod, fd: context.netnsFd });
        if (replaced?.value.fd !== undefined) closeFds([replaced.value.fd]);
        this.emit('pod', { uid: request.uid, change: decision.action === 'serve' ? 'served' : 'replaced' });
        return;
      }
      case 'keep':
        this.#table.keep(request.uid);
        return;
      case 'del': {
        const entry = this.#table.remove(request.uid);
        if (entry) await this.#stop(request.uid, 'stopped', entry.value.fd);
        return;
      }
      case 'snapshot-sent': {
        for (const entry of this.#table.snapshotSent()) await this.#stop(entry.uid, 'stale', entry.value.fd);
        this.#setState({ state: 'synced' });
        return;
      }
    }
  }

  async #stop(uid: string, change: 'stopped' | 'stale', fd: number | undefined): Promise<void> {
    try {
      await this.#options.handler.stop(uid);
      this.emit('pod', { uid, change });
    } catch (error) {
      this.emit('pod', { uid, change: 'failed', error: error as Error });
      throw error;
    } finally {
      if (fd !== undefined) closeFds([fd]);
    }
  }
}
