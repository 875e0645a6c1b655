import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stop, waitForPort } from './processes.js';

/** Where Debian's haproxy lives (`apt-get install haproxy`). */
export const HAPROXY = '/usr/sbin/haproxy';

/** A running HAProxy TLS-to-TLS chain: entry (plain) → TLS 1.3 → exit → sink. */
export interface HaproxyChain {
  readonly entryPort: number;
  readonly pid: number | undefined;
  close(): Promise<void>;
}

/**
 * The peer a user would pick for an mTLS tunnel: two HAProxy frontends in
 * one single-threaded process (like one ztunnel per node on one core),
 * TLS 1.3 with AES-128-GCM between them, server certificate verified.
 * `cert`/`key` must be for the name `amesh-bench`.
 */
export async function startHaproxyChain(options: {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly sinkHost: string;
  readonly sinkPort: number;
}): Promise<HaproxyChain> {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-bench-haproxy-'));
  writeFileSync(join(dir, 'combined.pem'), Buffer.concat([options.cert, options.key]));
  writeFileSync(join(dir, 'ca.pem'), options.cert);
  const [entryPort, exitPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    [
      'global',
      '  nbthread 1',
      '  ssl-default-bind-options ssl-min-ver TLSv1.3',
      '  ssl-default-server-options ssl-min-ver TLSv1.3',
      '  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256',
      '  ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend entry',
      `  bind 127.0.0.1:${entryPort}`,
      '  default_backend exit',
      'backend exit',
      `  server exit 127.0.0.1:${exitPort} ssl verify required ca-file ${join(dir, 'ca.pem')} verifyhost amesh-bench sni str(amesh-bench)`,
      'frontend tls',
      `  bind 127.0.0.1:${exitPort} ssl crt ${join(dir, 'combined.pem')}`,
      '  default_backend sink',
      'backend sink',
      `  server sink ${options.sinkHost}:${options.sinkPort}`,
      '',
    ].join('\n'),
  );
  const child = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  const close = async (): Promise<void> => {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  };
  await waitForPort(entryPort, child).catch(async (error: unknown) => {
    await close();
    throw error;
  });
  return { entryPort, pid: child.pid, close };
}
