/**
 * DnsProxy.listen({ udpFd, tcpFd }): the netns path, where sockets are
 * created elsewhere (inside a pod's network namespace) and handed over as
 * file descriptors. Here python3 creates them and execs node with them
 * inherited; the child runs the built package.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { resolve } from 'node:path';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DnsTcpFrameDecoder,
  DnsType,
  encodeDnsMessage,
  frameDnsTcpMessage,
  parseDnsMessage,
} from '../src/index.js';
import { query } from './helpers.js';

const root = resolve(import.meta.dirname, '../../..');
const dist = resolve(import.meta.dirname, '../dist/node/index.js');
const hasPython = spawnSync('python3', ['--version']).status === 0;
const skipReason = !hasPython
  ? 'python3 is not installed'
  : !existsSync(dist)
    ? 'the package is not built (npm run build)'
    : '';

const CHILD = `
import { DnsNameTable } from '@amesh/dns-proxy';
import { DnsProxy } from '@amesh/dns-proxy/node';
const [udpFd, tcpFd, port] = process.argv.slice(1).map(Number);
const table = new DnsNameTable([{ hostname: 'echo.demo.svc.cluster.local', namespace: 'demo', addresses: ['10.96.0.10'] }]);
const proxy = new DnsProxy({ table, upstreams: [] });
const { udp, tcp } = await proxy.listen({ udpFd, tcpFd });
console.log(JSON.stringify({ port, udp: udp.port, tcp: tcp.port }));
process.stdin.on('end', () => proxy.close().then(() => process.exit(0)));
process.stdin.resume();
`;

const PYTHON = `
import os, socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('127.0.0.1', 0))
port = u.getsockname()[1]
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.bind(('127.0.0.1', port))
t.listen(16)
os.set_inheritable(u.fileno(), True)
os.set_inheritable(t.fileno(), True)
os.execv(sys.argv[1], [sys.argv[1], '--input-type=module', '-e', sys.argv[2], str(u.fileno()), str(t.fileno()), str(port)])
`;

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill();
  child = undefined;
});

describe.skipIf(skipReason !== '')(
  `DnsProxy on inherited file descriptors${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    it('serves UDP and TCP on sockets it did not create', async () => {
      const proc = spawn('python3', ['-c', PYTHON, process.execPath, CHILD], {
        cwd: root,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      child = proc;
      const info = await new Promise<{ port: number; udp: number; tcp: number }>((res, rej) => {
        let out = '';
        proc.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) res(JSON.parse(out.split('\n')[0] as string));
        });
        proc.on('exit', (code) => rej(new Error(`child exited with ${code}`)));
      });
      expect(info.udp).toBe(info.port);
      expect(info.tcp).toBe(info.port);
      const resolver = new Resolver({ timeout: 5000, tries: 1 });
      resolver.setServers([`127.0.0.1:${info.port}`]);
      expect(await resolver.resolve4('echo.demo.svc.cluster.local')).toEqual(['10.96.0.10']);
      const socket = net.connect(info.port, '127.0.0.1');
      const decoder = new DnsTcpFrameDecoder();
      const reply = await new Promise<Uint8Array>((res, rej) => {
        socket.on('error', rej);
        socket.on('data', (chunk: Buffer) => {
          const [first] = decoder.push(chunk);
          if (first) res(first);
        });
        socket.write(frameDnsTcpMessage(encodeDnsMessage(query('echo.demo', DnsType.A))));
      });
      socket.destroy();
      expect(parseDnsMessage(reply).answers).toEqual([expect.objectContaining({ address: '10.96.0.10' })]);
      const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
      proc.stdin?.end();
      expect(await exited).toBe(0);
    });
  },
);
