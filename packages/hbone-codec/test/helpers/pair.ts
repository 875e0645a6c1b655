import { Http2Connection, type Http2ConnectionOptions, type Http2Event } from '../../src/index.js';

/** Two sans-IO connections wired back to back in memory. */
export interface Pair {
  readonly client: Http2Connection;
  readonly server: Http2Connection;
  readonly clientEvents: Http2Event[];
  readonly serverEvents: Http2Event[];
  /** Moves bytes both ways until both sides are quiet. */
  pump(): void;
}

export function pair(
  clientOptions: Partial<Http2ConnectionOptions> = {},
  serverOptions: Partial<Http2ConnectionOptions> = {},
): Pair {
  const client = new Http2Connection({ role: 'client', ...clientOptions });
  const server = new Http2Connection({ role: 'server', ...serverOptions });
  const clientEvents: Http2Event[] = [];
  const serverEvents: Http2Event[] = [];
  const pump = (): void => {
    for (let i = 0; i < 1000; i++) {
      const toServer = client.flush();
      const toClient = server.flush();
      if (toServer.length === 0 && toClient.length === 0) break;
      if (toServer.length) server.receive(Buffer.concat(toServer));
      if (toClient.length) client.receive(Buffer.concat(toClient));
      clientEvents.push(...client.takeEvents());
      serverEvents.push(...server.takeEvents());
    }
    clientEvents.push(...client.takeEvents());
    serverEvents.push(...server.takeEvents());
  };
  pump();
  return { client, server, clientEvents, serverEvents, pump };
}

/** Total DATA bytes of a stream in an event list. */
export function dataBytes(events: readonly Http2Event[], streamId: number): number {
  let n = 0;
  for (const e of events) if (e.type === 'data' && e.streamId === streamId) n += e.data.length;
  return n;
}
