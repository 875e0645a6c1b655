import { afterEach, describe, expect, it } from 'vitest';
import {
  type CaClient,
  type CaClientRequest,
  CertificateManager,
  type CertificateManagerEvents,
  createTestCa,
  IdentityError,
  parseCertificate,
} from '../src/index.js';
import { FakeClock, flush } from './helpers.js';

const WEB = 'spiffe://cluster.local/ns/default/sa/web';
const HOUR = 3600_000;

/** A CA client over a real CA whose answers the test controls. */
function controlledClient(clock: FakeClock) {
  const testCa = createTestCa({ now: () => clock.now() });
  const calls: CaClientRequest[] = [];
  const pending: { request: CaClientRequest; resolve(): void; fail(error?: Error): void }[] = [];
  let mode: 'auto' | 'manual' | 'fail' = 'auto';
  const client: CaClient = {
    createCertificate(request) {
      calls.push(request);
      if (mode === 'fail') return Promise.reject(new Error('CA down'));
      const issue = () => testCa.client.createCertificate(request);
      if (mode === 'auto') return issue();
      return new Promise((resolve, reject) => {
        pending.push({
          request,
          resolve: () => resolve(issue()),
          fail: (error = new Error('CA down')) => reject(error),
        });
      });
    },
  };
  return {
    client,
    calls,
    pending,
    testCa,
    setMode(next: typeof mode) {
      mode = next;
    },
  };
}

const managers: CertificateManager[] = [];
afterEach(() => {
  for (const m of managers.splice(0)) m.close();
});
function manager(options: ConstructorParameters<typeof CertificateManager>[0]): CertificateManager {
  const m = new CertificateManager(options);
  managers.push(m);
  return m;
}

describe('certificate manager (Istio ztunnel SecretManager behaviour)', () => {
  it('fetches once per identity, with a fresh key and a CSR for that identity', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    const m = manager({ caClient: ca.client, clock, ttlSeconds: 3600 });
    const [a, b] = await Promise.all([m.fetch(WEB), m.fetch(WEB)]);
    expect(a).toBe(b);
    expect(ca.calls).toHaveLength(1);
    expect(ca.calls[0]!.identity.uri).toBe(WEB);
    expect(ca.calls[0]!.ttlSeconds).toBe(3600);
    expect(a.leaf.identity?.uri).toBe(WEB);
    expect(parseCertificate(a.chain[0]!).publicKey).toEqual(a.key.publicKey);
    expect(a.roots).toEqual([a.chain[a.chain.length - 1]]);
    expect(await m.fetch(WEB)).toBe(a);
    expect(m.state(WEB)?.status).toBe('ready');
  });

  it('refreshes at half-life and emits a rotation event', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    const m = manager({ caClient: ca.client, clock, ttlSeconds: 4 * 3600 });
    const rotations: CertificateManagerEvents['rotated'][] = [];
    m.on('rotated', (event) => rotations.push(event));
    const first = await m.fetch(WEB);
    const state = m.state(WEB);
    expect(state?.status === 'ready' && state.refreshAt).toBe(
      first.notBefore.getTime() + (first.notAfter.getTime() - first.notBefore.getTime()) / 2 + 30_000,
    );
    await clock.advance(2 * HOUR - 1);
    expect(ca.calls).toHaveLength(1);
    await clock.advance(1);
    expect(ca.calls).toHaveLength(2);
    const second = m.get(WEB)!;
    expect(second).not.toBe(first);
    expect(rotations.map((r) => [r.certificate, r.previous])).toEqual([
      [first, undefined],
      [second, first],
    ]);
  });

  it('retries with exponential backoff (500 ms doubling, jitter, capped at 150 s) and keeps the old certificate until it expires', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    const m = manager({ caClient: ca.client, clock, ttlSeconds: 600, random: () => 0.5 });
    const errors: CertificateManagerEvents['error'][] = [];
    const expired: string[] = [];
    m.on('error', (event) => errors.push(event));
    m.on('expired', (event) => expired.push(event.identity.uri));
    const first = await m.fetch(WEB);
    ca.setMode('fail');
    await clock.advance(300_000); // half of the 600 s lifetime, measured from the request
    expect(errors).toHaveLength(1);
    expect(errors[0]!.retryInMs).toBe(500);
    expect(errors[0]!.error).toBeInstanceOf(IdentityError);
    expect(errors[0]!.error.code).toBe('IDENTITY_ERR_CA_UNAVAILABLE');
    for (let i = 0; i < 9; i++) await clock.advance(errors[errors.length - 1]!.retryInMs);
    expect(errors.map((e) => e.retryInMs)).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 150000,
    ]);
    // Still served while valid.
    expect(m.get(WEB)).toBe(first);
    expect(m.state(WEB)?.status).toBe('backoff');
    await clock.advance(first.notAfter.getTime() - clock.now());
    expect(expired).toEqual([WEB]);
    expect(m.get(WEB)).toBeUndefined();
    ca.setMode('auto');
    await clock.advance(150_000);
    expect(m.get(WEB)?.leaf.identity?.uri).toBe(WEB);
  });

  it('jitter stays within ±10 % and never exceeds the cap', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    ca.setMode('fail');
    let r = 0;
    const m = manager({ caClient: ca.client, clock, random: () => [0, 0.999][r++ % 2]! });
    const delays: number[] = [];
    m.on('error', (e) => delays.push(e.retryInMs));
    await expect(m.fetch(WEB)).rejects.toThrow(IdentityError);
    for (let i = 0; i < 12; i++) await clock.advance(delays[delays.length - 1]!);
    expect(delays[0]).toBe(450);
    expect(delays[1]).toBeCloseTo(1100, -1);
    expect(Math.max(...delays)).toBe(150_000);
  });

  it('a needed-now fetch fails fast when the CA fails, and retries continue', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    ca.setMode('fail');
    const m = manager({ caClient: ca.client, clock, random: () => 0.5 });
    await expect(m.fetch(WEB)).rejects.toMatchObject({ code: 'IDENTITY_ERR_CA_UNAVAILABLE' });
    ca.setMode('auto');
    const waiting = m.fetch(WEB);
    await clock.advance(500);
    expect((await waiting).identity.uri).toBe(WEB);
  });

  it('rejects a chain for the wrong identity or key', async () => {
    const clock = new FakeClock();
    const testCa = createTestCa({ now: () => clock.now() });
    const wrong: CaClient = {
      createCertificate: async () => testCa.issue('default/other').chain,
    };
    const m = manager({ caClient: wrong, clock });
    await expect(m.fetch(WEB)).rejects.toMatchObject({ code: 'IDENTITY_ERR_CERT_INVALID' });
  });

  it('serves needed-now before prefetch before background, at most 8 in flight', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    ca.setMode('manual');
    const m = manager({ caClient: ca.client, clock });
    const id = (n: number) => `spiffe://cluster.local/ns/default/sa/sa${n}`;
    for (let i = 0; i < 10; i++) m.prefetch(id(i));
    await flush();
    expect(ca.pending).toHaveLength(8);
    const urgent = m.fetch(id(99), 'needed-now');
    m.prefetch(id(50));
    const upgraded = m.fetch(id(9), 'needed-now');
    await flush();
    expect(ca.pending).toHaveLength(8);
    ca.pending.shift()!.resolve();
    await flush();
    // Freed slots go to needed-now requests first, oldest queued first (id 9 was queued before 99, then upgraded).
    expect(ca.pending[ca.pending.length - 1]!.request.identity.uri).toBe(id(9));
    ca.pending.shift()!.resolve();
    await flush();
    expect(ca.pending[ca.pending.length - 1]!.request.identity.uri).toBe(id(99));
    ca.pending.shift()!.resolve();
    await flush();
    expect(ca.pending[ca.pending.length - 1]!.request.identity.uri).toBe(id(8));
    while (ca.pending.length > 0) {
      ca.pending.shift()!.resolve();
      await flush();
    }
    expect((await urgent).identity.uri).toBe(id(99));
    expect((await upgraded).identity.uri).toBe(id(9));
    expect(m.get(id(50))).toBeDefined();
    expect(ca.calls).toHaveLength(12);
  });

  it('setRoots re-emits held certificates with the new trust bundle (root rotation)', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    const m = manager({ caClient: ca.client, clock });
    const first = await m.fetch(WEB);
    const rotations: CertificateManagerEvents['rotated'][] = [];
    m.on('rotated', (event) => rotations.push(event));
    const newRoot = createTestCa().ca.rootPem;
    m.setRoots([...first.roots, newRoot]);
    expect(rotations).toHaveLength(1);
    expect(rotations[0]!.previous).toBe(first);
    expect(rotations[0]!.certificate.roots).toEqual([...first.roots, newRoot]);
    expect(m.get(WEB)).toBe(rotations[0]!.certificate);
    expect(m.get(WEB)!.chain).toBe(first.chain);
    // The re-wrapped certificate still expires with its leaf.
    const expired: string[] = [];
    m.on('expired', (event) => expired.push(event.identity.uri));
    ca.setMode('fail');
    await clock.advance(first.notAfter.getTime() - clock.now());
    expect(expired).toEqual([WEB]);
    expect(m.get(WEB)).toBeUndefined();
  });

  it('forget and close reject waiters and stop timers', async () => {
    const clock = new FakeClock();
    const ca = controlledClient(clock);
    const m = manager({ caClient: ca.client, clock });
    await m.fetch(WEB);
    expect(clock.pending().length).toBeGreaterThan(0);
    m.forget(WEB);
    expect(clock.pending()).toEqual([]);
    expect(m.get(WEB)).toBeUndefined();
    ca.setMode('manual');
    const waiting = m.fetch(WEB);
    await flush();
    m.close();
    await expect(waiting).rejects.toMatchObject({ code: 'IDENTITY_ERR_CLOSED' });
    await expect(m.fetch(WEB)).rejects.toMatchObject({ code: 'IDENTITY_ERR_CLOSED' });
  });
});
