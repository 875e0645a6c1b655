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
  type Frame,
  FrameDecoder,
  FrameType,
  HboneError,
  Http2Connection,
  Http2ErrorCode,
  type Http2Event,
  HpackEncoder,
  SettingId,
} from '../src/index.js';
import { dataBytes, pair } from './helpers/pair.js';

const CONNECT = [
  [':method', 'CONNECT'],
  [':authority', '10.0.0.2:80'],
] as const;

/** A server connection driven by hand-written client frames. */
function rawServer(options: ConstructorParameters<typeof Http2Connection>[0] = { role: 'server' }) {
  const server = new Http2Connection(options);
  const hpack = new HpackEncoder();
  const decoder = new FrameDecoder({ maxFrameSize: 1 << 24 });
  server.receive(Buffer.concat([CONNECTION_PREFACE, encodeSettings([])]));
  const sent = (): Frame[] => decoder.push(Buffer.concat(server.flush()));
  sent();
  server.takeEvents();
  const headers = (
    id: number,
    fields: ReadonlyArray<readonly [string, string]> = CONNECT,
    endStream = false,
  ): Buffer => Buffer.concat(encodeHeaders(id, hpack.encode(fields), { endStream, maxFrameSize: 16_384 }));
  return { server, sent, headers, hpack };
}

const goawayOf = (frames: Frame[]) =>
  frames.find((f) => f.type === 'goaway') as Extract<Frame, { type: 'goaway' }> | undefined;
const rstOf = (frames: Frame[], id: number) =>
  frames.find((f) => f.type === 'rst-stream' && f.streamId === id) as
    | Extract<Frame, { type: 'rst-stream' }>
    | undefined;

describe('RFC 9113 §3.4, §6.5: preface and SETTINGS', () => {
  it('exchanges settings with ACKs and applies ztunnel defaults', () => {
    const p = pair();
    expect(p.client.remoteSettings.maxConcurrentStreams).toBe(200);
    expect(p.server.remoteSettings.initialWindowSize).toBe(4 * 1024 * 1024);
    expect(p.server.remoteSettings.maxFrameSize).toBe(1024 * 1024);
    expect(p.client.remoteSettings.maxHeaderListSize).toBe(64 * 1024);
    expect(p.server.remoteSettings.maxHeaderListSize).toBe(16 * 1024);
    expect(p.server.remoteSettings.enablePush).toBe(false);
    expect(p.clientEvents.some((e) => e.type === 'remote-settings')).toBe(true);
  });

  it('requires SETTINGS as the first frame', () => {
    const server = new Http2Connection({ role: 'server' });
    server.receive(Buffer.concat([CONNECTION_PREFACE, encodePing(Buffer.alloc(8))]));
    expect(server.state.kind).toBe('closed');
    expect(goawayOf(new FrameDecoder().push(Buffer.concat(server.flush())))?.errorCode).toBe(
      Http2ErrorCode.PROTOCOL_ERROR,
    );
  });

  const badSettings: Array<[string, number, number, number]> = [
    ['ENABLE_PUSH 2', SettingId.ENABLE_PUSH, 2, Http2ErrorCode.PROTOCOL_ERROR],
    ['INITIAL_WINDOW_SIZE 2^31', SettingId.INITIAL_WINDOW_SIZE, 2 ** 31, Http2ErrorCode.FLOW_CONTROL_ERROR],
    ['MAX_FRAME_SIZE 16383', SettingId.MAX_FRAME_SIZE, 16_383, Http2ErrorCode.PROTOCOL_ERROR],
    ['MAX_FRAME_SIZE 2^24', SettingId.MAX_FRAME_SIZE, 2 ** 24, Http2ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [name, id, value, code] of badSettings) {
    it(`rejects ${name} with the right connection error`, () => {
      const server = new Http2Connection({ role: 'server' });
      server.receive(Buffer.concat([CONNECTION_PREFACE, encodeSettings([{ id, value }])]));
      expect(goawayOf(new FrameDecoder().push(Buffer.concat(server.flush())))?.errorCode).toBe(code);
    });
  }

  it('accepts the limits of MAX_FRAME_SIZE and INITIAL_WINDOW_SIZE exactly', () => {
    const server = new Http2Connection({ role: 'server' });
    server.receive(
      Buffer.concat([
        CONNECTION_PREFACE,
        encodeSettings([
          { id: SettingId.MAX_FRAME_SIZE, value: 2 ** 24 - 1 },
          { id: SettingId.INITIAL_WINDOW_SIZE, value: 2 ** 31 - 1 },
          { id: 0x99, value: 7 },
        ]),
      ]),
    );
    expect(server.state.kind).toBe('open');
    expect(server.remoteSettings.maxFrameSize).toBe(2 ** 24 - 1);
  });
});

describe('RFC 9113 §8.1, §5.1: requests, responses, trailers and stream states', () => {
  it('carries a request, a response, DATA both ways and trailers; the stream closes', () => {
    const p = pair();
    const id = p.client.request([
      [':method', 'POST'],
      [':scheme', 'https'],
      [':path', '/x'],
      [':authority', 'a'],
      ['content-length', '5'],
    ]);
    expect(id).toBe(1);
    p.client.write(id, Buffer.from('hello'));
    p.client.end(id);
    p.pump();
    const req = p.serverEvents.find((e) => e.type === 'headers');
    expect(req).toMatchObject({ kind: 'request', streamId: 1 });
    expect(dataBytes(p.serverEvents, 1)).toBe(5);
    expect(p.server.streamState(1)).toBe('half-closed-remote');
    p.server.respond(1, [[':status', '103']]);
    p.server.respond(1, [[':status', '200']]);
    p.server.write(1, Buffer.from('world'));
    p.server.sendTrailers(1, [['grpc-status', '0']]);
    p.pump();
    const kinds = p.clientEvents.filter((e) => e.type === 'headers').map((e) => (e as { kind: string }).kind);
    expect(kinds).toEqual(['informational', 'response', 'trailers']);
    expect(dataBytes(p.clientEvents, 1)).toBe(5);
    expect(p.clientEvents.some((e) => e.type === 'stream-closed' && e.streamId === 1)).toBe(true);
    expect(p.serverEvents.some((e) => e.type === 'stream-closed' && e.streamId === 1)).toBe(true);
    expect(p.client.activeStreams + p.server.activeStreams).toBe(0);
  });

  it('opens odd stream ids in increasing order', () => {
    const p = pair();
    expect([
      p.client.request([...CONNECT]),
      p.client.request([...CONNECT]),
      p.client.request([...CONNECT]),
    ]).toEqual([1, 3, 5]);
  });

  it('refuses to send a malformed header list', () => {
    const p = pair();
    expect(() => p.client.request([[':method', 'CONNECT']])).toThrowError(
      expect.objectContaining({ code: 'HBONE_ERR_INVALID_ARGUMENT' }),
    );
    expect(() =>
      p.client.request([
        [':method', 'GET'],
        [':path', '/'],
        [':scheme', 'https'],
        ['Upper', 'x'],
      ]),
    ).toThrow(HboneError);
  });

  const malformed: Array<[string, Array<[string, string]>]> = [
    ['no :method', [[':authority', 'a:1']]],
    [
      'CONNECT with :path',
      [
        [':method', 'CONNECT'],
        [':authority', 'a:1'],
        [':path', '/'],
      ],
    ],
    [
      'an uppercase name',
      [
        [':method', 'CONNECT'],
        [':authority', 'a:1'],
        ['X-Up', '1'],
      ],
    ],
    [
      'a connection header',
      [
        [':method', 'CONNECT'],
        [':authority', 'a:1'],
        ['connection', 'close'],
      ],
    ],
    [
      'a pseudo-header after a regular one',
      [
        [':method', 'CONNECT'],
        ['a', 'b'],
        [':authority', 'a:1'],
      ],
    ],
    [
      'a repeated pseudo-header',
      [
        [':method', 'CONNECT'],
        [':method', 'CONNECT'],
        [':authority', 'a:1'],
      ],
    ],
    [
      'a response pseudo-header in a request',
      [
        [':method', 'CONNECT'],
        [':authority', 'a:1'],
        [':status', '200'],
      ],
    ],
    [
      'a value with CR LF',
      [
        [':method', 'CONNECT'],
        [':authority', 'a:1'],
        ['x', 'a\r\nb'],
      ],
    ],
    [
      'te other than trailers',
      [
        [':method', 'CONNECT'],
        [':authority', 'a:1'],
        ['te', 'gzip'],
      ],
    ],
  ];
  for (const [name, fields] of malformed) {
    it(`resets a request with ${name} (stream error PROTOCOL_ERROR, §8.1.1)`, () => {
      const { server, sent, headers } = rawServer();
      server.receive(headers(1, fields));
      expect(rstOf(sent(), 1)?.errorCode).toBe(Http2ErrorCode.PROTOCOL_ERROR);
      expect(server.state.kind).toBe('open');
    });
  }

  it('resets a stream whose DATA disagrees with content-length', () => {
    const { server, sent, headers } = rawServer();
    server.receive(
      headers(1, [
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', '/'],
        ['content-length', '3'],
      ]),
    );
    server.receive(Buffer.concat(encodeData(1, Buffer.from('ab'), true)));
    expect(rstOf(sent(), 1)?.errorCode).toBe(Http2ErrorCode.PROTOCOL_ERROR);
  });

  it('accepts PRIORITY frames and priority in HEADERS and ignores them (§5.3.2)', () => {
    const { server, sent, hpack } = rawServer();
    server.receive(encodePriority(9, { exclusive: false, dependency: 0, weight: 16 }));
    server.receive(
      Buffer.concat(
        encodeHeaders(1, hpack.encode([...CONNECT]), {
          endStream: false,
          maxFrameSize: 16_384,
          priority: { exclusive: true, dependency: 0, weight: 1 },
        }),
      ),
    );
    expect(server.takeEvents().some((e) => e.type === 'headers')).toBe(true);
    expect(goawayOf(sent())).toBeUndefined();
  });

  it('reassembles a header block split over CONTINUATION frames (§6.10)', () => {
    const { server, hpack } = rawServer();
    const block = hpack.encode([...CONNECT, ['x-long', 'v'.repeat(300)]]);
    server.receive(Buffer.concat(encodeHeaders(1, block, { endStream: false, maxFrameSize: 100 })));
    const e = server.takeEvents().find((x) => x.type === 'headers') as Extract<
      Http2Event,
      { type: 'headers' }
    >;
    expect(e.headers.at(-1)).toEqual(['x-long', 'v'.repeat(300)]);
  });

  it('treats a frame between HEADERS and its CONTINUATION as a connection error', () => {
    const { server, sent, hpack } = rawServer();
    const [first] = encodeHeaders(1, hpack.encode([...CONNECT, ['x', 'y'.repeat(200)]]), {
      endStream: false,
      maxFrameSize: 50,
    });
    server.receive(Buffer.concat([first!, encodePing(Buffer.alloc(8))]));
    expect(goawayOf(sent())?.errorCode).toBe(Http2ErrorCode.PROTOCOL_ERROR);
  });

  it('handles DATA with padding and counts the padding in flow control (§6.1)', () => {
    const { server, headers } = rawServer();
    server.receive(headers(1));
    server.receive(Buffer.concat(encodeData(1, Buffer.from('abc'), false, 100)));
    const data = server.takeEvents().find((e) => e.type === 'data');
    expect(data).toMatchObject({ data: Buffer.from('abc') });
  });
});

describe('RFC 9113 §5.1.1, §5.1: stream id misuse', () => {
  it('rejects an even stream id from a client', () => {
    const { server, sent, headers } = rawServer();
    server.receive(headers(2));
    expect(goawayOf(sent())?.errorCode).toBe(Http2ErrorCode.PROTOCOL_ERROR);
  });

  it('rejects a stream id lower than one already used', () => {
    const { server, sent, headers } = rawServer();
    server.receive(headers(5, CONNECT, true));
    server.receive(headers(3));
    expect(goawayOf(sent())?.errorCode).toBe(Http2ErrorCode.STREAM_CLOSED);
  });

  it('rejects DATA, RST_STREAM and WINDOW_UPDATE on an idle stream', () => {
    for (const frame of [
      Buffer.concat(encodeData(7, Buffer.from('x'), false)),
      encodeRstStream(7, 8),
      encodeWindowUpdate(7, 1),
    ]) {
      const { server, sent } = rawServer();
      server.receive(frame);
      expect(goawayOf(sent())?.errorCode).toBe(Http2ErrorCode.PROTOCOL_ERROR);
    }
  });

  it('answers DATA after END_STREAM with RST_STREAM(STREAM_CLOSED)', () => {
    const { server, sent, headers } = rawServer();
    server.receive(headers(1, CONNECT, false));
    server.receive(Buffer.concat(encodeData(1, Buffer.from('x'), true)));
    server.receive(Buffer.concat(encodeData(1, Buffer.from('y'), false)));
    expect(rstOf(sent(), 1)?.errorCode).toBe(Http2ErrorCode.STREAM_CLOSED);
  });

  it('ignores frames in flight on a stream it has reset', () => {
    const { server, sent, headers } = rawServer();
    server.receive(headers(1));
    server.reset(1, Http2ErrorCode.CANCEL);
    server.receive(Buffer.concat([...encodeData(1, Buffer.from('late'), false), encodeWindowUpdate(1, 5)]));
    const frames = sent();
    expect(goawayOf(frames)).toBeUndefined();
    expect(frames.filter((f) => f.type === 'rst-stream')).toHaveLength(1);
  });

  it('rejects PUSH_PROMISE when push is disabled (§8.4)', () => {
    const p = pair();
    p.client.receive(encodeRawFrame(FrameType.PUSH_PROMISE, 4, 1, Buffer.from([0, 0, 0, 2, 0x82])));
    expect(p.client.state.kind).toBe('closed');
  });
});

describe('RFC 9113 §6.9: flow control', () => {
  it('never sends past the peer window and resumes on WINDOW_UPDATE', () => {
    const p = pair({}, { settings: { initialWindowSize: 1000 } });
    const id = p.client.request([...CONNECT]);
    p.pump();
    p.server.respond(id, [[':status', '200']]);
    p.pump();
    p.client.write(id, Buffer.alloc(5000, 1));
    p.pump();
    expect(dataBytes(p.serverEvents, id)).toBe(1000);
    expect(p.client.queuedBytes(id)).toBe(4000);
    // 500 consumed < half a window: no update yet (coalescing).
    p.server.consume(id, 400);
    p.pump();
    expect(dataBytes(p.serverEvents, id)).toBe(1000);
    p.server.consume(id, 600);
    p.pump();
    expect(dataBytes(p.serverEvents, id)).toBe(2000);
  });

  it('stops at the connection window while streams still have room', () => {
    const p = pair({}, { connectionWindow: 65_535, settings: { initialWindowSize: 1 << 20 } });
    const a = p.client.request([...CONNECT]);
    p.pump();
    p.server.respond(a, [[':status', '200']]);
    p.pump();
    p.client.write(a, Buffer.alloc(200_000));
    p.pump();
    expect(dataBytes(p.serverEvents, a)).toBe(65_535);
  });

  it('keeps other streams flowing when one stream has a zero window', () => {
    const p = pair({}, { settings: { initialWindowSize: 1000 } });
    const a = p.client.request([...CONNECT]);
    const b = p.client.request([...CONNECT]);
    p.pump();
    p.server.respond(a, [[':status', '200']]);
    p.server.respond(b, [[':status', '200']]);
    p.pump();
    p.client.write(a, Buffer.alloc(3000));
    p.pump();
    expect(p.client.streamSendWindow(a)).toBe(0);
    p.client.write(b, Buffer.alloc(800));
    p.pump();
    expect(dataBytes(p.serverEvents, b)).toBe(800);
  });

  it('errors on DATA beyond the stream window (stream) and the connection window (connection)', () => {
    const { server, sent, headers } = rawServer({
      role: 'server',
      settings: { initialWindowSize: 100 },
      connectionWindow: 65_535,
    });
    server.receive(headers(1));
    server.receive(Buffer.concat(encodeData(1, Buffer.alloc(100), false)));
    expect(rstOf(sent(), 1)).toBeUndefined();
    server.receive(Buffer.concat(encodeData(1, Buffer.alloc(1), false)));
    expect(rstOf(sent(), 1)?.errorCode).toBe(Http2ErrorCode.FLOW_CONTROL_ERROR);
    const c = rawServer({
      role: 'server',
      settings: { initialWindowSize: 1 << 20 },
      connectionWindow: 65_535,
    });
    c.server.receive(c.headers(1));
    for (let i = 0; i < 4; i++) c.server.receive(Buffer.concat(encodeData(1, Buffer.alloc(16_384), false)));
    expect(goawayOf(c.sent())?.errorCode).toBe(Http2ErrorCode.FLOW_CONTROL_ERROR);
  });

  it('detects window overflow past 2^31-1 on a stream and on the connection', () => {
    const { server, sent, headers } = rawServer();
    server.receive(headers(1));
    server.receive(encodeWindowUpdate(1, 2 ** 31 - 1));
    expect(rstOf(sent(), 1)?.errorCode).toBe(Http2ErrorCode.FLOW_CONTROL_ERROR);
    server.receive(encodeWindowUpdate(0, 2 ** 31 - 1));
    expect(goawayOf(sent())?.errorCode).toBe(Http2ErrorCode.FLOW_CONTROL_ERROR);
  });

  it('rejects a WINDOW_UPDATE of 0: stream error on a stream, connection error on 0', () => {
    const { server, sent, headers } = rawServer();
    server.receive(headers(1));
    server.receive(encodeWindowUpdate(1, 1).fill(0, 9));
    expect(rstOf(sent(), 1)?.errorCode).toBe(Http2ErrorCode.PROTOCOL_ERROR);
    server.receive(encodeWindowUpdate(0, 1).fill(0, 9));
    expect(goawayOf(sent())?.errorCode).toBe(Http2ErrorCode.PROTOCOL_ERROR);
  });

  it('applies a SETTINGS_INITIAL_WINDOW_SIZE change to open streams, even below zero (§6.9.2)', () => {
    const p = pair();
    const id = p.client.request([...CONNECT]);
    p.pump();
    p.server.respond(id, [[':status', '200']]);
    p.pump();
    p.client.write(id, Buffer.alloc(1000));
    p.pump();
    p.client.receive(encodeSettings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 500 }]));
    expect(p.client.streamSendWindow(id)).toBe(-500);
  });

  it('sends a large connection WINDOW_UPDATE at start (16 MiB connection window)', () => {
    const client = new Http2Connection({ role: 'client' });
    const frames = new FrameDecoder({ expectPreface: true }).push(Buffer.concat(client.flush()));
    expect(frames.find((f) => f.type === 'window-update')).toMatchObject({
      streamId: 0,
      increment: 16 * 1024 * 1024 - 65_535,
    });
  });

  it('splits DATA at the peer max frame size', () => {
    const p = pair({}, { settings: { maxFrameSize: 16_384 } });
    const id = p.client.request([...CONNECT]);
    p.pump();
    const frames = new FrameDecoder({ maxFrameSize: 1 << 24 });
    p.client.write(id, Buffer.alloc(40_000));
    const data = frames.push(Buffer.concat(p.client.flush())).filter((f) => f.type === 'data');
    expect(data.map((f) => (f as { data: Buffer }).data.length)).toEqual([16_384, 16_384, 7232]);
  });
});

describe('RFC 9113 §6.7, §6.8, §6.4: PING, GOAWAY, RST_STREAM', () => {
  it('answers PING with an ACK carrying the same bytes and reports ACKs', () => {
    const p = pair();
    p.client.ping(Buffer.from('pingpong'));
    p.pump();
    expect(p.clientEvents.find((e) => e.type === 'ping-ack')).toMatchObject({
      opaque: Buffer.from('pingpong'),
    });
  });

  it('drains gracefully: GOAWAY(2^31-1) + PING, then GOAWAY(last id); old streams finish, new ones are refused', () => {
    const p = pair();
    const a = p.client.request([...CONNECT]);
    p.pump();
    p.server.shutdown();
    // A stream the client opens before it sees the final GOAWAY.
    const raw: Buffer[] = [];
    const b = p.client.request([...CONNECT]);
    raw.push(...p.client.flush());
    p.pump();
    p.server.receive(Buffer.concat(raw));
    p.pump();
    const goaways = p.clientEvents.filter((e) => e.type === 'goaway');
    expect(goaways.map((g) => (g as { lastStreamId: number }).lastStreamId)).toEqual([2 ** 31 - 1, a]);
    expect(p.clientEvents.find((e) => e.type === 'stream-reset' && e.streamId === b)).toMatchObject({
      retryable: true,
    });
    expect(p.client.canOpenStream).toBe(false);
    // Stream a still works.
    p.server.respond(a, [[':status', '200']], { endStream: true });
    p.client.end(a);
    p.pump();
    expect(p.server.isDrained).toBe(true);
    expect(p.client.isDrained).toBe(true);
  });

  it('reports a peer RST_STREAM and closes the stream', () => {
    const p = pair();
    const id = p.client.request([...CONNECT]);
    p.pump();
    p.server.reset(id, Http2ErrorCode.REFUSED_STREAM);
    p.pump();
    expect(p.clientEvents.find((e) => e.type === 'stream-reset')).toMatchObject({
      remote: true,
      errorCode: 7,
      retryable: true,
    });
    expect(p.client.streamState(id)).toBeUndefined();
  });

  it('closes on a GOAWAY with an error and reports it', () => {
    const p = pair();
    p.client.receive(encodeGoaway(0, Http2ErrorCode.INTERNAL_ERROR, Buffer.from('boom')));
    expect(p.client.state.kind).toBe('closed');
    expect(p.client.takeEvents().some((e) => e.type === 'connection-error')).toBe(true);
  });
});
