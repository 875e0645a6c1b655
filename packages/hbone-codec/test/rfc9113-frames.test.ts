import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONNECTION_PREFACE,
  encodeData,
  encodeFrameHeader,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodePriority,
  encodePushPromise,
  encodeRawFrame,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  type Frame,
  FrameDecoder,
  FrameType,
  Http2Error,
  Http2ErrorCode,
} from '../src/index.js';

const sample = (): Buffer =>
  Buffer.concat([
    ...encodeData(1, Buffer.from('hello'), false),
    ...encodeData(1, Buffer.from('padded'), true, 10),
    ...encodeHeaders(3, Buffer.from('block-bytes'), {
      endStream: true,
      maxFrameSize: 16_384,
      priority: { exclusive: true, dependency: 1, weight: 16 },
      padLength: 3,
    }),
    encodePriority(5, { exclusive: false, dependency: 3, weight: 256 }),
    encodeRstStream(3, Http2ErrorCode.CANCEL),
    encodeSettings([{ id: 4, value: 1 << 20 }]),
    encodeSettings([], true),
    encodePushPromise(1, 2, Buffer.from('pp')),
    encodePing(Buffer.from('12345678')),
    encodePing(Buffer.from('12345678'), true),
    encodeGoaway(7, Http2ErrorCode.ENHANCE_YOUR_CALM, Buffer.from('debug')),
    encodeWindowUpdate(0, 1000),
    encodeWindowUpdate(1, 0x7fffffff),
    ...encodeHeaders(7, Buffer.alloc(40, 7), { endStream: false, maxFrameSize: 16 }),
    encodeRawFrame(0xfa, 0xff, 9, Buffer.from('ext')),
  ]);

const plain = (frames: Frame[]): unknown[] =>
  frames.map((f) =>
    JSON.parse(
      JSON.stringify(f, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)),
    ),
  );

describe('RFC 9113 §4, §6: frame layout', () => {
  const expected = plain(new FrameDecoder({ maxFrameSize: 1 << 20 }).push(sample()));

  it('decodes every frame type with its fields', () => {
    const types = expected.map((f) => (f as { type: string }).type);
    expect(types).toEqual([
      'data',
      'data',
      'headers',
      'priority',
      'rst-stream',
      'settings',
      'settings',
      'push-promise',
      'ping',
      'ping',
      'goaway',
      'window-update',
      'window-update',
      'headers',
      'continuation',
      'continuation',
      'unknown',
    ]);
    expect(expected[1]).toMatchObject({
      type: 'data',
      data: Buffer.from('padded').toString('hex'),
      endStream: true,
      flowLength: 17,
    });
    expect(expected[2]).toMatchObject({
      endStream: true,
      endHeaders: true,
      priority: { exclusive: true, dependency: 1, weight: 16 },
    });
    expect(expected[3]).toMatchObject({ priority: { weight: 256, dependency: 3 } });
    expect(expected[5]).toMatchObject({ ack: false, settings: [{ id: 4, value: 1 << 20 }] });
    expect(expected[7]).toMatchObject({ promisedStreamId: 2 });
    expect(expected[10]).toMatchObject({
      lastStreamId: 7,
      errorCode: 0xb,
      debugData: Buffer.from('debug').toString('hex'),
    });
    expect(expected[12]).toMatchObject({ increment: 0x7fffffff });
    expect(expected[15]).toMatchObject({ type: 'continuation', endHeaders: true });
  });

  it('gives the same frames whatever the split point (every byte)', () => {
    const bytes = sample();
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      const d = new FrameDecoder({ maxFrameSize: 1 << 20 });
      const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(plain(got)).toEqual(expected);
    }
  });

  it('gives the same frames fed one byte at a time', () => {
    const bytes = sample();
    const d = new FrameDecoder({ maxFrameSize: 1 << 20 });
    const got: Frame[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...d.push(bytes.subarray(i, i + 1)));
    expect(plain(got)).toEqual(expected);
    expect(d.buffered).toBe(0);
  });

  it('returns nothing for a truncated frame and keeps the bytes', () => {
    const frame = encodePing(Buffer.from('abcdefgh'));
    for (let n = 0; n < frame.length; n++) {
      const d = new FrameDecoder();
      expect(d.push(frame.subarray(0, n))).toEqual([]);
      expect(d.buffered).toBe(n);
    }
  });

  it('does not copy DATA payload that lies in one chunk', () => {
    const chunk = Buffer.concat(encodeData(1, Buffer.alloc(1000, 1), false));
    const [frame] = new FrameDecoder().push(chunk);
    expect(frame?.type === 'data' && frame.data.buffer).toBe(chunk.buffer);
  });

  it('streams a large unpadded DATA frame in parts as it arrives, without copying', () => {
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i & 0xff));
    const bytes = Buffer.concat([...encodeData(3, payload, true), encodePing(Buffer.alloc(8))]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7000) chunks.push(Buffer.from(bytes.subarray(i, i + 7000)));
    const d = new FrameDecoder({ maxFrameSize: 1 << 20 });
    const frames = chunks.flatMap((c) => d.push(c));
    const parts = frames.filter((f) => f.type === 'data') as Array<Extract<Frame, { type: 'data' }>>;
    expect(parts.length).toBeGreaterThan(1);
    expect(Buffer.concat(parts.map((p) => p.data)).equals(payload)).toBe(true);
    expect(parts.map((p) => p.endStream)).toEqual([...Array(parts.length - 1).fill(false), true]);
    expect(parts.reduce((n, p) => n + p.flowLength, 0)).toBe(payload.length);
    expect(parts.every((p) => chunks.some((c) => c.buffer === p.data.buffer))).toBe(true);
    expect(frames.at(-1)?.type).toBe('ping');
    // Turned off, the same bytes give one whole frame.
    const whole = new FrameDecoder({ maxFrameSize: 1 << 20, streamDataAbove: Number.POSITIVE_INFINITY });
    expect(chunks.flatMap((c) => whole.push(c)).filter((f) => f.type === 'data')).toHaveLength(1);
  });

  it('accepts a frame of exactly SETTINGS_MAX_FRAME_SIZE and rejects one byte more (§4.2)', () => {
    const max = 16_384;
    expect(
      new FrameDecoder({ maxFrameSize: max }).push(Buffer.concat(encodeData(1, Buffer.alloc(max), false))),
    ).toHaveLength(1);
    const over = () =>
      new FrameDecoder({ maxFrameSize: max }).push(encodeFrameHeader(max + 1, FrameType.DATA, 0, 1));
    expect(over).toThrowError(
      expect.objectContaining({ code: 'HBONE_ERR_FRAME_SIZE', http2Code: Http2ErrorCode.FRAME_SIZE_ERROR }),
    );
  });

  it('checks the client preface (§3.4), split anywhere', () => {
    const bytes = Buffer.concat([CONNECTION_PREFACE, encodeSettings([])]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new FrameDecoder({ expectPreface: true });
      expect([...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))]).toHaveLength(1);
    }
    const bad = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(() => new FrameDecoder({ expectPreface: true }).push(bad)).toThrowError(
      expect.objectContaining({ code: 'HBONE_ERR_PROTOCOL' }),
    );
  });

  const malformed: Array<[string, Buffer, string]> = [
    ['DATA on stream 0', encodeRawFrame(FrameType.DATA, 0, 0, Buffer.from('x')), 'HBONE_ERR_PROTOCOL'],
    ['HEADERS on stream 0', encodeRawFrame(FrameType.HEADERS, 4, 0, Buffer.from('x')), 'HBONE_ERR_PROTOCOL'],
    [
      'padding as long as the payload',
      encodeRawFrame(FrameType.DATA, 8, 1, Buffer.from([3, 1, 2])),
      'HBONE_ERR_PROTOCOL',
    ],
    [
      'PADDED with an empty payload',
      encodeRawFrame(FrameType.DATA, 8, 1, Buffer.alloc(0)),
      'HBONE_ERR_FRAME_SIZE',
    ],
    [
      'PRIORITY of 4 bytes',
      encodeRawFrame(FrameType.PRIORITY, 0, 1, Buffer.alloc(4)),
      'HBONE_ERR_FRAME_SIZE',
    ],
    [
      'RST_STREAM of 5 bytes',
      encodeRawFrame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(5)),
      'HBONE_ERR_FRAME_SIZE',
    ],
    [
      'RST_STREAM on stream 0',
      encodeRawFrame(FrameType.RST_STREAM, 0, 0, Buffer.alloc(4)),
      'HBONE_ERR_PROTOCOL',
    ],
    [
      'SETTINGS of 7 bytes',
      encodeRawFrame(FrameType.SETTINGS, 0, 0, Buffer.alloc(7)),
      'HBONE_ERR_FRAME_SIZE',
    ],
    [
      'SETTINGS ACK with payload',
      encodeRawFrame(FrameType.SETTINGS, 1, 0, Buffer.alloc(6)),
      'HBONE_ERR_FRAME_SIZE',
    ],
    ['SETTINGS on stream 1', encodeRawFrame(FrameType.SETTINGS, 0, 1, Buffer.alloc(0)), 'HBONE_ERR_PROTOCOL'],
    ['PING of 7 bytes', encodeRawFrame(FrameType.PING, 0, 0, Buffer.alloc(7)), 'HBONE_ERR_FRAME_SIZE'],
    ['PING on stream 1', encodeRawFrame(FrameType.PING, 0, 1, Buffer.alloc(8)), 'HBONE_ERR_PROTOCOL'],
    ['GOAWAY of 7 bytes', encodeRawFrame(FrameType.GOAWAY, 0, 0, Buffer.alloc(7)), 'HBONE_ERR_FRAME_SIZE'],
    [
      'WINDOW_UPDATE of 3 bytes',
      encodeRawFrame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(3)),
      'HBONE_ERR_FRAME_SIZE',
    ],
    [
      'CONTINUATION on stream 0',
      encodeRawFrame(FrameType.CONTINUATION, 4, 0, Buffer.alloc(1)),
      'HBONE_ERR_PROTOCOL',
    ],
    [
      'HEADERS too short for priority',
      encodeRawFrame(FrameType.HEADERS, 0x24, 1, Buffer.alloc(4)),
      'HBONE_ERR_FRAME_SIZE',
    ],
  ];
  for (const [name, bytes, code] of malformed) {
    it(`rejects ${name} as a connection error`, () => {
      const d = new FrameDecoder();
      expect(() => d.push(bytes)).toThrowError(expect.objectContaining({ code, scope: 'connection' }));
      // An error is terminal: the decoder refuses further input.
      expect(() => d.push(encodePing(Buffer.alloc(8)))).toThrow(Http2Error);
    });
  }

  it('ignores the reserved bit of the stream id (§4.1)', () => {
    const bytes = encodePing(Buffer.alloc(8));
    const raw = Buffer.concat(encodeData(1, Buffer.from('x'), false));
    raw[5] = raw[5]! | 0x80;
    expect(new FrameDecoder().push(raw)[0]).toMatchObject({ streamId: 1 });
    expect(new FrameDecoder().push(bytes)).toHaveLength(1);
  });

  it('never throws anything but an Http2Error on random input (fuzz, time-boxed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 300 }), (bytes, cut) => {
        const d = new FrameDecoder();
        const b = Buffer.from(bytes);
        try {
          d.push(b.subarray(0, cut));
          d.push(b.subarray(cut));
        } catch (error) {
          if (!(error instanceof Http2Error)) throw error;
        }
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 20_000 },
    );
  });

  it('round-trips random valid frames through encode and decode (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('data' as const),
              id: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
              data: fc.uint8Array({ maxLength: 100 }),
              end: fc.boolean(),
              pad: fc.integer({ min: 0, max: 255 }),
            }),
            fc.record({
              kind: fc.constant('ping' as const),
              data: fc.uint8Array({ minLength: 8, maxLength: 8 }),
              ack: fc.boolean(),
            }),
            fc.record({
              kind: fc.constant('wu' as const),
              id: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
              inc: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            }),
          ),
          { maxLength: 20 },
        ),
        (specs) => {
          const bytes = Buffer.concat(
            specs.flatMap((s) =>
              s.kind === 'data'
                ? encodeData(s.id, Buffer.from(s.data), s.end, s.pad)
                : s.kind === 'ping'
                  ? [encodePing(Buffer.from(s.data), s.ack)]
                  : [encodeWindowUpdate(s.id, s.inc)],
            ),
          );
          const frames = new FrameDecoder().push(bytes);
          expect(frames).toHaveLength(specs.length);
          specs.forEach((s, i) => {
            const f = frames[i]!;
            if (s.kind === 'data')
              expect(f).toMatchObject({
                type: 'data',
                streamId: s.id,
                endStream: s.end,
                data: Buffer.from(s.data),
              });
            else if (s.kind === 'ping') expect(f).toMatchObject({ type: 'ping', ack: s.ack });
            else expect(f).toMatchObject({ type: 'window-update', increment: s.inc });
          });
        },
      ),
      { interruptAfterTimeLimit: 3000 },
    );
  });
});
