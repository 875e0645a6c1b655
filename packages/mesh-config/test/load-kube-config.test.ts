import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../src/node/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function kubeconfigFile(name: string, server: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-kc-'));
  dirs.push(dir);
  const file = join(dir, 'config');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{ name: ${name}, cluster: { server: "${server}" } }]
users: [{ name: ${name}-user, user: { token: t-${name} } }]
contexts: [{ name: ${name}, context: { cluster: ${name}, user: ${name}-user } }]
current-context: ${name}
`,
  );
  return file;
}

describe('loadKubeConfig: --kubeconfig, then KUBECONFIG, then in-cluster', () => {
  it('uses the given file over KUBECONFIG', async () => {
    const flag = kubeconfigFile('flag', 'https://flag.example:6443');
    const env = kubeconfigFile('env', 'https://env.example:6443');
    const kc = await loadKubeConfig({ path: flag, env: { KUBECONFIG: env } });
    expect(kc.getCurrentCluster()?.server).toBe('https://flag.example:6443');
  });

  it('merges the KUBECONFIG files and keeps the first file’s current context', async () => {
    const first = kubeconfigFile('first', 'https://first.example:6443');
    const second = kubeconfigFile('second', 'https://second.example:6443');
    const kc = await loadKubeConfig({ env: { KUBECONFIG: [first, second].join(delimiter) } });
    expect(kc.getCurrentCluster()?.server).toBe('https://first.example:6443');
    expect(kc.getClusters().map((c) => c.name)).toEqual(['first', 'second']);
  });

  it('refuses a file that does not load, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amesh-kc-'));
    dirs.push(dir);
    const missing = join(dir, 'nope');
    await expect(loadKubeConfig({ path: missing })).rejects.toMatchObject({
      code: 'MESHCFG_ERR_SOURCE',
      message: expect.stringContaining(missing),
    });
  });

  it('refuses to guess when nothing is configured and not in a pod', async () => {
    await expect(loadKubeConfig({ env: {} })).rejects.toMatchObject({
      code: 'MESHCFG_ERR_SOURCE',
      message: expect.stringMatching(/no kube config/),
    });
  });
});
