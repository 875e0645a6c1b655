import net from 'node:net';
import { CniRedirectError } from '../errors.js';
import {
  decodeZdsAck,
  decodeZdsHello,
  encodeZdsRequest,
  frameZdsMessage,
  ZdsFrameDecoder,
  type ZdsRequest,
} from '../zds-protocol.js';
import { closeUnix, listenUnix } from './unix-socket.js';

/** Options of {@link ZdsServer.listen}. */
export interface ZdsServerOptions {
  /** Unix socket ztunnel connects to (Istio: `/var/run/ztunnel/ztunnel.sock`). */
  readonly socketPath: string;
  /** How long to wait for ztunnel's ack of one message; default 5000 ms. */
  readonly ackTimeoutMs?: number;
  /** How long a new connection has to send its hello; default 5000 ms. */
  readonly helloTimeoutMs?: number;
  /**
   * Called once a ztunnel connected and said hello, before any other
   * message: send the snapshot (Add/Keep…, then SnapshotSent) here.
   */
  readonly onZtunnelConnected?: (session: ZdsSession) => Promise<void> | void;
  /** Called when the current ztunnel connection ends. */
  readonly onZtunnelDisconnected?: (session: ZdsSession, error?: Error) => void;
}

/** The connection to one ztunnel, after its hello. Requests are sent one at a time. */
export class ZdsSession {
  private queue: Promise<unknown> = Promise.resolve();
  private pending: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private ended: Error | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  /** @internal */
  constructor(
    private readonly socket: net.Socket,
    private readonly decoder: ZdsFrameDecoder,
    private readonly ackTimeoutMs: number,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    socket.on('data', (chunk: Buffer) => {
      let bodies: Uint8Array[];
      try {
        bodies = this.decoder.push(chunk);
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      for (const body of bodies) {
        const waiting = this.pending;
        if (!waiting) {
          this.fail(
            new CniRedirectError('CNI_ERR_PROTOCOL', 'ztunnel sent an ack with no request outstanding'),
          );
          return;
        }
        this.pending = undefined;
        try {
          const ack = decodeZdsAck(body);
          if (ack.error === '') waiting.resolve();
          else
            waiting.reject(new CniRedirectError('CNI_ERR_CAPTURE_FAILED', `ztunnel refused: ${ack.error}`));
        } catch (error) {
          waiting.reject(error as Error);
          this.fail(error as Error);
          return;
        }
      }
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () =>
      this.fail(new CniRedirectError('CNI_ERR_CONNECTION_CLOSED', 'ztunnel connection closed')),
    );
  }

  /** True until the connection ends. */
  get open(): boolean {
    return this.ended === undefined;
  }

  /** Resolves when the connection has ended. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /**
   * Sends one request and waits for ztunnel's ack. Requests queue behind
   * each other. On an ack timeout the connection is closed (acks could no
   * longer be matched to requests); ztunnel reconnects and gets a fresh snapshot.
   *
   * @throws {CniRedirectError} `CNI_ERR_CAPTURE_FAILED` (ztunnel's ack carried an error), `CNI_ERR_TIMEOUT`, `CNI_ERR_CONNECTION_CLOSED`, `CNI_ERR_PROTOCOL`
   */
  send(request: ZdsRequest): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.ended) {
        throw new CniRedirectError('CNI_ERR_CONNECTION_CLOSED', 'ztunnel connection closed', {
          cause: this.ended,
        });
      }
      const acked = new Promise<void>((resolve, reject) => {
        this.pending = { resolve, reject };
      });
      this.socket.write(frameZdsMessage(encodeZdsRequest(request)));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new CniRedirectError(
            'CNI_ERR_TIMEOUT',
            `ztunnel did not ack ${request.type} within ${this.ackTimeoutMs} ms`,
          );
          reject(error);
          this.fail(error);
        }, this.ackTimeoutMs);
      });
      try {
        await Promise.race([acked, timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** Closes the connection. */
  close(): void {
    this.fail(new CniRedirectError('CNI_ERR_CONNECTION_CLOSED', 'closed by the node agent'));
  }

  private fail(error: Error): void {
    if (this.ended) return;
    this.ended = error;
    const waiting = this.pending;
    this.pending = undefined;
    waiting?.reject(
      error instanceof CniRedirectError
        ? error
        : new CniRedirectError('CNI_ERR_CONNECTION_CLOSED', error.message, { cause: error }),
    );
    this.socket.destroy();
    this.resolveClosed();
  }

  /** @internal the error that ended the session */
  get endError(): Error | undefined {
    return this.ended;
  }
}

/**
 * The node agent's end of the pod hand-off: a unix socket ztunnel connects
 * to. One ztunnel per node: a new connection replaces the previous one.
 */
export class ZdsServer {
  private current: ZdsSession | undefined;

  private constructor(
    private readonly server: net.Server,
    private readonly options: ZdsServerOptions,
  ) {}

  /**
   * Listens on `options.socketPath` (replacing a stale socket file).
   * @throws {Error} when the socket cannot be created
   */
  static async listen(options: ZdsServerOptions): Promise<ZdsServer> {
    const server = net.createServer();
    const zds = new ZdsServer(server, options);
    server.on('connection', (socket) => zds.accept(socket));
    await listenUnix(server, options.socketPath);
    return zds;
  }

  /** The connected ztunnel, if any (after its hello). */
  get session(): ZdsSession | undefined {
    return this.current?.open ? this.current : undefined;
  }

  private accept(socket: net.Socket): void {
    const decoder = new ZdsFrameDecoder();
    const helloTimeout = setTimeout(() => socket.destroy(), this.options.helloTimeoutMs ?? 5000);
    const onData = (chunk: Buffer): void => {
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunk);
        if (bodies.length === 0) return;
        decodeZdsHello(bodies[0]!);
        if (bodies.length > 1)
          throw new CniRedirectError('CNI_ERR_PROTOCOL', 'message after hello before any request');
      } catch {
        clearTimeout(helloTimeout);
        socket.destroy();
        return;
      }
      clearTimeout(helloTimeout);
      socket.off('data', onData);
      socket.off('error', onError);
      this.current?.close();
      const session = new ZdsSession(socket, decoder, this.options.ackTimeoutMs ?? 5000);
      this.current = session;
      void session.closed.then(() => {
        if (this.current === session) this.current = undefined;
        this.options.onZtunnelDisconnected?.(session, session.endError);
      });
      void Promise.resolve()
        .then(() => this.options.onZtunnelConnected?.(session))
        .catch(() => session.close());
    };
    const onError = (): void => {
      clearTimeout(helloTimeout);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', () => clearTimeout(helloTimeout));
  }

  /** Closes the ztunnel connection and the socket, and removes the socket file. */
  async close(): Promise<void> {
    this.current?.close();
    await closeUnix(this.server, this.options.socketPath);
  }
}
