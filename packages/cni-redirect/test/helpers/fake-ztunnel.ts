import { closeSync, statSync } from 'node:fs';
import net from 'node:net';
import type { ZdsRequest } from '../../src/index.js';
import {
  listenServerInNetns,
  type OriginalDestination,
  originalDestination,
  type ZdsTransport,
  ZtunnelAgentConnection,
} from '../../src/node/index.js';

/** Per-pod listeners ztunnel opens inside a captured pod's netns. */
interface PodListeners {
  readonly netnsPath: string;
  readonly servers: net.Server[];
  /** The netns fd passed over SOCK_SEQPACKET (closed with the pod). */
  readonly fd: number | undefined;
  /** Inode of the namespace it received (compare with the pod's own). */
  readonly netnsInode: number;
}

/**
 * A minimal ztunnel: embeds {@link ZtunnelAgentConnection}, and for each Add
 * opens marked listeners on 15001/15006/15008 inside the pod's netns that
 * answer with their port and record each connection's original destination.
 */
export class FakeZtunnel {
  readonly requests: ZdsRequest[] = [];
  readonly pods = new Map<string, PodListeners>();
  readonly seen: { port: number; destination: OriginalDestination }[] = [];
  /** When set, Add for this uid is refused with this message. */
  refuse: { uid: string; message: string } | undefined;
  private connection: ZtunnelAgentConnection | undefined;
  private waiters: { test: (r: ZdsRequest) => boolean; resolve: () => void }[] = [];

  constructor(private readonly transport: ZdsTransport = 'seqpacket') {}

  async connect(socketPath: string): Promise<void> {
    this.connection = await ZtunnelAgentConnection.connect(
      socketPath,
      (request, context) => this.handle(request, context.netnsFd),
      { transport: this.transport },
    );
  }

  disconnect(): Promise<Error | undefined> {
    this.connection?.close();
    return this.connection?.closed ?? Promise.resolve(undefined);
  }

  /** Resolves once a request matching `test` has been handled (or already was). */
  waitFor(test: (r: ZdsRequest) => boolean): Promise<void> {
    if (this.requests.some(test)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  private async handle(request: ZdsRequest, fd: number | undefined): Promise<void> {
    if (request.type === 'add') {
      if (this.refuse?.uid === request.uid) throw new Error(this.refuse.message);
      await this.closePod(request.uid);
      const servers: net.Server[] = [];
      for (const port of [15001, 15006, 15008]) {
        const server = net.createServer((socket) => {
          this.seen.push({ port, destination: originalDestination(socket) });
          socket.end(String(port));
        });
        await listenServerInNetns(server, request.netnsPath, { port, mark: 0x539 });
        servers.push(server);
      }
      this.pods.set(request.uid, {
        netnsPath: request.netnsPath,
        servers,
        fd,
        netnsInode: statSync(request.netnsPath).ino,
      });
    } else if (request.type === 'del') {
      await this.closePod(request.uid);
    }
    this.requests.push(request);
    for (const waiter of [...this.waiters]) {
      if (waiter.test(request)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  private async closePod(uid: string): Promise<void> {
    const pod = this.pods.get(uid);
    if (!pod) return;
    this.pods.delete(uid);
    await Promise.all(pod.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (pod.fd !== undefined) closeSync(pod.fd);
  }

  async close(): Promise<void> {
    await this.disconnect();
    for (const uid of [...this.pods.keys()]) await this.closePod(uid);
  }
}
