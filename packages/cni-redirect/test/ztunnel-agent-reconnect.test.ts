import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZdsPodTable, type ZdsRequest, zdsReconnectDelay } from '../src/index.js';
import {
  isAddonAvailable,
  ZdsServer,
  type ZdsSession,
  type ZdsTransport,
  ZtunnelAgentClient,
  type ZtunnelAgentClientState,
  type ZtunnelPodEvent,
} from '../src/node/index.js';

describe('ZdsPodTable: snapshot reconciliation (sans-IO)', () => {
  it('an Add for a pod served in the same namespace is unchanged; another namespace replaces it', () => {
    const table = new ZdsPodTable<string>();
    table.beginSession();
    expect(table.decideAdd('a', 'ns1')).toEqual({ action: 'serve' });
    table.commitAdd('a', 'ns1', 'A');
    expect(table.decideAdd('a', 'ns1')).toEqual({ action: 'unchanged' });
    expect(table.decideAdd('a', 'ns2')).toEqual({ action: 'replace' });
    expect(table.commitAdd('a', 'ns2', 'A2')?.value).toBe('A');
    expect(table.get('a')?.netnsIdentity).toBe('ns2');
  });

  it('SnapshotSent drops only pods neither added nor kept since the session began', () => {
    const table = new ZdsPodTable<string>();
    table.beginSession();
    for (const uid of ['a', 'b', 'c']) table.commitAdd(uid, uid, uid);
    expect(table.snapshotSent()).toEqual([]);
    table.beginSession();
    expect(table.inSnapshot).toBe(true);
    table.decideAdd('a', 'a');
    table.keep('c');
    expect(table.snapshotSent().map((e) => e.uid)).toEqual(['b']);
    expect(table.inSnapshot).toBe(false);
    expect(table.entries().map((e) => e.uid)).toEqual(['a', 'c']);
    // Outside a snapshot SnapshotSent removes nothing.
    expect(table.snapshotSent()).toEqual([]);
    expect(table.remove('a')?.value).toBe('a');
    expect(table.remove('a')).toBeUndefined();
  });
});

describe('zdsReconnectDelay: jittered exponential backoff', () => {
  it('doubles from the initial delay to the maximum, half fixed and half jitter', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7, 20, 5000].map((a) => zdsReconnectDelay(a, {}, 1));
    expect(ceilings).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
    expect(zdsReconnectDelay(0, {}, 0)).toBe(50);
    expect(zdsReconnectDelay(6, {}, 0)).toBe(2500);
    expect(zdsReconnectDelay(2, { initialMs: 10, maxMs: 25 }, 0.5)).toBe(19);
  });

  it('rejects a negative attempt and inconsistent options', () => {
    expect(() => zdsReconnectDelay(-1)).toThrow(RangeError);
    expect(() => zdsReconnectDelay(0.5)).toThrow(RangeError);
    expect(() => zdsReconnectDelay(0, { initialMs: 0 })).toThrow(RangeError);
    expect(() => zdsReconnectDelay(0, { initialMs: 10, maxMs: 5 })).toThrow(RangeError);
  });
});

/**
 * A node agent stand-in: a real {@link ZdsServer} that sends a snapshot of
 * `pods` (uid → netns path) to each ztunnel that connects.
 */
class TestAgent {
  readonly sessions: ZdsSession[] = [];
  private server: ZdsServer | undefined;

  constructor(
    private readonly socketPath: string,
    readonly pods: Map<string, string>,
    private readonly transport: ZdsTransport,
  ) {}

  async start(): Promise<void> {
    this.server = await ZdsServer.listen({
      socketPath: this.socketPath,
      transport: this.transport,
      onZtunnelConnected: async (session) => {
        this.sessions.push(session);
        for (const [uid, netnsPath] of this.pods) await session.send({ type: 'add', uid, netnsPath });
        await session.send({ type: 'snapshot-sent' });
      },
    });
  }

  send(request: ZdsRequest): Promise<void> {
    const session = this.server?.session;
    if (!session) throw new Error('no ztunnel connected');
    return session.send(request);
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}

const transports = (['seqpacket', 'stream'] as const).filter((t) => t === 'stream' || isAddonAvailable());
if (transports.length < 2) console.warn('seqpacket transport not tested: the native addon is not built');

describe.each(transports)(
  'ZtunnelAgentClient over %s: reconnects to the node agent and reconciles its snapshot',
  (transport) => {
    let dir: string;
    let socketPath: string;
    const closers: (() => unknown)[] = [];
    /** Distinct files stand in for network namespaces: the client tells namespaces apart by inode. */
    const netns = (name: string): string => {
      const path = join(dir, `netns-${name}`);
      writeFileSync(path, name);
      return path;
    };

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'amesh-zds-client-'));
      socketPath = join(dir, 'ztunnel.sock');
    });
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      rmSync(dir, { recursive: true, force: true });
    });

    function client() {
      const served = new Map<string, string>();
      const calls: string[] = [];
      const states: ZtunnelAgentClientState['state'][] = [];
      const events: ZtunnelPodEvent[] = [];
      let refuse: string | undefined;
      const c = new ZtunnelAgentClient({
        socketPath,
        transport,
        backoff: { initialMs: 5, maxMs: 40 },
        handler: {
          serve: (pod) => {
            if (pod.uid === refuse) throw new Error(`cannot listen in ${pod.netnsPath}`);
            calls.push(`serve:${pod.uid}`);
            served.set(pod.uid, pod.netnsPath);
          },
          stop: (uid) => {
            calls.push(`stop:${uid}`);
            served.delete(uid);
          },
        },
      });
      c.on('state', (s) => states.push(s.state));
      c.on('pod', (e) => events.push(e));
      closers.push(async () => {
        await c.close();
        c.releasePods();
      });
      return {
        c,
        served,
        calls,
        states,
        events,
        refuse: (uid: string | undefined) => {
          refuse = uid;
        },
      };
    }

    function agent(pods: Record<string, string>): TestAgent {
      const a = new TestAgent(socketPath, new Map(Object.entries(pods)), transport);
      closers.push(() => a.stop());
      return a;
    }

    it('ztunnel started before the agent keeps retrying, then receives the snapshot', async () => {
      const z = client();
      z.c.start();
      await new Promise<void>((resolve) => {
        const onState = (s: ZtunnelAgentClientState): void => {
          if (s.state === 'backoff' && s.attempt >= 2) {
            z.c.off('state', onState);
            resolve();
          }
        };
        z.c.on('state', onState);
      });
      const backoff = z.c.state;
      expect(backoff.state).toBe('backoff');
      if (backoff.state === 'backoff') expect(backoff.error?.message).toMatch(/no node agent on/);
      const a = agent({ p1: netns('p1'), p2: netns('p2') });
      await a.start();
      await z.c.whenSynced();
      expect([...z.served.keys()].sort()).toEqual(['p1', 'p2']);
      expect(
        z.c
          .pods()
          .map((p) => p.uid)
          .sort(),
      ).toEqual(['p1', 'p2']);
      expect(z.states.slice(0, 2)).toEqual(['connecting', 'backoff']);
      expect(z.states.slice(-2)).toEqual(['syncing', 'synced']);
    });

    it('agent restart: pods stay served while it is away, and its replayed Adds reopen nothing', async () => {
      const pods = { p1: netns('p1'), p2: netns('p2') };
      const first = agent(pods);
      await first.start();
      const z = client();
      z.c.start();
      await z.c.whenSynced();
      expect(z.calls.sort()).toEqual(['serve:p1', 'serve:p2']);

      const lost = new Promise<void>((resolve) => z.c.once('state', () => resolve()));
      await first.stop();
      await lost;
      expect(['connecting', 'backoff']).toContain(z.c.state.state);
      // Disconnected: nothing was stopped.
      expect([...z.served.keys()].sort()).toEqual(['p1', 'p2']);

      const second = agent(pods);
      await second.start();
      await z.c.whenSynced();
      expect(z.calls.sort()).toEqual(['serve:p1', 'serve:p2']);
      expect(
        z.events
          .filter((e) => e.change === 'unchanged')
          .map((e) => e.uid)
          .sort(),
      ).toEqual(['p1', 'p2']);
      // New pods after the reconnect are served as usual.
      await second.send({ type: 'add', uid: 'p3', netnsPath: netns('p3') });
      expect(z.served.has('p3')).toBe(true);
      await second.send({ type: 'del', uid: 'p1' });
      expect([...z.served.keys()].sort()).toEqual(['p2', 'p3']);
    });

    it('a pod deleted while ztunnel was disconnected is dropped at SnapshotSent, the others kept', async () => {
      const p1 = netns('p1');
      const p2 = netns('p2');
      const first = agent({ p1, p2 });
      await first.start();
      const z = client();
      z.c.start();
      await z.c.whenSynced();
      await first.stop();
      // The agent restarts without p2 (deleted meanwhile); p1 comes back as a Keep, p4 is new.
      const p4 = netns('p4');
      const keepP1 = ZdsServer.listen({
        socketPath,
        transport,
        onZtunnelConnected: async (session) => {
          await session.send({ type: 'keep', uid: 'p1' });
          await session.send({ type: 'add', uid: 'p4', netnsPath: p4 });
          await session.send({ type: 'snapshot-sent' });
        },
      });
      const server = await keepP1;
      closers.push(() => server.close());
      await z.c.whenSynced();
      expect([...z.served.keys()].sort()).toEqual(['p1', 'p4']);
      expect(z.events.filter((e) => e.change === 'stale').map((e) => e.uid)).toEqual(['p2']);
      expect(z.calls).toContain('stop:p2');
      expect(z.calls).not.toContain('stop:p1');
    });

    it('an Add in a new namespace (sandbox recreated) replaces the pod; a refused Add is acked with the error', async () => {
      const a = agent({ p1: netns('p1') });
      await a.start();
      const z = client();
      z.c.start();
      await z.c.whenSynced();
      const moved = netns('p1-new');
      await a.send({ type: 'add', uid: 'p1', netnsPath: moved });
      expect(statSync(z.served.get('p1')!).ino).toBe(statSync(moved).ino);
      expect(z.events.at(-1)).toEqual({ uid: 'p1', change: 'replaced' });

      z.refuse('p9');
      await expect(a.send({ type: 'add', uid: 'p9', netnsPath: netns('p9') })).rejects.toThrow(
        /ztunnel refused: cannot listen in/,
      );
      expect(z.c.pods().map((p) => p.uid)).toEqual(['p1']);
      // After a refusal, the same Add is tried again (not treated as unchanged).
      z.refuse(undefined);
      await a.send({ type: 'add', uid: 'p9', netnsPath: netns('p9') });
      expect(z.served.has('p9')).toBe(true);
    });

    it('close() stops reconnecting and keeps the served pods listed', async () => {
      const a = agent({ p1: netns('p1') });
      await a.start();
      const z = client();
      z.c.start();
      await z.c.whenSynced();
      await z.c.close();
      expect(z.c.state).toEqual({ state: 'closed' });
      expect(z.c.pods().map((p) => p.uid)).toEqual(['p1']);
      await expect(z.c.whenSynced()).rejects.toThrow(/closed/);
      // The agent sees the connection end.
      await a.sessions[0]!.closed;
    });
  },
);
