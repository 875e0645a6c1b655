import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A short unique suffix, so parallel runs never collide on names. */
export function uniqueSuffix(): string {
  return `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Runs a command synchronously; throws with its stderr when it fails. */
export function sh(command: string, args: readonly string[], input?: string): string {
  const run = spawnSync(command, args, { input: input ?? '', encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  }
  return run.stdout;
}

/** Runs a command and resolves with its exit code and output (never throws on a non-zero exit). */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Network namespaces created by a test, deleted by {@link NetnsSet.cleanup}. */
export class NetnsSet {
  private readonly names: string[] = [];

  add(name: string): string {
    sh('ip', ['netns', 'add', name]);
    this.names.push(name);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return `/var/run/netns/${name}`;
  }

  /** Deletes every namespace (links inside go with them); never throws. */
  cleanup(): void {
    for (const name of this.names.splice(0).reverse()) {
      spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    }
  }
}

/** True when `ip netns list` shows a namespace of that name. */
export function netnsExists(name: string): boolean {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .some((line) => line.split(' ')[0] === name);
}
