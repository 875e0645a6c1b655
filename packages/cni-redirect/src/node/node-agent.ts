import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';
import {
  type CniAgentRequest,
  type CniAgentResponse,
  CNI_AGENT_MAX_LINE,
  encodeCniAgentMessage,
  parseCniAgentRequest,
} from '../cni-agent-protocol.js';
import { decideEnrolment } from '../enrolment.js';
import { CniRedirectError } from '../errors.js';
import type { PodEvent, PodInfo, PodSource } from '../pod-source.js';
import type { PodRuleOptions } from '../rules.js';
import { applyPodRules, inspectPodRules, type NftOptions, removePodRules } from './nft.js';
import { closeUnix, listenUnix } from './unix-socket.js';
import type { ZdsTransport } from './zds-channel.js';
import { ZdsServer, type ZdsSession } from './zds-server.js';

/** Redirection status of a captured pod (Istio annotation `ambient.istio.io/redirection`). */
export type RedirectionStatus = 'enabled' | 'pending';

/** Which pod a status is about. */
export interface PodRef {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
}

/**
 * Where the agent reports status: `enabled` once ztunnel acked the pod,
 * `pending` while rules are in place but ztunnel has not acked, and
 * `undefined` when the pod is no longer captured (remove the annotation).
 */
export type PodStatusReporter = (pod: PodRef, status: RedirectionStatus | undefined) => void;

/** The agent's view of one captured pod. */
export type PodCaptureState =
  | { readonly phase: 'pending'; readonly netnsPath: string; readonly reason: string }
  | { readonly phase: 'enabled'; readonly netnsPath: string };

/** Options of {@link NodeAgent.start}. */
export interface NodeAgentOptions {
  readonly podSource: PodSource;
  /** Unix socket the CNI plugin talks to (plugin config `agentSocket`). */
  readonly cniSocketPath: string;
  /** Unix socket ztunnel connects to. */
  readonly zdsSocketPath: string;
  /** Default `seqpacket` (Istio's: netns fd in SCM_RIGHTS); `stream` for length-prefixed messages with the netns path. */
  readonly zdsTransport?: ZdsTransport;
  readonly reportStatus?: PodStatusReporter;
  /** Rule options (ports, DNS capture, table name) for every pod. */
  readonly rules?: PodRuleOptions;
  readonly nft?: NftOptions;
  /** How long to wait for ztunnel's ack of one message; default 5000 ms. */
  readonly ackTimeoutMs?: number;
  /**
   * How long a CNI ADD waits for a ztunnel to connect and ack the pod when
   * none is connected; default 30 000 ms (the plugin's `agentTimeoutMs` also bounds it).
   */
  readonly ztunnelWaitMs?: number;
  /**
   * A JSON file where the agent keeps the netns path of each pod from CNI ADD
   * (pod sources such as a YAML directory do not know it), so a restarted
   * agent re-adopts running pods and replays them to ztunnel. Written
   * atomically on every change; removed by {@link NodeAgent.uninstall}.
   * Without it, a restarted agent only knows the pods whose source gives a netns.
   */
  readonly stateFile?: string;
  /** Errors that are not returned to anyone (background reconciliation). Default: ignored. */
  readonly onError?: (error: Error, context: string) => void;
}

const NOT_CONNECTED = 'ztunnel is not connected';

const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * The per-node agent: decides which pods are enrolled, installs and removes
 * their in-pod rules, hands them to ztunnel (Add / Keep / Del /
 * SnapshotSent, one ack per message), answers the CNI plugin, and reports
 * each pod's redirection status. All work runs one operation at a time.
 *
 * @example
 * ```ts
 * const agent = await NodeAgent.start({
 *   podSource, cniSocketPath: '/run/amesh/cni.sock', zdsSocketPath: '/run/amesh/ztunnel.sock',
 *   reportStatus: (pod, status) => console.log(pod.name, status ?? 'none'),
 * });
 * // ... later, on uninstall:
 * await agent.uninstall();
 * ```
 */
export class NodeAgent {
  private readonly states = new Map<
    string,
    PodCaptureState & { readonly ref: PodRef; readonly pod: PodInfo }
  >();
  /** netns paths reported by CNI ADD, by namespace/name (used when the source has none). */
  private readonly cniNetns = new Map<string, string>();
  /** CNI ADDs waiting for a pod to be acked by a ztunnel that was not connected yet. */
  private readonly enabledWaiters = new Map<string, Set<(enabled: boolean) => void>>();
  private queue: Promise<unknown> = Promise.resolve();
  private persisting: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;
  private zds!: ZdsServer;
  private readonly cniServer: net.Server;
  private stopped = false;

  private constructor(private readonly options: NodeAgentOptions) {
    this.cniServer = net.createServer((socket) => this.serveCni(socket));
  }

  /**
   * Starts the agent: listens for ztunnel and the CNI plugin, then enrols
   * every pod that already runs (those the source knows a netns for).
   * @throws {Error} when a socket cannot be created
   */
  static async start(options: NodeAgentOptions): Promise<NodeAgent> {
    const agent = new NodeAgent(options);
    await agent.loadState();
    // A ztunnel may connect (it keeps retrying) before the running pods are re-adopted below:
    // its snapshot must wait for them, or it would drop every pod it serves.
    let adopted!: () => void;
    const podsQueued = new Promise<void>((resolve) => {
      adopted = resolve;
    });
    agent.zds = await ZdsServer.listen({
      socketPath: options.zdsSocketPath,
      ...(options.zdsTransport ? { transport: options.zdsTransport } : {}),
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
      onZtunnelConnected: (session) =>
        podsQueued.then(() => agent.enqueue(() => agent.sendSnapshot(session))),
    });
    try {
      await listenUnix(agent.cniServer, options.cniSocketPath);
    } catch (error) {
      await agent.zds.close();
      throw error;
    }
    agent.unwatch = options.podSource.watch((event) => {
      void agent.enqueue(() => agent.onPodEvent(event)).catch(() => {});
    });
    for (const pod of options.podSource.list()) {
      void agent
        .enqueue(() => agent.reconcile(pod, true))
        .catch((error: Error) => options.onError?.(error, `enrolling ${pod.namespace}/${pod.name}`));
    }
    adopted();
    await agent.whenIdle();
    return agent;
  }

  /** The capture state of a pod, or undefined when it is not captured. */
  captureState(uid: string): PodCaptureState | undefined {
    const state = this.states.get(uid);
    if (!state) return undefined;
    return state.phase === 'enabled'
      ? { phase: 'enabled', netnsPath: state.netnsPath }
      : { phase: 'pending', netnsPath: state.netnsPath, reason: state.reason };
  }

  /** UIDs of every captured pod. */
  capturedPods(): string[] {
    return [...this.states.keys()];
  }

  /** True while a ztunnel is connected. */
  get ztunnelConnected(): boolean {
    return this.zds.session !== undefined;
  }

  /** Resolves when every queued operation has finished. */
  async whenIdle(): Promise<void> {
    let seen: Promise<unknown> | undefined;
    while (seen !== this.queue) {
      seen = this.queue;
      await seen.catch(() => {});
    }
  }

  /**
   * Stops serving and watching but leaves every pod's rules in place
   * (a restarted agent re-adopts them).
   */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unwatch?.();
    await this.whenIdle();
    for (const uid of [...this.enabledWaiters.keys()]) this.settleWaiters(uid, false);
    await this.persisting;
    await Promise.all([this.zds.close(), closeUnix(this.cniServer, this.options.cniSocketPath)]);
  }

  /**
   * Removes everything the agent created: every pod's table (tells ztunnel
   * Del for each), its status, and both sockets.
   */
  async uninstall(): Promise<void> {
    this.unwatch?.();
    await this.enqueue(async () => {
      for (const [uid, state] of [...this.states]) {
        await this.release(uid, state);
      }
      this.cniNetns.clear();
      await this.persisting; // earlier writes land first; the file is removed anyway
      if (this.options.stateFile) await rm(this.options.stateFile, { force: true });
    });
    await this.close();
  }

  private async loadState(): Promise<void> {
    const file = this.options.stateFile;
    if (!file) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        this.options.onError?.(error as Error, `reading ${file}`);
      return;
    }
    try {
      const state = JSON.parse(text) as { version?: unknown; netns?: unknown };
      if (state.version !== 1 || typeof state.netns !== 'object' || state.netns === null)
        throw new Error('not a version 1 node agent state');
      for (const [key, path] of Object.entries(state.netns)) {
        if (typeof path === 'string' && path.length > 0) this.cniNetns.set(key, path);
      }
    } catch (error) {
      this.options.onError?.(error as Error, `ignoring ${file}`);
    }
  }

  /** Writes the netns map (tmp file + rename, one write at a time; the latest map wins). */
  private persist(): Promise<void> {
    const file = this.options.stateFile;
    if (!file) return Promise.resolve();
    const write = async (): Promise<void> => {
      const text = `${JSON.stringify({ version: 1, netns: Object.fromEntries(this.cniNetns) })}\n`;
      await mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, file);
    };
    this.persisting = this.persisting
      .then(write)
      .catch((error: Error) => this.options.onError?.(error, `writing ${file}`));
    return this.persisting;
  }

  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation, operation);
    this.queue = result.catch(() => {});
    return result;
  }

  private report(ref: PodRef, status: RedirectionStatus | undefined): void {
    try {
      this.options.reportStatus?.(ref, status);
    } catch (error) {
      this.options.onError?.(error as Error, `status reporter for ${ref.namespace}/${ref.name}`);
    }
  }

  private async onPodEvent(event: PodEvent): Promise<void> {
    if (event.type === 'upsert') {
      await this.reconcile(event.pod).catch((error: Error) =>
        this.options.onError?.(error, `reconciling ${event.pod.namespace}/${event.pod.name}`),
      );
      return;
    }
    const state = this.states.get(event.uid);
    if (state) {
      if (this.cniNetns.delete(podKey(state.ref.namespace, state.ref.name))) void this.persist();
      await this.release(event.uid, state);
    }
  }

  /**
   * Brings one pod to the state its labels ask for. Returns its state afterwards.
   * `adopting`: a pod found running at start; a previous agent may have reported it
   * `enabled` and its ztunnel may still serve it, so no `pending` is reported in between
   * (the control plane keeps the last status; the ztunnel's ack reports `enabled` again).
   */
  private async reconcile(pod: PodInfo, adopting = false): Promise<PodCaptureState | undefined> {
    const ref: PodRef = { uid: pod.uid, namespace: pod.namespace, name: pod.name };
    const netnsPath = pod.netnsPath ?? this.cniNetns.get(podKey(pod.namespace, pod.name));
    const enrolled = decideEnrolment(pod.namespaceLabels, pod.labels).enrolled;
    const current = this.states.get(pod.uid);
    if (!enrolled || netnsPath === undefined) {
      if (current) await this.release(pod.uid, current);
      return undefined;
    }
    if (current?.phase === 'enabled' && current.netnsPath === netnsPath) {
      this.states.set(pod.uid, { ...current, pod });
      return current;
    }
    if (current && current.netnsPath !== netnsPath) {
      await removePodRules(current.netnsPath, { ...this.options.rules, ...this.options.nft }).catch(() => {});
    }
    try {
      await applyPodRules(netnsPath, { ...this.options.rules, ...this.options.nft });
    } catch (error) {
      // Rules could not be installed: nothing is redirected, so nothing is captured.
      if (current) this.states.delete(pod.uid);
      this.report(ref, undefined);
      throw new CniRedirectError(
        'CNI_ERR_CAPTURE_FAILED',
        `installing rules for ${ref.namespace}/${ref.name}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return this.handToZtunnel(pod, ref, netnsPath, this.zds.session, adopting);
  }

  private async handToZtunnel(
    pod: PodInfo,
    ref: PodRef,
    netnsPath: string,
    session: ZdsSession | undefined,
    quiet = false,
  ): Promise<PodCaptureState> {
    if (!session) {
      const state = { phase: 'pending' as const, netnsPath, reason: NOT_CONNECTED, ref, pod };
      this.states.set(pod.uid, state);
      if (!quiet) this.report(ref, 'pending');
      return state;
    }
    this.states.set(pod.uid, { phase: 'pending', netnsPath, reason: 'waiting for ztunnel ack', ref, pod });
    if (!quiet) this.report(ref, 'pending');
    try {
      await session.send({
        type: 'add',
        uid: pod.uid,
        netnsPath,
        workloadInfo: { name: pod.name, namespace: pod.namespace, serviceAccount: pod.serviceAccount ?? '' },
      });
    } catch (error) {
      const state = { phase: 'pending' as const, netnsPath, reason: (error as Error).message, ref, pod };
      this.states.set(pod.uid, state);
      if (quiet) this.report(ref, 'pending');
      return state;
    }
    const state = { phase: 'enabled' as const, netnsPath, ref, pod };
    this.states.set(pod.uid, state);
    this.report(ref, 'enabled');
    this.settleWaiters(pod.uid, true);
    return state;
  }

  private async release(uid: string, state: PodCaptureState & { readonly ref: PodRef }): Promise<void> {
    this.states.delete(uid);
    this.settleWaiters(uid, false);
    try {
      await removePodRules(state.netnsPath, { ...this.options.rules, ...this.options.nft });
    } catch (error) {
      this.options.onError?.(error as Error, `removing rules of ${state.ref.namespace}/${state.ref.name}`);
    }
    const session = this.zds.session;
    if (session) {
      await session.send({ type: 'del', uid }).catch((error: Error) => {
        this.options.onError?.(error, `telling ztunnel to drop ${state.ref.namespace}/${state.ref.name}`);
      });
    }
    this.report(state.ref, undefined);
  }

  /**
   * A (re)connected ztunnel gets every captured pod, then SnapshotSent. No
   * `pending` is reported while it is replayed (a reconnecting ztunnel still
   * serves its pods): only a refusal reports `pending`, an ack `enabled`.
   */
  private async sendSnapshot(session: ZdsSession): Promise<void> {
    for (const state of [...this.states.values()]) {
      await this.handToZtunnel(state.pod, state.ref, state.netnsPath, session, true);
    }
    await session.send({ type: 'snapshot-sent' });
  }

  private serveCni(socket: net.Socket): void {
    let buffer = '';
    socket.setEncoding('utf8');
    const respond = (response: CniAgentResponse): void => {
      socket.end(encodeCniAgentMessage(response));
    };
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) {
        if (buffer.length > CNI_AGENT_MAX_LINE)
          respond({ ok: false, code: 'CNI_ERR_PROTOCOL', message: 'request too long' });
        return;
      }
      socket.removeAllListeners('data');
      let request: CniAgentRequest;
      try {
        request = parseCniAgentRequest(buffer.slice(0, newline));
      } catch (error) {
        respond({ ok: false, code: 'CNI_ERR_PROTOCOL', message: (error as Error).message });
        return;
      }
      this.enqueue(() => this.handleCni(request))
        .then((answer) => ('waitFor' in answer ? this.waitForZtunnel(answer.waitFor, answer.key) : answer))
        .then(respond, (error: Error) =>
          respond({
            ok: false,
            code: error instanceof CniRedirectError ? error.code : 'CNI_ERR_CAPTURE_FAILED',
            message: error.message,
          }),
        );
    });
  }

  private findPod(request: CniAgentRequest): PodInfo | undefined {
    return this.options.podSource
      .list()
      .find((pod) =>
        request.podUid !== undefined
          ? pod.uid === request.podUid
          : pod.namespace === request.podNamespace && pod.name === request.podName,
      );
  }

  /**
   * ADD for a pod whose rules are in place while no ztunnel is connected:
   * wait (outside the operation queue, so the snapshot can run) until a
   * ztunnel connects and acks the pod, or the wait times out.
   */
  private async waitForZtunnel(uid: string, key: string): Promise<CniAgentResponse> {
    const timeoutMs = this.options.ztunnelWaitMs ?? 30_000;
    const enabled = await new Promise<boolean>((resolve) => {
      const waiter = (ok: boolean): void => {
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => {
        this.enabledWaiters.get(uid)?.delete(waiter);
        resolve(false);
      }, timeoutMs);
      let set = this.enabledWaiters.get(uid);
      if (!set) {
        set = new Set();
        this.enabledWaiters.set(uid, set);
      }
      set.add(waiter);
    });
    if (enabled) return { ok: true, outcome: 'captured' };
    const state = this.states.get(uid);
    return {
      ok: false,
      code: 'CNI_ERR_TIMEOUT',
      message: `pod ${key} not captured within ${timeoutMs} ms: ${state?.phase === 'pending' ? state.reason : 'released'}`,
    };
  }

  private settleWaiters(uid: string, enabled: boolean): void {
    const set = this.enabledWaiters.get(uid);
    if (!set) return;
    this.enabledWaiters.delete(uid);
    for (const waiter of set) waiter(enabled);
  }

  private async handleCni(
    request: CniAgentRequest,
  ): Promise<CniAgentResponse | { waitFor: string; key: string }> {
    const key = podKey(request.podNamespace, request.podName);
    const pod = this.findPod(request);
    switch (request.command) {
      case 'ADD': {
        if (this.cniNetns.get(key) !== request.netns) {
          this.cniNetns.set(key, request.netns!);
          void this.persist();
        }
        if (!pod) return { ok: true, outcome: 'not-enrolled' };
        const state = await this.reconcile({ ...pod, netnsPath: request.netns! });
        if (!state) return { ok: true, outcome: 'not-enrolled' };
        if (state.phase === 'enabled') return { ok: true, outcome: 'captured' };
        if (state.reason === NOT_CONNECTED) return { waitFor: pod.uid, key };
        return {
          ok: false,
          code: 'CNI_ERR_CAPTURE_FAILED',
          message: `pod ${key} not captured: ${state.reason}`,
        };
      }
      case 'DEL': {
        if (this.cniNetns.delete(key)) void this.persist();
        const uid =
          pod?.uid ??
          [...this.states].find(
            ([, s]) => s.ref.namespace === request.podNamespace && s.ref.name === request.podName,
          )?.[0];
        const state = uid === undefined ? undefined : this.states.get(uid);
        if (
          uid !== undefined &&
          state &&
          (request.netns === undefined || request.netns === state.netnsPath)
        ) {
          await this.release(uid, state);
        }
        return { ok: true, outcome: 'released' };
      }
      case 'CHECK': {
        if (!pod || !decideEnrolment(pod.namespaceLabels, pod.labels).enrolled)
          return { ok: true, outcome: 'checked' };
        const state = this.states.get(pod.uid);
        if (state?.phase !== 'enabled' || state.netnsPath !== request.netns) {
          return {
            ok: false,
            code: 'CNI_ERR_CAPTURE_FAILED',
            message: `pod ${key} is enrolled but not captured`,
          };
        }
        const rules = await inspectPodRules(state.netnsPath, { ...this.options.rules, ...this.options.nft });
        if (rules !== 'present') {
          return {
            ok: false,
            code: 'CNI_ERR_CAPTURE_FAILED',
            message: `pod ${key}: redirection rules are ${rules}`,
          };
        }
        return { ok: true, outcome: 'checked' };
      }
    }
  }
}
