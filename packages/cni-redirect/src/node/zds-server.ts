import { open } from 'node:fs';
import { promisify } from 'node:util';
import { CniRedirectError } from '../errors.js';
import { decodeZdsAck, decodeZdsHello, encodeZdsRequest, type ZdsRequest } from '../zds-protocol.js';
import {
  closeFds,
  DEFAULT_ZDS_TRANSPORT,
  listenZds,
  type ZdsChannel,
  type ZdsListener,
  type ZdsTransport,
} from './zds-channel.js';

const openFd = promisify(open);

/** Options of {@link ZdsServer.listen}. */
export interface ZdsServerOptions {
  /** Unix socket ztunnel connects to (Istio: `/var/run/ztunnel/ztunnel.sock`). */
  readonly socketPath: string;
  /**
   * `seqpacket` (default, Istio's: SOCK_SEQPACKET, netns fd in SCM_RIGHTS) or
   * `stream` (length-prefixed messages, netns path in the Add).
   */
  readonly transport?: ZdsTransport;
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
    private readonly channel: ZdsChannel,
    private readonly ackTimeoutMs: number,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    channel.onMessage = (body, fds) => {
      closeFds(fds);
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
        else waiting.reject(new CniRedirectError('CNI_ERR_CAPTURE_FAILED', `ztunnel refused: ${ack.error}`));
      } catch (error) {
        waiting.reject(error as Error);
        this.fail(error as Error);
      }
    };
    channel.onClose = (error) =>
      this.fail(error ?? new CniRedirectError('CNI_ERR_CONNECTION_CLOSED', 'ztunnel connection closed'));
  }

  /** Which transport this session uses. */
  get transport(): ZdsTransport {
    return this.channel.transport;
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
      // SOCK_SEQPACKET: the Add carries the pod's netns as an fd (SCM_RIGHTS), opened here
      // and handed to the channel, which closes it once sent.
      let fd: number | undefined;
      if (request.type === 'add' && this.channel.transport === 'seqpacket') {
        try {
          fd = await openFd(request.netnsPath, 'r');
        } catch (cause) {
          throw new CniRedirectError(
            'CNI_ERR_NETNS_NOT_FOUND',
            `cannot open network namespace ${request.netnsPath}: ${(cause as Error).message}`,
            { cause },
          );
        }
      }
      const acked = new Promise<void>((resolve, reject) => {
        this.pending = { resolve, reject };
      });
      const body = encodeZdsRequest(request, { netnsPath: this.channel.transport === 'stream' });
      try {
        this.channel.send(body, fd);
      } catch (error) {
        this.pending = undefined;
        throw error;
      }
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
    this.channel.close();
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
  private listener!: ZdsListener;

  private constructor(private readonly options: ZdsServerOptions) {}

  /**
   * Listens on `options.socketPath` (replacing a stale socket file).
   * @throws {CniRedirectError} when the socket cannot be created (`CNI_ERR_ADDON_UNAVAILABLE` for seqpacket without the addon)
   */
  static async listen(options: ZdsServerOptions): Promise<ZdsServer> {
    const zds = new ZdsServer(options);
    zds.listener = await listenZds(
      options.socketPath,
      options.transport ?? DEFAULT_ZDS_TRANSPORT,
      (channel) => zds.accept(channel),
    );
    return zds;
  }

  /** The connected ztunnel, if any (after its hello). */
  get session(): ZdsSession | undefined {
    return this.current?.open ? this.current : undefined;
  }

  private accept(channel: ZdsChannel): void {
    const helloTimeout = setTimeout(() => channel.close(), this.options.helloTimeoutMs ?? 5000);
    channel.onClose = () => clearTimeout(helloTimeout);
    channel.onMessage = (body, fds) => {
      closeFds(fds);
      clearTimeout(helloTimeout);
      try {
        decodeZdsHello(body);
      } catch {
        channel.close();
        return;
      }
      this.current?.close();
      // The session takes over the channel's handlers: later messages (acks) go to it.
      const session = new ZdsSession(channel, this.options.ackTimeoutMs ?? 5000);
      this.current = session;
      void session.closed.then(() => {
        if (this.current === session) this.current = undefined;
        this.options.onZtunnelDisconnected?.(session, session.endError);
      });
      void Promise.resolve()
        .then(() => this.options.onZtunnelConnected?.(session))
        .catch(() => session.close());
    };
  }

  /** Closes the ztunnel connection and the socket, and removes the socket file. */
  async close(): Promise<void> {
    this.current?.close();
    await this.listener.close();
  }
}
