// The two transports of the node agent ↔ ztunnel protocol behind one small
// interface, so the zds session logic does not care which one carries it:
//  - `seqpacket` (Istio's): AF_UNIX SOCK_SEQPACKET, one protobuf message per
//    packet, the pod's netns as an fd in SCM_RIGHTS;
//  - `stream` (amesh's older one): a unix stream socket, a 4-byte length
//    before each message, the netns as a path in field 1000 of the Add.
import net from 'node:net';
import { CniRedirectError } from '../errors.js';
import { frameZdsMessage, ZDS_MAX_MESSAGE_SIZE, ZdsFrameDecoder } from '../zds-protocol.js';
import { nativeAddon } from './addon.js';
import { SeqpacketServer, SeqpacketSocket } from './seqpacket.js';
import { closeUnix, listenUnix } from './unix-socket.js';

/**
 * How the node agent and ztunnel talk: `seqpacket` is Istio's (SOCK_SEQPACKET,
 * netns fd in SCM_RIGHTS; needs the native addon); `stream` is a unix stream
 * socket with length-prefixed messages and the netns path in the Add (field 1000).
 */
export type ZdsTransport = 'seqpacket' | 'stream';

/** The default transport (Istio's). */
export const DEFAULT_ZDS_TRANSPORT: ZdsTransport = 'seqpacket';

/** One connection, message by message. @internal */
export interface ZdsChannel {
  readonly transport: ZdsTransport;
  /** Sends one message; `fd` (seqpacket only) is owned by the channel from here on and closed after sending. */
  send(body: Uint8Array, fd?: number): void;
  /** Each message with the fds it carried (the handler owns them). */
  onMessage: ((body: Uint8Array, fds: readonly number[]) => void) | undefined;
  /** Called once, when the connection ends (error undefined: the peer or we closed it). */
  onClose: ((error: Error | undefined) => void) | undefined;
  close(error?: Error): void;
}

/** Closes fds received but not wanted. @internal */
export function closeFds(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      nativeAddon().closeFd(fd);
    } catch {
      // already closed
    }
  }
}

class StreamChannel implements ZdsChannel {
  readonly transport = 'stream' as const;
  onMessage: ((body: Uint8Array, fds: readonly number[]) => void) | undefined;
  onClose: ((error: Error | undefined) => void) | undefined;
  readonly #decoder = new ZdsFrameDecoder();
  #ended = false;

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      let bodies: Uint8Array[];
      try {
        bodies = this.#decoder.push(chunk);
      } catch (error) {
        this.close(error as Error);
        return;
      }
      for (const body of bodies) {
        if (this.#ended) return;
        this.onMessage?.(body, []);
      }
    });
    socket.on('error', (error) => this.close(error));
    socket.on('close', () => this.close(undefined));
  }

  send(body: Uint8Array, fd?: number): void {
    if (fd !== undefined) {
      closeFds([fd]);
      throw new CniRedirectError('CNI_ERR_PROTOCOL', 'the stream transport cannot pass file descriptors');
    }
    if (this.#ended) throw new CniRedirectError('CNI_ERR_CONNECTION_CLOSED', 'connection closed');
    this.socket.write(frameZdsMessage(body));
  }

  close(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.socket.destroy();
    this.onClose?.(error);
  }
}

class SeqpacketChannel implements ZdsChannel {
  readonly transport = 'seqpacket' as const;
  onMessage: ((body: Uint8Array, fds: readonly number[]) => void) | undefined;
  onClose: ((error: Error | undefined) => void) | undefined;

  constructor(private readonly socket: SeqpacketSocket) {
    socket.onMessage = (m) => {
      if (this.onMessage) this.onMessage(m.data, m.fds);
      else closeFds(m.fds);
    };
    socket.onClose = (error) => this.onClose?.(error);
  }

  send(body: Uint8Array, fd?: number): void {
    if (body.length > ZDS_MAX_MESSAGE_SIZE) {
      if (fd !== undefined) closeFds([fd]);
      throw new CniRedirectError(
        'CNI_ERR_PROTOCOL',
        `message of ${body.length} bytes over ${ZDS_MAX_MESSAGE_SIZE}`,
      );
    }
    this.socket.send(body, fd ?? -1);
  }

  close(error?: Error): void {
    this.socket.close(error);
  }
}

/** A listening zds socket. @internal */
export interface ZdsListener {
  close(): Promise<void>;
}

/** Listens on a path with either transport. @internal */
export async function listenZds(
  path: string,
  transport: ZdsTransport,
  onChannel: (channel: ZdsChannel) => void,
): Promise<ZdsListener> {
  if (transport === 'seqpacket') {
    const server = await SeqpacketServer.listen(path, (fd) =>
      onChannel(new SeqpacketChannel(new SeqpacketSocket(fd, ZDS_MAX_MESSAGE_SIZE))),
    );
    return server;
  }
  const server = net.createServer((socket) => onChannel(new StreamChannel(socket)));
  await listenUnix(server, path);
  return { close: () => closeUnix(server, path) };
}

/**
 * Connects to a zds socket with either transport.
 * @throws {CniRedirectError} `CNI_ERR_AGENT_UNREACHABLE` @internal
 */
export function connectZds(path: string, transport: ZdsTransport, timeoutMs: number): Promise<ZdsChannel> {
  if (transport === 'seqpacket') {
    try {
      return Promise.resolve(new SeqpacketChannel(SeqpacketSocket.connect(path, ZDS_MAX_MESSAGE_SIZE)));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new CniRedirectError('CNI_ERR_AGENT_UNREACHABLE', `no node agent on ${path} (timeout)`));
    }, timeoutMs);
    socket.once('error', (cause) => {
      clearTimeout(timer);
      reject(new CniRedirectError('CNI_ERR_AGENT_UNREACHABLE', `no node agent on ${path}`, { cause }));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new StreamChannel(socket));
    });
  });
}
