import { describe, expect, it } from 'vitest';
import {
  CONNECTION_PREFACE,
  encodeHeaders,
  encodePing,
  encodeRawFrame,
  encodeRstStream,
  encodeSettings,
  type Frame,
  FrameDecoder,
  FrameType,
  Http2Connection,
  type Http2ConnectionOptions,
  Http2ErrorCode,
  HpackEncoder,
} from '../src/index.js';

const CONNECT = [
  [':method', 'CONNECT'],
  [':authority', '10.0.0.2:80'],
] as const;

function attacker(options: Partial<Http2ConnectionOptions> = {}) {
  let now = 0;
  const server = new Http2Connection({ role: 'server', now: () => now, ...options });
  const hpack = new HpackEncoder();
  const decoder = new FrameDecoder({ maxFrameSize: 1 << 24 });
  server.receive(Buffer.concat([CONNECTION_PREFACE, encodeSettings([])]));
  const sent = (): Frame[] => decoder.push(Buffer.concat(server.flush()));
  sent();
  const open = (id: number): Buffer =>
    Buffer.concat(encodeHeaders(id, hpack.encode([...CONNECT]), { endStream: false, maxFrameSize: 16_384 }));
  return { server, sent, open, hpack, advance: (ms: number) => (now += ms) };
}

const goaway = (frames: Frame[]) =>
  frames.find((f) => f.type === 'goaway') as Extract<Frame, { type: 'goaway' }> | undefined;

describe('rapid reset (CVE-2023-44487)', () => {
  it('tolerates resets within the burst, then answers GOAWAY(ENHANCE_YOUR_CALM)', () => {
    const { server, sent, open } = attacker({ limits: { resetBurst: 100, resetsPerSecond: 10 } });
    let id = 1;
    for (let i = 0; i < 100; i++, id += 2)
      server.receive(Buffer.concat([open(id), encodeRstStream(id, Http2ErrorCode.CANCEL)]));
    expect(server.state.kind).toBe('open');
    server.receive(Buffer.concat([open(id), encodeRstStream(id, Http2ErrorCode.CANCEL)]));
    expect(server.state.kind).toBe('closed');
    expect(goaway(sent())?.errorCode).toBe(Http2ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('refills over time: a steady, slow reset rate is fine', () => {
    const { server, open, advance } = attacker({ limits: { resetBurst: 10, resetsPerSecond: 10 } });
    for (let i = 0, id = 1; i < 200; i++, id += 2) {
      advance(200);
      server.receive(Buffer.concat([open(id), encodeRstStream(id, Http2ErrorCode.CANCEL)]));
    }
    expect(server.state.kind).toBe('open');
  });

  it('refuses streams past MAX_CONCURRENT_STREAMS (200) with REFUSED_STREAM', () => {
    const { server, sent, open } = attacker();
    for (let i = 0; i < 200; i++) server.receive(open(2 * i + 1));
    expect(server.activeStreams).toBe(200);
    server.receive(open(401));
    expect(sent().find((f) => f.type === 'rst-stream')).toMatchObject({
      streamId: 401,
      errorCode: Http2ErrorCode.REFUSED_STREAM,
    });
    expect(server.activeStreams).toBe(200);
  });
});

describe('CONTINUATION flood (CVE-2024-27316)', () => {
  it('stops an endless run of empty CONTINUATION frames', () => {
    const { server, sent, hpack } = attacker({ limits: { maxContinuationFrames: 32 } });
    const block = hpack.encode([...CONNECT]);
    server.receive(encodeRawFrame(FrameType.HEADERS, 0, 1, block));
    for (let i = 0; i < 32; i++)
      server.receive(encodeRawFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(0)));
    expect(server.state.kind).toBe('open');
    server.receive(encodeRawFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(0)));
    expect(goaway(sent())?.errorCode).toBe(Http2ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('stops a header block growing past the byte limit without buffering it', () => {
    const { server, sent } = attacker({ limits: { maxHeaderBlockBytes: 10_000 } });
    server.receive(encodeRawFrame(FrameType.HEADERS, 0, 1, Buffer.alloc(5000, 0x82)));
    server.receive(encodeRawFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(5000, 0x82)));
    expect(server.state.kind).toBe('open');
    server.receive(encodeRawFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(1, 0x82)));
    expect(goaway(sent())?.errorCode).toBe(Http2ErrorCode.ENHANCE_YOUR_CALM);
  });
});

describe('HPACK bomb and header list limits', () => {
  it('answers 431 to a request that expands past SETTINGS_MAX_HEADER_LIST_SIZE and keeps the connection', () => {
    const { server, sent, hpack, open } = attacker();
    const first = hpack.encode([...CONNECT, ['x-bomb', 'b'.repeat(3000)]]);
    server.receive(Buffer.concat(encodeHeaders(1, first, { endStream: false, maxFrameSize: 16_384 })));
    // 100 one-byte references to a 3 KB entry: 300 KB decoded from 100 bytes, over the 64 KiB limit.
    const dynamicIndex = 62;
    const bomb = Buffer.concat([hpack.encode([...CONNECT]), Buffer.alloc(100, 0x80 | dynamicIndex)]);
    server.receive(Buffer.concat(encodeHeaders(3, bomb, { endStream: false, maxFrameSize: 16_384 })));
    const frames = sent();
    expect(frames.find((f) => f.type === 'headers' && f.streamId === 3)).toBeDefined();
    expect(frames.find((f) => f.type === 'rst-stream')).toMatchObject({
      streamId: 3,
      errorCode: Http2ErrorCode.NO_ERROR,
    });
    expect(server.state.kind).toBe('open');
    // The HPACK state stayed in sync: the next request decodes.
    server.receive(open(5));
    expect(server.takeEvents().some((e) => e.type === 'headers' && e.streamId === 5)).toBe(true);
  });

  it('enforces the list size exactly: at the limit passes, one byte over is refused', () => {
    const size = (value: string) =>
      ':method'.length + 7 + 32 + ':authority'.length + 11 + 32 + 'x-v'.length + value.length + 32;
    const value = 'v'.repeat(500);
    const ok = attacker({ settings: { maxHeaderListSize: size(value) } });
    ok.server.receive(
      Buffer.concat(
        encodeHeaders(1, ok.hpack.encode([...CONNECT, ['x-v', value]]), {
          endStream: false,
          maxFrameSize: 16_384,
        }),
      ),
    );
    expect(ok.server.takeEvents().some((e) => e.type === 'headers')).toBe(true);
    const over = attacker({ settings: { maxHeaderListSize: size(value) - 1 } });
    over.server.receive(
      Buffer.concat(
        encodeHeaders(1, over.hpack.encode([...CONNECT, ['x-v', value]]), {
          endStream: false,
          maxFrameSize: 16_384,
        }),
      ),
    );
    expect(over.server.takeEvents().some((e) => e.type === 'headers')).toBe(false);
  });

  it('closes with COMPRESSION_ERROR on an invalid HPACK block', () => {
    const { server, sent } = attacker();
    server.receive(encodeRawFrame(FrameType.HEADERS, 4, 1, Buffer.from([0x80])));
    expect(goaway(sent())?.errorCode).toBe(Http2ErrorCode.COMPRESSION_ERROR);
  });
});

describe('SETTINGS and PING floods', () => {
  it('answers GOAWAY(ENHANCE_YOUR_CALM) to a PING flood past the burst', () => {
    const { server, sent } = attacker({ limits: { controlBurst: 50, controlPerSecond: 1 } });
    for (let i = 0; i < 50; i++) server.receive(encodePing(Buffer.alloc(8)));
    expect(server.state.kind).toBe('open');
    server.receive(encodePing(Buffer.alloc(8)));
    expect(goaway(sent())?.errorCode).toBe(Http2ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('answers GOAWAY(ENHANCE_YOUR_CALM) to a SETTINGS flood', () => {
    const { server, sent } = attacker({ limits: { controlBurst: 20, controlPerSecond: 1 } });
    for (let i = 0; i < 21; i++) server.receive(encodeSettings([]));
    expect(goaway(sent())?.errorCode).toBe(Http2ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('gives up on a peer that makes us queue ACKs but never reads them', () => {
    const { server } = attacker({
      limits: { controlBurst: 10_000, controlPerSecond: 10_000, maxPendingControlFrames: 100 },
    });
    for (let i = 0; i < 100; i++) server.receive(encodePing(Buffer.alloc(8)));
    expect(server.state.kind).toBe('open');
    server.receive(encodePing(Buffer.alloc(8)));
    expect(server.state).toMatchObject({
      kind: 'closed',
      error: { http2Code: Http2ErrorCode.ENHANCE_YOUR_CALM },
    });
  });
});

describe('zero-window stalls', () => {
  it('holds at most the write buffer per stalled stream and tells the writer to stop', () => {
    const { server, open, sent } = attacker({ limits: { streamWriteBuffer: 64 * 1024 } });
    // The peer advertised a 0 stream window: nothing may be sent.
    server.receive(encodeSettings([{ id: 4, value: 0 }]));
    server.receive(open(1));
    server.respond(1, [[':status', '200']]);
    sent();
    let accepted = 0;
    while (server.write(1, Buffer.alloc(16 * 1024))) accepted += 16 * 1024;
    expect(accepted).toBeLessThan(64 * 1024);
    expect(server.queuedBytes(1)).toBe(64 * 1024);
    expect(sent().filter((f) => f.type === 'data')).toHaveLength(0);
  });
});
