#!/usr/bin/env node
// `npm test`: lint, build (with publint), typecheck, the import-cycle check,
// then every workspace's tests in one vitest run. Ends with the line
// `tests: N passed, N failed, N skipped` that CI reads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' };
const turbo = ['turbo', '--output-logs=errors-only', '--log-order=grouped'];

const steps = [
  ['lint and format', ['npx', 'biome', 'check', '.']],
  ['build and publint', ['npx', 'turbo', 'run', 'build', ...turbo.slice(1)]],
  ['typecheck', ['npx', 'turbo', 'run', 'typecheck', ...turbo.slice(1)]],
  ['import cycles', ['node', 'scripts/check-cycles.mjs']],
];

for (const [name, [cmd, ...args]] of steps) {
  console.log(`\n== ${name}: ${[cmd, ...args].join(' ')}`);
  const run = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (run.status !== 0) {
    console.error(`\n${name} failed (exit ${run.status ?? run.signal})`);
    console.log('tests: 0 passed, 1 failed');
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'amesh-test-'));
const report = join(dir, 'vitest.json');
console.log('\n== tests: npx vitest run');
const run = spawnSync('npx', ['vitest', 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...env, AMESH_VITEST_JSON: report },
});
let summary;
try {
  summary = JSON.parse(readFileSync(report, 'utf8'));
} catch {
  summary = undefined;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (!summary) {
  console.log(`tests: 0 passed, 1 failed (vitest exited ${run.status ?? run.signal} without a report)`);
  process.exit(1);
}
const passed = summary.numPassedTests;
const failed = summary.numFailedTests + (run.status !== 0 && summary.numFailedTests === 0 ? 1 : 0);
const skipped = summary.numPendingTests + summary.numTodoTests;
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
