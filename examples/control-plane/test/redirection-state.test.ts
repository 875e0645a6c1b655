import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { PodResource } from '@amesh/mesh-config';
import { describe, expect, it } from 'vitest';
import {
  decodeRedirectionState,
  encodeRedirectionState,
  REDIRECTION_ANNOTATION,
  REDIRECTION_STATE_FILE,
  RedirectionOverlay,
  RedirectionStateFile,
} from '../src/index.js';
import { namespaceYaml, podYaml, startPlane, tempDir, tunnelOf, watchAddresses } from './helpers.js';

/** What a CNI node agent sends: PUT .../redirection with `enabled` (or DELETE). */
function report(
  port: number,
  pod: string,
  token: string,
  status: 'enabled' | 'pending' | 'none',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: status === 'none' ? 'DELETE' : 'PUT',
        path: `/v1/namespaces/shop/pods/${pod}/redirection`,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(status === 'none' ? undefined : status);
  });
}

// The files' pods carry no redirection annotation: only the agents' reports make them HBONE.
const twoPods = `${namespaceYaml}${podYaml('a', 'node1', '10.1.0.5')}${podYaml('b', 'node2', '10.2.0.5')}`;

describe('redirection status persisted in --state-dir', () => {
  it('a restarted control plane serves HBONE for pods captured before, without a new report', async () => {
    const stateDir = tempDir();
    const configDir = tempDir({ 'mesh.yaml': twoPods });
    const first = await startPlane({ configDir, stateDir });
    const view = watchAddresses(first.grpcPort);
    await view.until((a) => tunnelOf(a, 'a') === 'NONE');
    expect(await report(first.httpPort, 'a', 'token-1', 'enabled')).toBe(204);
    await view.until((a) => tunnelOf(a, 'a') === 'HBONE');
    expect(tunnelOf(view.addresses, 'b')).toBe('NONE');
    await first.close();

    const file = join(stateDir, REDIRECTION_STATE_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(decodeRedirectionState(readFileSync(file, 'utf8'))).toEqual([
      { namespace: 'shop', name: 'a', status: 'enabled' },
    ]);

    const second = await startPlane({ configDir, stateDir });
    expect(second.redirection.reported('shop', 'a')).toBe('enabled');
    const after = watchAddresses(second.grpcPort);
    // The very first response already carries the restored status: no agent has reported to this process.
    await after.until((a) => tunnelOf(a, 'a') !== undefined && tunnelOf(a, 'b') !== undefined);
    expect(after.responses).toHaveLength(1);
    expect(tunnelOf(after.addresses, 'a')).toBe('HBONE');
    expect(tunnelOf(after.addresses, 'b')).toBe('NONE');

    // A later "not captured" report is persisted too.
    expect(await report(second.httpPort, 'a', 'token-1', 'none')).toBe(204);
    await after.until((a) => tunnelOf(a, 'a') === 'NONE');
    await second.close();
    expect(decodeRedirectionState(readFileSync(file, 'utf8'))).toEqual([
      { namespace: 'shop', name: 'a', status: 'none' },
    ]);
  });

  it('drops the saved status of a pod that left the config while the control plane was down', async () => {
    const stateDir = tempDir();
    const configDir = tempDir({ 'mesh.yaml': twoPods });
    const first = await startPlane({ configDir, stateDir });
    expect(await report(first.httpPort, 'a', 'token-1', 'enabled')).toBe(204);
    expect(await report(first.httpPort, 'b', 'token-2', 'enabled')).toBe(204);
    await first.close();
    writeFileSync(join(configDir, 'mesh.yaml'), `${namespaceYaml}${podYaml('a', 'node1', '10.1.0.5')}`);

    const lines: string[] = [];
    const second = await startPlane({ configDir, stateDir, log: (line) => lines.push(line) });
    expect(second.redirection.reported('shop', 'b')).toBeUndefined();
    expect(second.redirection.reported('shop', 'a')).toBe('enabled');
    expect(lines.some((l) => l.includes('Pod/shop/b') && /dropped/.test(l))).toBe(true);
    await second.close();
    const saved = decodeRedirectionState(readFileSync(join(stateDir, REDIRECTION_STATE_FILE), 'utf8'));
    expect(saved.map((p) => p.name)).toEqual(['a']);
  });

  it('starts with no statuses (and says so) when the file is corrupt, then overwrites it', async () => {
    const stateDir = tempDir({
      [REDIRECTION_STATE_FILE]: '{"format":"amesh.redirection-status/v1","pods":[{"na',
    });
    const lines: string[] = [];
    const cp = await startPlane({
      configDir: tempDir({ 'mesh.yaml': twoPods }),
      stateDir,
      log: (line) => lines.push(line),
    });
    expect(lines.some((l) => /state: ignoring .*not JSON/.test(l))).toBe(true);
    expect(await report(cp.httpPort, 'a', 'token-1', 'pending')).toBe(204);
    await cp.close();
    expect(decodeRedirectionState(readFileSync(join(stateDir, REDIRECTION_STATE_FILE), 'utf8'))).toEqual([
      { namespace: 'shop', name: 'a', status: 'pending' },
    ]);
  });
});

describe('redirection state file format', () => {
  it('round-trips and rejects what it does not know, naming the field', () => {
    const entries = [
      { namespace: 'shop', name: 'b', uid: 'u-2', status: 'pending' as const },
      { namespace: 'shop', name: 'a', status: 'enabled' as const },
    ];
    expect(decodeRedirectionState(encodeRedirectionState(entries))).toEqual([entries[1], entries[0]]);
    const bad =
      (pods: unknown, format = 'amesh.redirection-status/v1') =>
      () =>
        decodeRedirectionState(JSON.stringify({ format, pods }));
    expect(bad([], 'v0')).toThrow(/format must be/);
    expect(bad([{ namespace: 'shop', name: 'a', status: 'captured' }])).toThrow(/pods\[0\]\.status/);
    expect(bad([{ namespace: 'shop', status: 'enabled' }])).toThrow(/pods\[0\]\.name/);
    expect(bad([{ namespace: 'shop', name: 'a', uid: 7, status: 'enabled' }])).toThrow(/pods\[0\]\.uid/);
    expect(bad({})).toThrow(expect.objectContaining({ code: 'CONTROL_PLANE_ERR_STATE' }));
  });

  it('coalesces saves: the last state wins and is on disk after flush', async () => {
    const dir = tempDir();
    const file = new RedirectionStateFile(join(dir, 'nested', REDIRECTION_STATE_FILE), () => {});
    for (let i = 0; i < 20; i++) file.save([{ namespace: 'shop', name: `p${i}`, status: 'enabled' }]);
    await file.flush();
    expect(await file.load()).toEqual([{ namespace: 'shop', name: 'p19', status: 'enabled' }]);
  });
});

describe('RedirectionOverlay', () => {
  const pod = (uid: string | undefined, annotations: Record<string, string> = {}): PodResource =>
    ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'a', namespace: 'shop', ...(uid ? { uid } : {}), annotations },
      spec: { nodeName: 'node1' },
    }) as unknown as PodResource;

  it('forgets a restored status when the pod came back with another uid (a new pod, not captured yet)', () => {
    const changes: number[] = [];
    const overlay = new RedirectionOverlay({
      initial: [{ namespace: 'shop', name: 'a', uid: 'old', status: 'enabled' }],
      onChange: (entries) => changes.push(entries.length),
    });
    const same = overlay.overlay({ upserted: [pod('old')], removed: [] });
    expect((same.upserted[0] as PodResource).metadata.annotations?.[REDIRECTION_ANNOTATION]).toBe('enabled');
    const recreated = overlay.overlay({ upserted: [pod('new')], removed: [] });
    expect(
      (recreated.upserted[0] as PodResource).metadata.annotations?.[REDIRECTION_ANNOTATION],
    ).toBeUndefined();
    expect(overlay.reported('shop', 'a')).toBeUndefined();
    expect(changes).toEqual([0]);
  });

  it('a reported "none" removes the annotation the config carries', () => {
    const overlay = new RedirectionOverlay();
    const next = overlay.report(pod('u', { [REDIRECTION_ANNOTATION]: 'enabled', other: 'x' }), 'none');
    expect(next?.metadata.annotations).toEqual({ other: 'x' });
    expect(overlay.entries()).toEqual([{ namespace: 'shop', name: 'a', uid: 'u', status: 'none' }]);
  });
});
