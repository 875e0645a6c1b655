import { mkdir, mkdtemp, rename, rm, writeFile as writeFileInPlace } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryState, resourceKey } from '../src/index.js';
import { DirectorySource } from '../src/node/index.js';
import { recorder } from './event-recorder.js';

/** Atomic write (temp file + rename), as editors and ConfigMap mounts do, so no scan sees a half-written file. */
async function writeFile(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp`);
  await writeFileInPlace(temp, text);
  await rename(temp, path);
}

const ns = (name: string, labels = '{}') =>
  `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: ${labels}}\n`;
const sa = (name: string) =>
  `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${name}, namespace: a}\n`;

describe('DirectoryState: each file replaced as a unit', () => {
  it('emits only the resources whose content changed', () => {
    const state = new DirectoryState();
    const first = state.updateFile('f.yaml', `${ns('a')}---\n${ns('b')}---\n${sa('x')}`);
    expect(first.change.upserted.map(resourceKey)).toEqual([
      'Namespace//a',
      'Namespace//b',
      'ServiceAccount/a/x',
    ]);
    const second = state.updateFile('f.yaml', `${ns('a', '{x: y}')}---\n${ns('b')}`);
    expect(second.change.upserted.map(resourceKey)).toEqual(['Namespace//a']);
    expect(second.change.removed).toEqual([{ kind: 'ServiceAccount', namespace: 'a', name: 'x' }]);
  });

  it('a bad file reports issues and keeps its last good resources', () => {
    const state = new DirectoryState();
    state.updateFile('f.yaml', ns('a'));
    const bad = state.updateFile(
      'f.yaml',
      `${ns('a', '{x: y}')}---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: -1}]}\n`,
    );
    expect(bad.rejected).toEqual(['f.yaml']);
    expect(bad.change).toEqual({ upserted: [], removed: [] });
    expect(bad.issues.get('f.yaml')?.map((i) => i.path)).toEqual(['spec.ports[0].port']);
    expect(state.resources().map((r) => r.metadata.labels)).toEqual([{}]);
    const fixed = state.updateFile('f.yaml', ns('a', '{x: y}'));
    expect(fixed.issues.get('f.yaml')).toEqual([]);
    expect(state.issues().size).toBe(0);
  });

  it('a resource moved between files in one batch is not removed', () => {
    const state = new DirectoryState();
    state.applyFiles(
      new Map([
        ['one.yaml', ns('a')],
        ['two.yaml', ''],
      ]),
    );
    const moved = state.applyFiles(
      new Map([
        ['one.yaml', ''],
        ['two.yaml', ns('a')],
      ]),
    );
    expect(moved.change).toEqual({ upserted: [], removed: [] });
  });

  it('the same resource in two files: the first path wins, the other gets an issue', () => {
    const state = new DirectoryState();
    state.updateFile('b.yaml', ns('a', '{from: b}'));
    const dup = state.updateFile('a.yaml', ns('a', '{from: a}'));
    expect(dup.change.upserted.map((r) => r.metadata.labels)).toEqual([{ from: 'a' }]);
    expect(state.issues().get('b.yaml')).toBeUndefined(); // b's issue is computed when b changes
    const again = state.updateFile('b.yaml', ns('a', '{from: b2}'));
    expect(again.change.upserted).toEqual([]);
    expect(again.issues.get('b.yaml')?.[0]?.message).toMatch(/also defined in a\.yaml/);
    const removed = state.removeFile('a.yaml');
    expect(removed.change.upserted.map((r) => r.metadata.labels)).toEqual([{ from: 'b2' }]);
  });
});

describe('DirectorySource: a watched directory of YAML files', () => {
  let dir = '';
  let source: DirectorySource | undefined;
  afterEach(async () => {
    await source?.close();
    source = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads every file, then an edit emits a change with only the touched resources', async () => {
    dir = await mkdtemp(join(tmpdir(), 'amesh-meshcfg-'));
    await writeFile(join(dir, 'ns.yaml'), `${ns('a')}---\n${ns('b')}`);
    await writeFile(join(dir, 'sa.yml'), sa('x'));
    await writeFile(join(dir, 'notes.txt'), 'not yaml: [');
    const r = recorder();
    source = new DirectorySource({ directory: dir, debounceMs: 20 });
    await source.start(r.listener);
    const initial = await r.next('change');
    expect(initial.change.upserted.map(resourceKey).sort()).toEqual([
      'Namespace//a',
      'Namespace//b',
      'ServiceAccount/a/x',
    ]);
    await r.next('synced');

    await writeFile(join(dir, 'ns.yaml'), `${ns('a')}---\n${ns('b', '{istio.io/dataplane-mode: ambient}')}`);
    const edit = await r.next('change');
    expect(edit.change.upserted.map(resourceKey)).toEqual(['Namespace//b']);
    expect(edit.change.removed).toEqual([]);
  });

  it('bad YAML gives clear issues, keeps the last good config, and a fix clears them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'amesh-meshcfg-'));
    await writeFile(join(dir, 'ns.yaml'), ns('a'));
    const r = recorder();
    source = new DirectorySource({ directory: dir, debounceMs: 20 });
    await source.start(r.listener);
    await r.next('change');

    await writeFile(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a\n');
    const issues = await r.next('issues');
    expect(issues.scope).toBe('ns.yaml');
    expect(issues.issues[0]).toMatchObject({ code: 'MESHCFG_ERR_YAML_PARSE', origin: { file: 'ns.yaml' } });
    expect(source.issues().size).toBe(1);

    await writeFile(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: A_bad}\n');
    const invalid = await r.next('issues');
    expect(invalid.issues.map((i) => [i.resource, i.path])).toEqual([['Namespace A_bad', 'metadata.name']]);

    await writeFile(join(dir, 'ns.yaml'), ns('a', '{fixed: "yes"}'));
    const change = await r.next('change');
    expect(change.change.upserted.map((x) => x.metadata.labels)).toEqual([{ fixed: 'yes' }]);
    expect((await r.next('issues')).issues).toEqual([]);
    expect(r.events.filter((e) => e.type === 'change')).toEqual([]); // nothing emitted for the bad versions
  });

  it('deleting and renaming files removes or keeps their resources; subdirectories are read', async () => {
    dir = await mkdtemp(join(tmpdir(), 'amesh-meshcfg-'));
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    await writeFile(join(dir, 'b.yaml'), ns('b'));
    const r = recorder();
    source = new DirectorySource({ directory: dir, debounceMs: 20 });
    await source.start(r.listener);
    await r.next('change');

    await rm(join(dir, 'b.yaml'));
    expect((await r.next('change')).change.removed).toEqual([
      { kind: 'Namespace', namespace: '', name: 'b' },
    ]);

    await mkdir(join(dir, 'sub'));
    await rename(join(dir, 'a.yaml'), join(dir, 'sub', 'a.yaml'));
    await writeFile(join(dir, 'sub', 'c.yaml'), ns('c'));
    // The move is invisible (same resource); only c is new. Events may be split across debounce windows.
    const seen: string[] = [];
    while (!seen.includes('Namespace//c')) {
      const e = await r.next('change');
      expect(e.change.removed).toEqual([]);
      seen.push(...e.change.upserted.map(resourceKey));
    }
    expect(seen).toEqual(['Namespace//c']);
  });

  it('sees every one of repeated atomic rewrites of the same file (top level and subdirectory)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'amesh-meshcfg-'));
    await writeFileInPlace(join(dir, 'ns.yaml'), ns('a', '{v: "0"}'));
    await mkdir(join(dir, 'sub'));
    await writeFileInPlace(join(dir, 'sub', 'ns.yaml'), ns('b', '{v: "0"}'));
    const r = recorder();
    source = new DirectorySource({ directory: dir, debounceMs: 20 });
    await source.start(r.listener);
    await r.next('change');
    for (let v = 1; v <= 4; v++) {
      for (const [file, name] of [
        [join(dir, 'ns.yaml'), 'a'],
        [join(dir, 'sub', 'ns.yaml'), 'b'],
      ] as const) {
        // A visible temp name, as many tools use: Node 20's recursive fs.watch loses the file after the first rename-over.
        await writeFileInPlace(`${file}.tmp`, ns(name, `{v: "${v}"}`));
        await rename(`${file}.tmp`, file);
        const change = await r.next('change');
        expect(change.change.upserted.map((x) => [x.metadata.name, x.metadata.labels])).toEqual([
          [name, { v: String(v) }],
        ]);
      }
    }
  });

  it('debounces a burst of events into one rescan (injectable timers)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'amesh-meshcfg-'));
    await writeFile(join(dir, 'a.yaml'), ns('a'));
    const pending: (() => void)[] = [];
    const timers = {
      setTimeout: (cb: () => void) => {
        pending.push(cb);
        return pending.length - 1;
      },
      clearTimeout: (h: unknown) => {
        pending[h as number] = () => {};
      },
    };
    const r = recorder();
    source = new DirectorySource({ directory: dir, timers });
    await source.start(r.listener);
    await r.next('change');
    for (let i = 0; i < 5; i++) await writeFile(join(dir, 'a.yaml'), ns('a', `{n: "${i}"}`));
    await source.rescan(); // deterministic: scan now, whatever the watcher saw
    expect((await r.next('change')).change.upserted.map((x) => x.metadata.labels)).toEqual([{ n: '4' }]);
    for (const cb of pending.splice(0)) cb(); // the debounced rescan finds nothing new
    await source.rescan();
    expect(r.events.filter((e) => e.type === 'change')).toEqual([]);
  });

  it('fails clearly when the directory does not exist', async () => {
    source = new DirectorySource({ directory: '/nonexistent/amesh-meshcfg' });
    await expect(source.start(() => {})).rejects.toMatchObject({ code: 'MESHCFG_ERR_SOURCE' });
  });
});
