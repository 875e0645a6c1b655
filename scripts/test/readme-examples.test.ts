/**
 * Every package's README example must compile against the package's published
 * types, so the documentation cannot drift from the API. Each ```ts block of a
 * workspace README is type-checked as a module of its own, with the repo's
 * strict compiler flags, resolving `@amesh/*` through node_modules to the built
 * `dist/*.d.ts` (npm test builds before it runs tests). A block fenced as
 * ```ts fragment is a deliberate excerpt and is skipped.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

interface Example {
  readonly readme: string;
  readonly line: number;
  readonly file: string;
  readonly code: string;
}

/** The checked ```ts blocks of one Markdown text, with the line each starts on. */
function extractExamples(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const fence = /^```(?:ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) {
    if ((m[1] ?? '').trim() === 'fragment') continue;
    blocks.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[2] ?? '' });
  }
  return blocks;
}

function workspaceExamples(dir: string): Example[] {
  const out: Example[] = [];
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group)).sort()) {
      const readme = join(group, name, 'README.md');
      if (!existsSync(join(root, readme))) continue;
      extractExamples(readFileSync(join(root, readme), 'utf8')).forEach((block, i) => {
        out.push({
          readme,
          line: block.line,
          file: join(dir, `${group}-${name}-${i + 1}.mts`),
          code: block.code,
        });
      });
    }
  }
  return out;
}

// Inside the repo's node_modules so `@amesh/*` and third-party imports resolve as they would for a user.
const workDir = join(root, 'node_modules', '.cache', `readme-examples-${process.pid}`);
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('README examples', () => {
  it('finds ```ts blocks and skips ```ts fragment blocks', () => {
    const md = 'x\n```ts\nconst a = 1;\n```\n```ts fragment\nb;\n```\n```sh\nls\n```\n';
    expect(extractExamples(md)).toEqual([{ line: 2, code: 'const a = 1;\n' }]);
  });

  it('every workspace README example type-checks against the built packages', async () => {
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    const examples = workspaceExamples(workDir);
    expect(examples.length).toBeGreaterThan(10);
    for (const e of examples) writeFileSync(e.file, e.code);
    writeFileSync(
      join(workDir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(root, 'tsconfig.base.json'),
        // An example may import more than it uses to show the API; `fetch` and friends come from DOM.
        compilerOptions: { noUnusedLocals: false, noUnusedParameters: false, lib: ['ES2023', 'DOM'] },
        include: ['*.mts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', workDir], { cwd: root }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    // Name the README and its line instead of the temporary file.
    const report = examples.reduce(
      (text, e) => text.replaceAll(e.file.slice(root.length + 1), `${e.readme} (block at line ${e.line})`),
      result,
    );
    expect(report).toBe('');
  }, 120_000);
});
