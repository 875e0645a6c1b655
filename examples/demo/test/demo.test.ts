import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, '..', 'dist', 'main.js');

describe('the one-command demo (npm start)', () => {
  it.skipIf(!existsSync(main))('runs the mesh, enforces the policies and prints the summary', async () => {
    const run = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [main], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
    expect(run.output).toContain('All traffic behaved as the policies say');
    expect(run.code).toBe(0);
    expect(run.output).toMatch(
      /✓ sleep → greeter \(TCP, server speaks first\)\s+allowed\s+HELLO from greeter \| PING/,
    );
    expect(run.output).toMatch(
      /spiffe:\/\/cluster\.local\/ns\/outside\/sa\/intruder → spiffe:\/\/cluster\.local\/ns\/demo\/sa\/echo DENIED \(denied by DENY policy demo\/deny-outside/,
    );
    expect(run.output).toMatch(/node2: sleep → greeter flags=- security=mutual_tls count=1/);
  });
});
