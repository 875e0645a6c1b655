import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Scenario } from '../runner.js';

/**
 * Every scenario by name: each file `<name>.ts` in this folder default-exports
 * a function that builds the scenario. Loaded lazily so one scenario's peers
 * do not slow another. Adding a scenario is adding a file.
 */
export function discoverScenarios(
  dir = dirname(fileURLToPath(import.meta.url)),
): Record<string, () => Promise<Scenario>> {
  const found: Record<string, () => Promise<Scenario>> = {};
  for (const file of readdirSync(dir).sort()) {
    const match = /^([a-z0-9-]+)\.ts$/.exec(file);
    if (!match || file === 'index.ts') continue;
    found[match[1]!] = async () => {
      const module = (await import(pathToFileURL(`${dir}/${file}`).href)) as { default?: unknown };
      if (typeof module.default !== 'function') {
        throw new Error(`bench scenario ${file} must default-export a function returning a Scenario`);
      }
      return (await (module.default as () => Scenario | Promise<Scenario>)()) satisfies Scenario;
    };
  }
  return found;
}

export const scenarios: Readonly<Record<string, () => Promise<Scenario>>> = discoverScenarios();
