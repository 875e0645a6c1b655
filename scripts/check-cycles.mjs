#!/usr/bin/env node
// Fails when any import cycle exists across the repository's TypeScript
// sources, following imports between packages (`@amesh/<name>` resolves to
// `packages/<name>/src/index.ts`), so a cycle through two packages is caught
// even before anything is built.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import madge from 'madge';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Source folders to scan: every workspace's `src/`. */
export function sourceRoots(root = ROOT) {
  const roots = [];
  for (const group of ['packages', 'examples']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const src = join(dir, name, 'src');
      if (existsSync(src)) roots.push(src);
    }
  }
  if (existsSync(join(root, 'bench', 'src'))) roots.push(join(root, 'bench', 'src'));
  return roots;
}

/**
 * Returns every import cycle among the `.ts` files under `roots`, each as a
 * list of paths relative to `baseDir`.
 */
export async function findCycles(roots, baseDir = ROOT) {
  if (roots.length === 0) return [];
  const result = await madge(roots, {
    baseDir,
    fileExtensions: ['ts'],
    excludeRegExp: [/\.d\.ts$/, /node_modules/],
    detectiveOptions: { ts: { skipTypeImports: false }, es6: { mixedImports: true } },
    tsConfig: {
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        baseUrl: baseDir,
        paths: subpathAliases(baseDir),
      },
    },
  });
  const warnings = result.warnings();
  if (warnings.skipped?.length) {
    const unresolved = warnings.skipped.filter((s) => s.startsWith('.') || s.startsWith('@amesh/'));
    if (unresolved.length) throw new Error(`imports that could not be resolved: ${unresolved.join(', ')}`);
  }
  return result.circular();
}

/**
 * `@amesh/<name>` → `packages/<name>/src/index.ts`, and each subpath export
 * `@amesh/<name>/<sub>` → `packages/<name>/src/<sub>/index.ts` where it exists.
 */
function subpathAliases(baseDir) {
  const paths = { '@amesh/*': ['packages/*/src/index.ts'] };
  const dir = join(baseDir, 'packages');
  if (!existsSync(dir)) return paths;
  for (const name of readdirSync(dir)) {
    const src = join(dir, name, 'src');
    if (!existsSync(src)) continue;
    for (const sub of readdirSync(src)) {
      if (existsSync(join(src, sub, 'index.ts')))
        paths[`@amesh/${name}/${sub}`] = [`packages/${name}/src/${sub}/index.ts`];
    }
  }
  return paths;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const roots = sourceRoots();
  const cycles = await findCycles(roots);
  if (cycles.length > 0) {
    console.error(`import cycles found (${cycles.length}):`);
    for (const cycle of cycles) console.error(`  ${[...cycle, cycle[0]].join(' -> ')}`);
    process.exit(1);
  }
  console.log(`no import cycles in ${roots.length} source folders`);
}
