// AF_UNIX SOCK_SEQPACKET sockets for Node (which has none): the native
// addon creates non-blocking sockets and sends/receives one message (and at
// most a few SCM_RIGHTS fds) per call; a uv_poll_t on Node's own event loop
// says when to read or write. Nothing blocks the main thread.
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CniRedirectError } from '../errors.js';
import { nativeAddon, type PollHandle, toCniError } from './addon.js';

const READABLE = 1;
const WRITABLE = 2;
/** `UV_DISCONNECT`: the peer hung up (read what is left, then see the end). */
const DISCONNECTED = 4;

function seqpacketAddon(): ReturnType<typeof nativeAddon> {
  const native = nativeAddon();
  if (typeof native.seqpacketSend !== 'function') {
    throw new CniRedirectError(
      'CNI_ERR_ADDON_UNAVAILABLE',
      'the native addon predates SOCK_SEQPACKET support: rebuild it (npm run build in @amesh/cni-redirect)',
    );
  }
  return native;
}

/** One message off a seqpacket socket and the fds that came with it (the receiver owns them). */
export interface SeqpacketMessage {
  readonly data: Uint8Array;
  readonly fds: readonly number[];
}

/**
 * A connected SOCK_SEQPACKET socket: message boundaries are kept by the
 * kernel, so no framing. `onMessage`/`onClose` are set by the owner.
 */
export class SeqpacketSocket {
  onMessage: ((message: SeqpacketMessage) => void) | undefined;
  onClose: ((error: Error | undefined) => void) | undefined;
  readonly #native = seqpacketAddon();
  readonly #fd: number;
  readonly #maxMessageSize: number;
  readonly #poll: PollHandle;
  /** Messages waiting for buffer space (the fd each carries is ours until sent). */
  readonly #outbox: { data: Uint8Array; fd: number }[] = [];
  #closed = false;

  /** Adopts a connected, non-blocking seqpacket fd. */
  constructor(fd: number, maxMessageSize: number) {
    this.#fd = fd;
    this.#maxMessageSize = maxMessageSize;
    this.#poll = this.#native.pollStart(fd, READABLE, (status, events) => this.#onPoll(status, events));
  }

  /**
   * Connects to a listening seqpacket socket (at once: a unix socket connects or fails).
   * @throws {CniRedirectError} `CNI_ERR_AGENT_UNREACHABLE` when nothing listens there
   */
  static connect(path: string, maxMessageSize: number): SeqpacketSocket {
    const native = seqpacketAddon();
    let fd: number;
    try {
      fd = native.seqpacketConnect(path);
    } catch (cause) {
      throw new CniRedirectError(
        'CNI_ERR_AGENT_UNREACHABLE',
        `no node agent on ${path}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    return new SeqpacketSocket(fd, maxMessageSize);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one message, with `fd` as SCM_RIGHTS when given. Takes ownership
   * of `fd`: it is closed once sent (the peer gets its own copy) or when the socket closes.
   */
  send(data: Uint8Array, fd = -1): void {
    if (this.#closed) {
      if (fd >= 0) this.#closeFd(fd);
      throw new CniRedirectError('CNI_ERR_CONNECTION_CLOSED', 'seqpacket socket closed');
    }
    this.#outbox.push({ data, fd });
    if (this.#outbox.length === 1) this.#flush();
  }

  /** Closes the socket and every fd still waiting to be sent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.pollClose(this.#poll);
    for (const m of this.#outbox.splice(0)) if (m.fd >= 0) this.#closeFd(m.fd);
    this.#closeFd(this.#fd);
    this.onClose?.(error);
  }

  #closeFd(fd: number): void {
    try {
      this.#native.closeFd(fd);
    } catch {
      // already closed: nothing to release
    }
  }

  #flush(): void {
    const native = this.#native;
    while (this.#outbox.length > 0 && !this.#closed) {
      const next = this.#outbox[0]!;
      let sent: boolean;
      try {
        sent = native.seqpacketSend(this.#fd, next.data, next.fd);
      } catch (cause) {
        this.close(toCniError(cause, null));
        return;
      }
      if (!sent) {
        native.pollUpdate(this.#poll, READABLE | WRITABLE);
        return;
      }
      this.#outbox.shift();
      if (next.fd >= 0) this.#closeFd(next.fd);
    }
    if (!this.#closed) native.pollUpdate(this.#poll, READABLE);
  }

  #onPoll(status: number, events: number): void {
    if (this.#closed) return;
    if (status < 0) {
      this.close(new CniRedirectError('CNI_ERR_SOCKET', `seqpacket poll failed (${status})`));
      return;
    }
    if (events & WRITABLE) this.#flush();
    if (!(events & READABLE) && !(events & DISCONNECTED)) return;
    const native = this.#native;
    // Drain what is there now; stop if the owner closes the socket from a handler.
    while (!this.#closed) {
      let got: ReturnType<typeof native.seqpacketRecv>;
      try {
        got = native.seqpacketRecv(this.#fd, this.#maxMessageSize);
      } catch (cause) {
        const error = toCniError(cause, null);
        this.close(
          (cause as { code?: string }).code === 'EMSGSIZE'
            ? new CniRedirectError(
                'CNI_ERR_PROTOCOL',
                `message over ${this.#maxMessageSize} bytes (or too many fds)`,
                { cause },
              )
            : error,
        );
        return;
      }
      if (got === null) return;
      if ('eof' in got) {
        this.close(undefined);
        return;
      }
      const handler = this.onMessage;
      if (!handler) {
        for (const fd of got.fds) this.#closeFd(fd);
        continue;
      }
      handler({
        data: new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength),
        fds: got.fds,
      });
    }
  }
}

/** A listening seqpacket socket on a path; hands each accepted connection over. */
export class SeqpacketServer {
  readonly #fd: number;
  readonly #poll: PollHandle;
  readonly #path: string;
  #closed = false;

  private constructor(fd: number, path: string, onConnection: (fd: number) => void) {
    this.#fd = fd;
    this.#path = path;
    const native = seqpacketAddon();
    this.#poll = native.pollStart(fd, READABLE, () => {
      for (;;) {
        if (this.#closed) return;
        let conn: number;
        try {
          conn = native.seqpacketAccept(this.#fd);
        } catch {
          return; // EMFILE and the like: try again on the next readiness
        }
        if (conn < 0) return;
        onConnection(conn);
      }
    });
  }

  /**
   * Listens on `path` (creating its folder, replacing a stale socket file,
   * mode 0600). `onConnection` gets each accepted, non-blocking fd.
   * @throws {CniRedirectError} `CNI_ERR_SOCKET` (for example EADDRINUSE), `CNI_ERR_ADDON_UNAVAILABLE`
   */
  static async listen(path: string, onConnection: (fd: number) => void): Promise<SeqpacketServer> {
    const native = seqpacketAddon();
    await mkdir(dirname(path), { recursive: true });
    try {
      if ((await lstat(path)).isSocket()) await unlink(path);
    } catch {
      // nothing there
    }
    let fd: number;
    try {
      fd = native.seqpacketListen(path, 16);
    } catch (cause) {
      throw toCniError(cause, null);
    }
    try {
      await chmod(path, 0o600);
    } catch (error) {
      native.closeFd(fd);
      await unlink(path).catch(() => {});
      throw error;
    }
    return new SeqpacketServer(fd, path, onConnection);
  }

  /** Stops listening and removes the socket file (connections already accepted stay open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const native = seqpacketAddon();
    native.pollClose(this.#poll);
    native.closeFd(this.#fd);
    await unlink(this.#path).catch(() => {});
  }
}
