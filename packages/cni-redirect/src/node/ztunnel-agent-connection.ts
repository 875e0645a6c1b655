import { CniRedirectError } from '../errors.js';
import { decodeZdsRequest, encodeZdsAck, encodeZdsHello, type ZdsRequest } from '../zds-protocol.js';
import {
  closeFds,
  connectZds,
  DEFAULT_ZDS_TRANSPORT,
  type ZdsChannel,
  type ZdsTransport,
} from './zds-channel.js';

/**
 * What came with a request besides its message: on SOCK_SEQPACKET, the
 * Add's netns fd (then `request.netnsPath` is `/proc/self/fd/<netnsFd>`).
 * The handler owns the fd: close it when the pod is removed, or at once if
 * it is not kept. It is closed for you when the handler throws.
 */
export interface ZdsRequestContext {
  readonly netnsFd?: number;
}

/**
 * ztunnel's handler for the node agent's messages. Resolve to ack, throw to
 * ack with the error's message (the agent then keeps the pod `pending`).
 * For `add`: open the in-pod listeners (for example with `listenInNetns`).
 */
export type ZdsRequestHandler = (request: ZdsRequest, context: ZdsRequestContext) => void | Promise<void>;

/** Options of {@link ZtunnelAgentConnection.connect}. */
export interface ZtunnelAgentConnectionOptions {
  /** Default 5000 ms (the stream transport; a seqpacket connect is immediate). */
  readonly connectTimeoutMs?: number;
  /** Default `seqpacket` (Istio's); must match the agent's. */
  readonly transport?: ZdsTransport;
}

/**
 * ztunnel's end of the pod hand-off: connects to the node agent's socket,
 * says hello, then handles each request in order and acks it. One
 * connection; {@link ZtunnelAgentClient} adds reconnection and snapshot
 * reconciliation on top.
 *
 * @example
 * ```ts
 * const agent = await ZtunnelAgentConnection.connect('/run/amesh/ztunnel.sock', async (req, ctx) => {
 *   if (req.type === 'add') await openInPodListeners(req.uid, req.netnsPath, ctx.netnsFd);
 *   if (req.type === 'del') await closeInPodListeners(req.uid);
 * });
 * await agent.closed; // reconnect when it ends
 * ```
 */
export class ZtunnelAgentConnection {
  private readonly closedPromise: Promise<Error | undefined>;
  private resolveClosed!: (error: Error | undefined) => void;
  private queue: Promise<void> = Promise.resolve();
  private ended = false;

  private constructor(
    private readonly channel: ZdsChannel,
    private readonly handler: ZdsRequestHandler,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const seqpacket = channel.transport === 'seqpacket';
    channel.onMessage = (body, fds) => {
      let request: ZdsRequest;
      try {
        request = decodeZdsRequest(body, { requireNetnsPath: !seqpacket });
        if (seqpacket && request.type === 'add') {
          // Istio: the Add's only fd is the pod's netns (SCM_RIGHTS).
          if (fds.length !== 1) {
            throw new CniRedirectError(
              'CNI_ERR_PROTOCOL',
              `AddWorkload ${request.uid} came with ${fds.length} file descriptors (expected the netns fd)`,
            );
          }
          request = { ...request, netnsPath: `/proc/self/fd/${fds[0]}` };
        } else if (fds.length > 0) {
          throw new CniRedirectError('CNI_ERR_PROTOCOL', `${request.type} came with file descriptors`);
        }
      } catch (error) {
        closeFds(fds);
        this.end(error as Error);
        return;
      }
      const context: ZdsRequestContext = seqpacket && request.type === 'add' ? { netnsFd: fds[0]! } : {};
      this.queue = this.queue.then(() => this.handle(request, context));
    };
    channel.onClose = (error) => this.end(error);
  }

  /**
   * Connects and sends the hello.
   * @throws {CniRedirectError} `CNI_ERR_AGENT_UNREACHABLE` when the socket cannot be reached in time; `CNI_ERR_ADDON_UNAVAILABLE` for seqpacket without the native addon
   */
  static async connect(
    socketPath: string,
    handler: ZdsRequestHandler,
    options: ZtunnelAgentConnectionOptions = {},
  ): Promise<ZtunnelAgentConnection> {
    const channel = await connectZds(
      socketPath,
      options.transport ?? DEFAULT_ZDS_TRANSPORT,
      options.connectTimeoutMs ?? 5000,
    );
    const connection = new ZtunnelAgentConnection(channel, handler);
    channel.send(encodeZdsHello());
    return connection;
  }

  /** Resolves when the connection ends: with the error that ended it, or undefined on a clean close. */
  get closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }

  /** Closes the connection. */
  close(): void {
    this.end(undefined);
  }

  private async handle(request: ZdsRequest, context: ZdsRequestContext): Promise<void> {
    if (this.ended) {
      if (context.netnsFd !== undefined) closeFds([context.netnsFd]);
      return;
    }
    let error = '';
    try {
      await this.handler(request, context);
    } catch (cause) {
      if (context.netnsFd !== undefined) closeFds([context.netnsFd]);
      error = cause instanceof Error ? cause.message || cause.name : String(cause);
      if (error === '') error = 'handler failed';
    }
    if (!this.ended) {
      try {
        this.channel.send(encodeZdsAck(error));
      } catch (cause) {
        this.end(cause as Error);
      }
    }
  }

  private end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.channel.close();
    this.resolveClosed(error);
  }
}
