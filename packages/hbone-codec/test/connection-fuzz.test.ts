import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONNECTION_PREFACE,
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodePriority,
  encodeRawFrame,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  HpackEncoder,
  Http2Connection,
} from '../src/index.js';

// Frames that are each well formed on their own but arrive in any order, on any stream:
// the connection must never throw, only answer with RST_STREAM / GOAWAY.
const frame = fc.oneof(
  fc.record({
    k: fc.constant('headers' as const),
    id: fc.integer({ min: 0, max: 9 }),
    end: fc.boolean(),
    endHeaders: fc.boolean(),
  }),
  fc.record({
    k: fc.constant('data' as const),
    id: fc.integer({ min: 0, max: 9 }),
    n: fc.integer({ min: 0, max: 70_000 }),
    end: fc.boolean(),
  }),
  fc.record({
    k: fc.constant('continuation' as const),
    id: fc.integer({ min: 0, max: 9 }),
    end: fc.boolean(),
  }),
  fc.record({
    k: fc.constant('rst' as const),
    id: fc.integer({ min: 0, max: 9 }),
    code: fc.integer({ min: 0, max: 15 }),
  }),
  fc.record({
    k: fc.constant('wu' as const),
    id: fc.integer({ min: 0, max: 9 }),
    inc: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  }),
  fc.record({ k: fc.constant('settings' as const), id: fc.integer({ min: 1, max: 8 }), value: fc.nat() }),
  fc.record({ k: fc.constant('ping' as const), ack: fc.boolean() }),
  fc.record({ k: fc.constant('priority' as const), id: fc.integer({ min: 1, max: 9 }) }),
  fc.record({
    k: fc.constant('goaway' as const),
    last: fc.integer({ min: 0, max: 9 }),
    code: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({
    k: fc.constant('raw' as const),
    type: fc.integer({ min: 0, max: 255 }),
    flags: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 9 }),
    body: fc.uint8Array({ maxLength: 20 }),
  }),
);

describe('connection robustness (property, time-boxed)', () => {
  for (const role of ['server', 'client'] as const) {
    it(`a ${role} never throws and keeps its invariants on any frame sequence`, () => {
      fc.assert(
        fc.property(fc.array(frame, { maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (frames, cut) => {
          const conn = new Http2Connection({ role });
          const hpack = new HpackEncoder();
          conn.flush();
          const parts: Buffer[] = role === 'server' ? [CONNECTION_PREFACE] : [];
          parts.push(encodeSettings([]));
          for (const f of frames) {
            switch (f.k) {
              case 'headers': {
                const block = hpack.encode(
                  role === 'server'
                    ? [
                        [':method', 'CONNECT'],
                        [':authority', 'a:1'],
                      ]
                    : [[':status', '200']],
                );
                parts.push(encodeRawFrame(1, (f.end ? 1 : 0) | (f.endHeaders ? 4 : 0), f.id, block));
                break;
              }
              case 'data':
                if (f.id > 0) parts.push(...encodeData(f.id, Buffer.alloc(Math.min(f.n, 16_384)), f.end));
                break;
              case 'continuation':
                parts.push(encodeRawFrame(9, f.end ? 4 : 0, f.id, Buffer.from([0x82])));
                break;
              case 'rst':
                if (f.id > 0) parts.push(encodeRstStream(f.id, f.code));
                break;
              case 'wu':
                parts.push(encodeWindowUpdate(f.id, f.inc));
                break;
              case 'settings':
                parts.push(encodeSettings([{ id: f.id, value: f.value }]));
                break;
              case 'ping':
                parts.push(encodePing(Buffer.alloc(8), f.ack));
                break;
              case 'priority':
                parts.push(encodePriority(f.id, { exclusive: false, dependency: 0, weight: 16 }));
                break;
              case 'goaway':
                parts.push(encodeGoaway(f.last, f.code));
                break;
              case 'raw':
                parts.push(encodeRawFrame(f.type, f.flags, f.id, Buffer.from(f.body)));
                break;
            }
          }
          if (role === 'client')
            conn.request([
              [':method', 'CONNECT'],
              [':authority', 'a:1'],
            ]);
          const bytes = Buffer.concat(parts);
          conn.receive(bytes.subarray(0, cut));
          conn.receive(bytes.subarray(cut));
          conn.flush();
          conn.takeEvents();
          expect(conn.activeStreams).toBeGreaterThanOrEqual(0);
          expect(conn.activeStreams).toBeLessThanOrEqual(200);
          if (conn.state.kind === 'closed') {
            expect(conn.activeStreams).toBe(0);
            // A bug (TypeError, ...) would surface as our own INTERNAL_ERROR: never acceptable here.
            expect(conn.state.error?.message ?? '').not.toMatch(/^internal error/);
          }
        }),
        { interruptAfterTimeLimit: 4000, numRuns: 3000 },
      );
    });
  }
});

describe('request header blocks from a real encoder', () => {
  it('decodes what the encoder produced across many blocks (shared dynamic table)', () => {
    const server = new Http2Connection({ role: 'server' });
    const hpack = new HpackEncoder();
    server.receive(Buffer.concat([CONNECTION_PREFACE, encodeSettings([])]));
    for (let id = 1; id < 400; id += 2) {
      const fields: Array<[string, string]> = [
        [':method', 'CONNECT'],
        [':authority', `10.0.${id >> 8}.${id & 255}:80`],
        ['traceparent', `00-${'a'.repeat(31)}${id % 10}-${'b'.repeat(16)}-00`],
      ];
      server.receive(
        Buffer.concat(encodeHeaders(id, hpack.encode(fields), { endStream: true, maxFrameSize: 16_384 })),
      );
      const e = server.takeEvents().find((x) => x.type === 'headers');
      expect(e?.type === 'headers' && e.headers).toEqual(fields);
      server.respond(id, [[':status', '200']], { endStream: true });
      server.flush();
    }
  });
});
