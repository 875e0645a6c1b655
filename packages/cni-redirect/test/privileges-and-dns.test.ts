import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPodRules } from '../src/node/index.js';
import { NetnsSet, sh, uniqueSuffix } from './helpers/netns.js';
import { netnsSkipReason } from './helpers/privileges.js';

const DIST = fileURLToPath(new URL('../dist/node/index.js', import.meta.url));
const hasSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
const unprivilegedSkip =
  netnsSkipReason ??
  (!existsSync(DIST) ? 'needs the built package' : !hasSetpriv ? 'needs setpriv' : undefined);

describe.skipIf(netnsSkipReason !== undefined)(
  `DNS capture and privilege errors ${netnsSkipReason ? `(skipped: ${netnsSkipReason})` : ''}`,
  () => {
    const namespaces = new NetnsSet();
    let pod: string;

    beforeAll(() => {
      const name = `amd${uniqueSuffix()}`;
      pod = namespaces.add(name);
      // Just enough of an interface for a default route (both veth ends stay in the pod netns).
      sh('ip', ['-n', name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
      sh('ip', ['-n', name, 'addr', 'add', '10.99.0.2/24', 'dev', 'eth0']);
      sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', name, 'link', 'set', 'eth0peer', 'up']);
      sh('ip', ['-n', name, 'route', 'add', 'default', 'via', '10.99.0.1', 'dev', 'eth0']);
    });

    afterAll(() => namespaces.cleanup());

    it('with DNS capture, UDP 53 and TCP 53 to any resolver reach the DNS proxy on 15053', async () => {
      await applyPodRules(pod, { dnsCapture: true });
      // Runs inside the pod netns: a UDP and a TCP "DNS proxy" on 15053, and clients
      // that talk to 192.0.2.53:53; prints what each side saw.
      const script = `
        import dgram from 'node:dgram';
        import net from 'node:net';
        const fail = setTimeout(() => { console.log(JSON.stringify({ timeout: true })); process.exit(1); }, 10000);
        // Bound to 127.0.0.1: output-hook redirect sends to 127.0.0.1, and only replies
        // sourced from there match the conntrack entry and get un-NAT-ed to 192.0.2.53:53.
        const proxy = dgram.createSocket('udp4');
        proxy.on('message', (msg, rinfo) => proxy.send('answer:' + msg, rinfo.port, rinfo.address));
        await new Promise((r) => proxy.bind(15053, '127.0.0.1', r));
        const client = dgram.createSocket('udp4');
        const udp = await new Promise((resolve) => {
          client.on('message', (msg, rinfo) => resolve({ reply: String(msg), from: rinfo.address + ':' + rinfo.port }));
          client.send('query', 53, '192.0.2.53');
        });
        const server = net.createServer((s) => s.end('tcp-answer'));
        await new Promise((r) => server.listen(15053, '0.0.0.0', r));
        const tcp = await new Promise((resolve, reject) => {
          let text = '';
          const s = net.connect(53, '192.0.2.53');
          s.on('data', (d) => (text += d));
          s.on('end', () => resolve(text));
          s.on('error', reject);
        });
        clearTimeout(fail);
        console.log(JSON.stringify({ udp, tcp }));
        process.exit(0);`;
      const run = spawnSync(
        'nsenter',
        [`--net=${pod}`, process.execPath, '--input-type=module', '-e', script],
        {
          encoding: 'utf8',
        },
      );
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({
        udp: { reply: 'answer:query', from: '192.0.2.53:53' },
        tcp: 'tcp-answer',
      });
    });

    it.skipIf(unprivilegedSkip !== undefined)(
      `fails with CNI_ERR_PERMISSION without root ${unprivilegedSkip ? `(skipped: ${unprivilegedSkip})` : ''}`,
      () => {
        const script = `
          const { applyPodRules } = await import(${JSON.stringify(DIST)});
          const codes = [];
          for (const netns of [null, ${JSON.stringify(pod)}]) {
            try { await applyPodRules(netns); codes.push('applied'); } catch (e) { codes.push(e.code); }
          }
          console.log(JSON.stringify(codes));`;
        const run = spawnSync(
          'setpriv',
          [
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            process.execPath,
            '--input-type=module',
            '-e',
            script,
          ],
          { encoding: 'utf8' },
        );
        expect(JSON.parse(run.stdout)).toEqual(['CNI_ERR_PERMISSION', 'CNI_ERR_PERMISSION']);
      },
    );
  },
);
