import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM script without type declarations
import { findCycles, sourceRoots } from '../check-cycles.mjs';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeRepo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'amesh-cycles-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import cycle check', () => {
  it('finds a cycle inside one package (NodeNext .js specifiers)', async () => {
    const root = fakeRepo({
      'packages/a/src/index.ts': "export { b } from './b.js';\n",
      'packages/a/src/b.ts': "import { c } from './c.js';\nexport const b = c;\n",
      'packages/a/src/c.ts': "import { b } from './b.js';\nexport const c = 1;\nexport const d = b;\n",
    });
    const cycles = await findCycles(sourceRoots(root), root);
    expect(cycles).toEqual([['packages/a/src/b.ts', 'packages/a/src/c.ts']]);
  });

  it('finds a cycle that crosses two packages through @amesh/ imports', async () => {
    const root = fakeRepo({
      'packages/low/src/index.ts': "import { high } from '@amesh/high';\nexport const low = () => high;\n",
      'packages/high/src/index.ts': "import { low } from '@amesh/low';\nexport const high = () => low;\n",
    });
    const cycles = await findCycles(sourceRoots(root), root);
    expect(cycles).toHaveLength(1);
    expect(cycles[0].sort()).toEqual(['packages/high/src/index.ts', 'packages/low/src/index.ts']);
  });

  it('follows subpath exports (@amesh/<name>/node) across packages', async () => {
    const root = fakeRepo({
      'packages/low/src/index.ts': 'export const low = 1;\n',
      'packages/low/src/node/index.ts': "import { high } from '@amesh/high';\nexport const lowNode = high;\n",
      'packages/high/src/index.ts':
        "import { lowNode } from '@amesh/low/node';\nexport const high = () => lowNode;\n",
    });
    const cycles = await findCycles(sourceRoots(root), root);
    expect(cycles).toHaveLength(1);
    expect(cycles[0].sort()).toEqual(['packages/high/src/index.ts', 'packages/low/src/node/index.ts']);
  });

  it('passes a tree whose imports point one way', async () => {
    const root = fakeRepo({
      'packages/low/src/index.ts': 'export const low = 1;\n',
      'packages/high/src/index.ts': "import { low } from '@amesh/low';\nexport const high = low + 1;\n",
    });
    expect(await findCycles(sourceRoots(root), root)).toEqual([]);
  });

  it('finds no cycle in this repository', async () => {
    expect(await findCycles(sourceRoots())).toEqual([]);
  });
});
