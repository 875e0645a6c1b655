import net from 'node:net';
import { CniRedirectError } from '../errors.js';
import {
  decodeZdsRequest,
  encodeZdsAck,
  encodeZdsHello,
  frameZdsMessage,
  ZdsFrameDecoder,
  type ZdsRequest,
} from '../zds-protocol.js';

/**
 * ztunnel's handler for the node agent's messages. Resolve to ack, throw to
 * ack with the error's message (the agent then keeps the pod `pending`).
 * For `add`: open the in-pod listeners (for example with `listenInNetns`).
 */
export type ZdsRequestHandler = (request: ZdsRequest) => void | Promise<void>;

/** Options of {@link ZtunnelAgentConnection.connect}. */
export interface ZtunnelAgentConnectionOptions {
  /** Default 5000 ms. */
  readonly connectTimeoutMs?: number;
}

/**
 * ztunnel's end of the pod hand-off: connects to the node agent's socket,
 * says hello, then handles each request in order and acks it.
 *
 * @example
 * ```ts
 * const agent = await ZtunnelAgentConnection.connect('/run/amesh/ztunnel.sock', async (req) => {
 *   if (req.type === 'add') await openInPodListeners(req.uid, req.netnsPath);
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
    private readonly socket: net.Socket,
    private readonly handler: ZdsRequestHandler,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const decoder = new ZdsFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunk);
      } catch (error) {
        this.end(error as Error);
        return;
      }
      for (const body of bodies) {
        let request: ZdsRequest;
        try {
          request = decodeZdsRequest(body);
        } catch (error) {
          this.end(error as Error);
          return;
        }
        this.queue = this.queue.then(() => this.handle(request));
      }
    });
    socket.on('error', (error) => this.end(error));
    socket.on('close', () => this.end(undefined));
  }

  /**
   * Connects and sends the hello.
   * @throws {CniRedirectError} `CNI_ERR_AGENT_UNREACHABLE` when the socket cannot be reached in time
   */
  static connect(
    socketPath: string,
    handler: ZdsRequestHandler,
    options: ZtunnelAgentConnectionOptions = {},
  ): Promise<ZtunnelAgentConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new CniRedirectError('CNI_ERR_AGENT_UNREACHABLE', `no node agent on ${socketPath} (timeout)`));
      }, options.connectTimeoutMs ?? 5000);
      socket.once('error', (cause) => {
        clearTimeout(timer);
        reject(
          new CniRedirectError('CNI_ERR_AGENT_UNREACHABLE', `no node agent on ${socketPath}`, { cause }),
        );
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        const connection = new ZtunnelAgentConnection(socket, handler);
        socket.write(frameZdsMessage(encodeZdsHello()));
        resolve(connection);
      });
    });
  }

  /** Resolves when the connection ends: with the error that ended it, or undefined on a clean close. */
  get closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }

  /** Closes the connection. */
  close(): void {
    this.end(undefined);
  }

  private async handle(request: ZdsRequest): Promise<void> {
    if (this.ended) return;
    let error = '';
    try {
      await this.handler(request);
    } catch (cause) {
      error = cause instanceof Error ? cause.message || cause.name : String(cause);
      if (error === '') error = 'handler failed';
    }
    if (!this.ended) this.socket.write(frameZdsMessage(encodeZdsAck(error)));
  }

  private end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.destroy();
    this.resolveClosed(error);
  }
}
