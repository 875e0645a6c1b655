import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../src/index.js';

/** True when the openssl CLI is installed. */
export const hasOpenssl: boolean = spawnSync('openssl', ['version']).status === 0;

/** Runs openssl; returns stdout+stderr and the exit status. */
export function openssl(args: readonly string[], input?: string): { status: number; output: string } {
  const result = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** A scratch directory removed by the returned cleanup. */
export function scratch(): { dir: string; write(name: string, text: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-mtls-'));
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8' });
}

interface FakeTimer {
  at: number;
  callback: () => void;
  id: number;
}

/** A manual clock: time moves only through `advance`. */
export class FakeClock implements Clock {
  #now: number;
  #timers: FakeTimer[] = [];
  #next = 0;
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = { at: this.#now + Math.max(0, delayMs), callback, id: this.#next++ };
    this.#timers.push(timer);
    return timer;
  }
  clearTimer(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t !== handle);
  }
  /** Delays of pending timers from now, sorted. */
  pending(): number[] {
    return this.#timers.map((t) => t.at - this.#now).sort((a, b) => a - b);
  }
  /** Moves time forward, firing due timers in order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await flush();
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.callback();
    }
    this.#now = end;
    await flush();
  }
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
