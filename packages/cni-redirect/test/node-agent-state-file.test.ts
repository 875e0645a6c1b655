import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeZdsHello, InMemoryPodSource } from '../src/index.js';
import { isAddonAvailable, NodeAgent, requestNodeAgent } from '../src/node/index.js';
import { SeqpacketSocket } from '../src/node/seqpacket.js';

const skipReason =
  process.platform !== 'linux' ? 'needs Linux' : isAddonAvailable() ? undefined : 'needs the native addon';

describe.skipIf(skipReason !== undefined)(
  `node agent: state file and the seqpacket hello (no root needed)${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let dir: string;
    const closers: (() => unknown)[] = [];
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'amesh-agent-state-'));
    });
    afterEach(async () => {
      for (const c of closers.splice(0).reverse()) await c();
      rmSync(dir, { recursive: true, force: true });
    });

    it('records each netns from CNI ADD in the state file, ignores a corrupt one with an error, and uninstall removes it', async () => {
      const stateFile = join(dir, 'state.json');
      writeFileSync(stateFile, '{ not json');
      const errors: string[] = [];
      const options = {
        podSource: new InMemoryPodSource(),
        cniSocketPath: join(dir, 'cni.sock'),
        zdsSocketPath: join(dir, 'zds.sock'),
        stateFile,
        onError: (error: Error, context: string) => errors.push(`${context}: ${error.message}`),
      };
      const agent = await NodeAgent.start(options);
      closers.push(() => agent.close());
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^ignoring .*state\.json: /);
      // A pod the source does not know yet: passed through, but its netns is remembered.
      const add = {
        command: 'ADD',
        containerId: 'c1',
        ifname: 'eth0',
        podNamespace: 'shop',
        ips: [],
      } as const;
      expect(
        await requestNodeAgent(
          options.cniSocketPath,
          { ...add, netns: '/var/run/netns/p1', podName: 'p1' },
          5_000,
        ),
      ).toEqual({ ok: true, outcome: 'not-enrolled' });
      expect(
        await requestNodeAgent(
          options.cniSocketPath,
          { ...add, netns: '/var/run/netns/p2', podName: 'p2' },
          5_000,
        ),
      ).toEqual({ ok: true, outcome: 'not-enrolled' });
      await requestNodeAgent(
        options.cniSocketPath,
        { command: 'DEL', containerId: 'c1', ifname: 'eth0', podNamespace: 'shop', podName: 'p1', ips: [] },
        5_000,
      );
      await agent.close();
      expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual({
        version: 1,
        netns: { 'shop/p2': '/var/run/netns/p2' },
      });
      // A restarted agent reads it back without complaint, and uninstall removes it.
      const second = await NodeAgent.start(options);
      expect(errors).toHaveLength(1);
      await second.uninstall();
      expect(existsSync(stateFile)).toBe(false);
    });

    it('over SOCK_SEQPACKET a peer that does not say hello is dropped; one that does becomes the session', async () => {
      const agent = await NodeAgent.start({
        podSource: new InMemoryPodSource(),
        cniSocketPath: join(dir, 'cni.sock'),
        zdsSocketPath: join(dir, 'zds.sock'),
      });
      closers.push(() => agent.close());
      const bad = SeqpacketSocket.connect(join(dir, 'zds.sock'), 1024);
      const badClosed = new Promise<Error | undefined>((resolve) => (bad.onClose = resolve));
      bad.onMessage = () => {};
      bad.send(Uint8Array.of(0x08, 0x07)); // ZdsHello with version 7
      expect(await badClosed).toBeUndefined();
      expect(agent.ztunnelConnected).toBe(false);

      const good = SeqpacketSocket.connect(join(dir, 'zds.sock'), 1024);
      closers.push(() => good.close());
      const snapshot = new Promise<Uint8Array>(
        (resolve) => (good.onMessage = (m) => resolve(m.data.slice())),
      );
      good.send(encodeZdsHello());
      // No pods: the snapshot is just SnapshotSent (WorkloadRequest field 3, empty).
      expect([...(await snapshot)]).toEqual([0x1a, 0x00]);
      expect(agent.ztunnelConnected).toBe(true);
    });
  },
);
