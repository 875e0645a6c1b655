import { isAmeshError } from '@amesh/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeZdsAck,
  decodeZdsHello,
  decodeZdsRequest,
  encodeZdsAck,
  encodeZdsHello,
  encodeZdsRequest,
  frameZdsMessage,
  ZDS_MAX_MESSAGE_SIZE,
  ZdsFrameDecoder,
  type ZdsRequest,
} from '../src/index.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

function protocolError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    expect(isAmeshError(error, 'CNI_ERR_PROTOCOL')).toBe(true);
    return error;
  }
  throw new Error('expected CNI_ERR_PROTOCOL');
}

describe('zds messages (istio.workload.zds field numbers)', () => {
  it('encodes WorkloadRequest.add (field 1) with uid, WorkloadInfo and the netns path (field 1000)', () => {
    const bytes = encodeZdsRequest({
      type: 'add',
      uid: 'u1',
      netnsPath: '/n',
      workloadInfo: { name: 'a', namespace: 'b', serviceAccount: 'c' },
    });
    // 0a len { 0a 02 "u1" 12 09 { 0a 01 "a" 12 01 "b" 1a 01 "c" } c2 3e 02 "/n" }
    expect(hex(bytes)).toBe('0a140a0275311209' + '0a0161120162' + '1a0163' + 'c23e022f6e');
  });

  it('encodes del (field 2, uid in field 2), snapshot_sent (field 3), keep (field 5)', () => {
    expect(hex(encodeZdsRequest({ type: 'del', uid: 'u1' }))).toBe('120412027531');
    expect(hex(encodeZdsRequest({ type: 'snapshot-sent' }))).toBe('1a00');
    expect(hex(encodeZdsRequest({ type: 'keep', uid: 'u1' }))).toBe('2a040a027531');
  });

  it('encodes Ack (WorkloadResponse.ack = 1, Ack.error = 1) and ZdsHello{version: V1}', () => {
    expect(hex(encodeZdsAck())).toBe('0a00');
    expect(hex(encodeZdsAck('no'))).toBe('0a040a026e6f');
    expect(hex(encodeZdsHello())).toBe('0801');
    expect(decodeZdsAck(fromHex('0a040a026e6f'))).toEqual({ type: 'ack', error: 'no' });
    expect(decodeZdsHello(fromHex('0801'))).toEqual({ type: 'hello', version: 1 });
  });

  it('round-trips every request kind', () => {
    const requests: ZdsRequest[] = [
      { type: 'add', uid: 'pod-uid-1', netnsPath: '/proc/42/ns/net' },
      {
        type: 'add',
        uid: 'x',
        netnsPath: '/var/run/netns/p',
        workloadInfo: { name: 'n', namespace: 'ns', serviceAccount: '' },
      },
      { type: 'keep', uid: 'k' },
      { type: 'del', uid: 'd' },
      { type: 'snapshot-sent' },
    ];
    for (const request of requests) expect(decodeZdsRequest(encodeZdsRequest(request))).toEqual(request);
  });

  it('skips unknown fields of every wire type (forward compatibility)', () => {
    // unknown varint field 9, fixed64 field 10, fixed32 field 11, then del{uid:"u1"}
    const bytes = fromHex('4801' + '510102030405060708' + '5d01020304' + '120412027531');
    expect(decodeZdsRequest(bytes)).toEqual({ type: 'del', uid: 'u1' });
  });

  it('rejects malformed messages with CNI_ERR_PROTOCOL', () => {
    protocolError(() => decodeZdsRequest(new Uint8Array(0))); // no payload
    protocolError(() => decodeZdsRequest(fromHex('0a05'))); // truncated
    protocolError(() => decodeZdsRequest(fromHex('0a00'))); // add without uid
    protocolError(() => decodeZdsRequest(fromHex('0a040a027531'))); // add without netns path
    protocolError(() => decodeZdsRequest(fromHex('1200'))); // del without uid
    protocolError(() => decodeZdsRequest(fromHex('0801'))); // field 1 as a varint
    protocolError(() => decodeZdsRequest(fromHex('0f'))); // wire type 7
    protocolError(() => decodeZdsRequest(fromHex('ffffffffffffffffffff01'))); // varint over 10 bytes
    protocolError(() => decodeZdsRequest(fromHex('0a040a02ff fe'.replace(' ', '')))); // bad UTF-8
    protocolError(() => decodeZdsAck(new Uint8Array(0)));
    protocolError(() => decodeZdsHello(fromHex('0802')));
  });
});

describe('zds framing (4-byte big-endian length)', () => {
  const messages = [
    encodeZdsRequest({ type: 'add', uid: 'a', netnsPath: '/proc/1/ns/net' }),
    encodeZdsRequest({ type: 'snapshot-sent' }),
    encodeZdsAck('boom'),
  ];
  const stream = Buffer.concat(messages.map((m) => frameZdsMessage(m)));

  it('decodes a stream split at every byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new ZdsFrameDecoder();
      const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(out.map(hex)).toEqual(messages.map(hex));
      expect(decoder.pending).toBe(0);
    }
  });

  it('decodes one byte at a time', () => {
    const decoder = new ZdsFrameDecoder();
    const out: Uint8Array[] = [];
    for (const byte of stream) out.push(...decoder.push(Uint8Array.of(byte)));
    expect(out.map(hex)).toEqual(messages.map(hex));
  });

  it('holds a truncated frame as pending', () => {
    const decoder = new ZdsFrameDecoder();
    expect(decoder.push(stream.subarray(0, stream.length - 1))).toHaveLength(2);
    expect(decoder.pending).toBeGreaterThan(0);
  });

  it('accepts the maximum size and rejects one more, terminally', () => {
    const ok = new ZdsFrameDecoder(8);
    expect(ok.push(Uint8Array.of(0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8))).toHaveLength(1);
    const bad = new ZdsFrameDecoder(8);
    protocolError(() => bad.push(Uint8Array.of(0, 0, 0, 9)));
    protocolError(() => bad.push(Uint8Array.of(0)));
    protocolError(() => frameZdsMessage(new Uint8Array(ZDS_MAX_MESSAGE_SIZE + 1)));
    expect(frameZdsMessage(new Uint8Array(ZDS_MAX_MESSAGE_SIZE)).length).toBe(ZDS_MAX_MESSAGE_SIZE + 4);
  });

  it('round-trips arbitrary requests through arbitrary chunking (property)', () => {
    const text = fc.string({ minLength: 1, maxLength: 40 });
    const request: fc.Arbitrary<ZdsRequest> = fc.oneof(
      fc.record({ type: fc.constant('add' as const), uid: text, netnsPath: text }),
      fc.record({ type: fc.constant('keep' as const), uid: text }),
      fc.record({ type: fc.constant('del' as const), uid: text }),
      fc.constant({ type: 'snapshot-sent' as const }),
    );
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(50)),
        (requests, cuts) => {
          const bytes = Buffer.concat(requests.map((r) => frameZdsMessage(encodeZdsRequest(r))));
          const decoder = new ZdsFrameDecoder();
          const out: ZdsRequest[] = [];
          let offset = 0;
          for (const cut of cuts) {
            const end = Math.min(bytes.length, offset + cut);
            out.push(...decoder.push(bytes.subarray(offset, end)).map((b) => decodeZdsRequest(b)));
            offset = end;
          }
          out.push(...decoder.push(bytes.subarray(offset)).map((b) => decodeZdsRequest(b)));
          expect(out).toEqual(requests);
        },
      ),
      { interruptAfterTimeLimit: 2000, numRuns: 300 },
    );
  });

  it('never throws anything but CNI_ERR_PROTOCOL on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const decode of [decodeZdsRequest, decodeZdsAck, decodeZdsHello]) {
          try {
            decode(bytes);
          } catch (error) {
            expect(isAmeshError(error, 'CNI_ERR_PROTOCOL')).toBe(true);
          }
        }
      }),
      { interruptAfterTimeLimit: 2000, numRuns: 1000 },
    );
  });
});
