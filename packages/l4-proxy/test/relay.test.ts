import { PassThrough, Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { relay } from '../src/node/index.js';
import { PeerLabelCache, peerLabels } from '../src/node/peer-labels.js';

/** One end of an in-memory connection: what is written to it is collected, what it reads is pushed by the test. */
function endpoint(writableHighWaterMark = 16 * 1024): Duplex & { written: Buffer[]; release(): void } {
  let pending: (() => void) | undefined;
  let hold = false;
  const d = new Duplex({
    allowHalfOpen: true,
    writableHighWaterMark,
    read() {},
    write(chunk: Buffer, _e, cb) {
      d.written.push(chunk);
      if (hold) pending = cb;
      else cb();
    },
  }) as Duplex & { written: Buffer[]; release(): void; hold(): void };
  d.written = [];
  d.release = () => {
    hold = false;
    const cb = pending;
    pending = undefined;
    cb?.();
  };
  (d as unknown as { hold: () => void }).hold = () => {
    hold = true;
  };
  return d;
}

describe('relay', () => {
  it('copies both ways, keeps half-closes and counts bytes from the accepting side', async () => {
    const down = endpoint();
    const up = endpoint();
    const r = relay(down, up);
    down.push(Buffer.from('hello'));
    down.push(null);
    await new Promise((resolve) => up.once('finish', resolve));
    // downstream half-closed: upstream may still answer.
    up.push(Buffer.from('world!'));
    up.push(null);
    const result = await r.done;
    expect(Buffer.concat(up.written).toString()).toBe('hello');
    expect(Buffer.concat(down.written).toString()).toBe('world!');
    expect(result).toEqual({ received: 5, sent: 6, error: undefined });
    expect(down.destroyed && up.destroyed).toBe(true);
  });

  it('pauses the source while the destination is full and resumes it on drain', async () => {
    const down = endpoint();
    const up = endpoint(4);
    (up as unknown as { hold: () => void }).hold();
    const r = relay(down, up);
    down.push(Buffer.alloc(8, 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(down.isPaused()).toBe(true);
    const drained = new Promise((resolve) => up.once('drain', resolve));
    up.release();
    await drained;
    expect(down.isPaused()).toBe(false);
    expect(r.bytes()).toEqual({ received: 8, sent: 0 });
    r.abort(new Error('enough'));
    expect((await r.done).error?.message).toBe('enough');
  });

  it('fails when a side closes before both directions finished', async () => {
    const down = new PassThrough({ allowHalfOpen: true });
    const up = new PassThrough({ allowHalfOpen: true });
    const r = relay(down, up);
    up.destroy();
    const result = await r.done;
    expect(result.error?.message).toBe('connection closed before the relay finished');
    expect(down.destroyed).toBe(true);
  });
});

describe('PeerLabelCache', () => {
  it('returns the same labels as peerLabels, shared between connections of the same peers', () => {
    const cache = new PeerLabelCache();
    const peers = {
      reporter: 'source' as const,
      source: undefined,
      sourcePrincipal: 'spiffe://cluster.local/ns/a/sa/a',
      destination: undefined,
      destinationPrincipal: undefined,
      service: undefined,
      mtls: true,
    };
    const first = cache.get(peers);
    expect(first).toEqual(peerLabels(peers));
    expect(cache.get({ ...peers })).toBe(first);
    const refused = cache.get({ ...peers, responseFlags: 'DENY' });
    expect(refused).not.toBe(first);
    expect(refused.response_flags).toBe('DENY');
    expect(
      cache.get({ ...peers, sourcePrincipal: 'spiffe://cluster.local/ns/b/sa/b' }).source_principal,
    ).toBe('spiffe://cluster.local/ns/b/sa/b');
  });
});
