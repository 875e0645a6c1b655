/**
 * The node agent ↔ ztunnel protocol, sans-IO.
 *
 * Messages are Istio's `istio.workload.zds` protobuf messages (ZdsHello,
 * WorkloadRequest{Add, Keep, Del, SnapshotSent}, WorkloadResponse{Ack}),
 * field for field. Two transports carry them (see `ZdsTransport` in the
 * node glue and README "Agent ↔ ztunnel"): Istio's SOCK_SEQPACKET, one
 * message per packet with the netns fd as SCM_RIGHTS ancillary data (the
 * default), and a unix *stream* socket with a 4-byte big-endian length
 * before each message and the netns path in one amesh extension field,
 * `AddWorkload.netns_path = 1000`.
 */
import { CniRedirectError } from './errors.js';
import { ProtoWriter, readFields, readString } from './protobuf-wire.js';

/** Identity of a workload handed to ztunnel (zds `WorkloadInfo`). */
export interface ZdsWorkloadInfo {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** A request from the node agent to ztunnel (zds `WorkloadRequest`). */
export type ZdsRequest =
  | {
      readonly type: 'add';
      readonly uid: string;
      readonly workloadInfo?: ZdsWorkloadInfo;
      /**
       * The pod's netns path. On the stream transport it is the amesh
       * extension field 1000; on SOCK_SEQPACKET the netns travels as an fd
       * (SCM_RIGHTS) and the receiver sets this to `/proc/self/fd/<fd>`.
       */
      readonly netnsPath: string;
    }
  /** A pod ztunnel may already hold but whose netns the agent cannot hand over now (snapshot only). */
  | { readonly type: 'keep'; readonly uid: string }
  | { readonly type: 'del'; readonly uid: string }
  /** End of the initial snapshot: ztunnel drops every pod not added or kept since the connection opened. */
  | { readonly type: 'snapshot-sent' };

/** ztunnel's answer to one request: `error` is empty on success (zds `Ack`). */
export interface ZdsAck {
  readonly type: 'ack';
  readonly error: string;
}

/** The first message ztunnel sends after connecting (zds `ZdsHello`). */
export interface ZdsHello {
  readonly type: 'hello';
  /** 1 = V1, the only version. */
  readonly version: number;
}

/** Protocol version carried in {@link ZdsHello}. */
export const ZDS_VERSION_V1 = 1;

/** Largest message either side accepts (a frame's length prefix above it is an error). */
export const ZDS_MAX_MESSAGE_SIZE = 64 * 1024;

const NETNS_PATH_FIELD = 1000;

/** Options of {@link encodeZdsRequest}. */
export interface ZdsEncodeOptions {
  /**
   * Write the Add's netns path (field 1000). Default true (the stream
   * transport); false for SOCK_SEQPACKET, where the netns travels as an fd.
   */
  readonly netnsPath?: boolean;
}

/** Options of {@link decodeZdsRequest}. */
export interface ZdsDecodeOptions {
  /**
   * An Add must carry its netns path (field 1000). Default true (the stream
   * transport); false for SOCK_SEQPACKET (the netns comes as an fd, and the
   * decoded `netnsPath` is empty until the receiver fills it in).
   */
  readonly requireNetnsPath?: boolean;
}

/** Encodes a request's protobuf body (no length prefix). */
export function encodeZdsRequest(request: ZdsRequest, options: ZdsEncodeOptions = {}): Uint8Array {
  const w = new ProtoWriter();
  switch (request.type) {
    case 'add': {
      const add = new ProtoWriter().string(1, request.uid);
      if (request.workloadInfo) {
        const info = new ProtoWriter()
          .string(1, request.workloadInfo.name)
          .string(2, request.workloadInfo.namespace)
          .string(3, request.workloadInfo.serviceAccount)
          .finish();
        add.bytes(2, info, true);
      }
      if (options.netnsPath !== false) add.string(NETNS_PATH_FIELD, request.netnsPath);
      return w.bytes(1, add.finish(), true).finish();
    }
    case 'del':
      return w.bytes(2, new ProtoWriter().string(2, request.uid).finish(), true).finish();
    case 'snapshot-sent':
      return w.bytes(3, new Uint8Array(0), true).finish();
    case 'keep':
      return w.bytes(5, new ProtoWriter().string(1, request.uid).finish(), true).finish();
  }
}

function protocolError(message: string): never {
  throw new CniRedirectError('CNI_ERR_PROTOCOL', message);
}

function stringField(bytes: Uint8Array, field: number): string {
  let value = '';
  for (const f of readFields(bytes)) {
    if (f.field === field) {
      if (f.wire !== 2) protocolError(`field ${field} must be length-delimited`);
      value = readString(f.value);
    }
  }
  return value;
}

/**
 * Decodes a request body.
 * @throws {CniRedirectError} `CNI_ERR_PROTOCOL` for malformed bytes, no payload, or an Add without uid or netns path
 */
export function decodeZdsRequest(bytes: Uint8Array, options: ZdsDecodeOptions = {}): ZdsRequest {
  let result: ZdsRequest | undefined;
  for (const f of readFields(bytes)) {
    if (f.field !== 1 && f.field !== 2 && f.field !== 3 && f.field !== 5) continue;
    if (f.wire !== 2) protocolError(`WorkloadRequest field ${f.field} must be a message`);
    // oneof: the last member on the wire wins (protobuf merge rule).
    if (f.field === 1) {
      let uid = '';
      let netnsPath = '';
      let workloadInfo: ZdsWorkloadInfo | undefined;
      for (const g of readFields(f.value)) {
        if (g.wire !== 2) continue;
        if (g.field === 1) uid = readString(g.value);
        else if (g.field === 2) {
          workloadInfo = {
            name: stringField(g.value, 1),
            namespace: stringField(g.value, 2),
            serviceAccount: stringField(g.value, 3),
          };
        } else if (g.field === NETNS_PATH_FIELD) netnsPath = readString(g.value);
      }
      if (uid === '') protocolError('AddWorkload without uid');
      if (netnsPath === '' && options.requireNetnsPath !== false)
        protocolError('AddWorkload without netns path (field 1000)');
      result = { type: 'add', uid, netnsPath, ...(workloadInfo ? { workloadInfo } : {}) };
    } else if (f.field === 2) {
      const uid = stringField(f.value, 2);
      if (uid === '') protocolError('DelWorkload without uid');
      result = { type: 'del', uid };
    } else if (f.field === 3) {
      result = { type: 'snapshot-sent' };
    } else {
      const uid = stringField(f.value, 1);
      if (uid === '') protocolError('KeepWorkload without uid');
      result = { type: 'keep', uid };
    }
  }
  return result ?? protocolError('WorkloadRequest without payload');
}

/** Encodes an ack body (`WorkloadResponse{ack: Ack{error}}`). */
export function encodeZdsAck(error = ''): Uint8Array {
  return new ProtoWriter().bytes(1, new ProtoWriter().string(1, error).finish(), true).finish();
}

/**
 * Decodes an ack body.
 * @throws {CniRedirectError} `CNI_ERR_PROTOCOL` when malformed or without an ack
 */
export function decodeZdsAck(bytes: Uint8Array): ZdsAck {
  let ack: ZdsAck | undefined;
  for (const f of readFields(bytes)) {
    if (f.field !== 1) continue;
    if (f.wire !== 2) protocolError('WorkloadResponse.ack must be a message');
    ack = { type: 'ack', error: stringField(f.value, 1) };
  }
  return ack ?? protocolError('WorkloadResponse without ack');
}

/** Encodes a hello body. */
export function encodeZdsHello(version = ZDS_VERSION_V1): Uint8Array {
  return new ProtoWriter().uint(1, version).finish();
}

/**
 * Decodes a hello body.
 * @throws {CniRedirectError} `CNI_ERR_PROTOCOL` when malformed or the version is not V1
 */
export function decodeZdsHello(bytes: Uint8Array): ZdsHello {
  let version = 0;
  for (const f of readFields(bytes)) {
    if (f.field === 1 && f.wire === 0) version = f.value;
  }
  if (version !== ZDS_VERSION_V1) protocolError(`unsupported zds version ${version} (expected 1)`);
  return { type: 'hello', version };
}

/** Prefixes a body with its 4-byte big-endian length. */
export function frameZdsMessage(body: Uint8Array): Uint8Array {
  if (body.length > ZDS_MAX_MESSAGE_SIZE) {
    throw new CniRedirectError(
      'CNI_ERR_PROTOCOL',
      `message of ${body.length} bytes over ${ZDS_MAX_MESSAGE_SIZE}`,
    );
  }
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * Incremental decoder of length-prefixed frames: feed chunks as they
 * arrive, get whole message bodies back. An error is terminal.
 */
export class ZdsFrameDecoder {
  private buffer: Uint8Array = new Uint8Array(0);
  private failed = false;

  constructor(private readonly maxMessageSize = ZDS_MAX_MESSAGE_SIZE) {}

  /**
   * @returns the complete message bodies now available (copies; the caller owns them)
   * @throws {CniRedirectError} `CNI_ERR_PROTOCOL` when a frame is over the maximum size, and on every push after that
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) protocolError('decoder already failed');
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    const out: Uint8Array[] = [];
    let offset = 0;
    while (joined.length - offset >= 4) {
      const length = new DataView(joined.buffer, offset, 4).getUint32(0);
      if (length > this.maxMessageSize) {
        this.failed = true;
        protocolError(`frame of ${length} bytes over the maximum ${this.maxMessageSize}`);
      }
      if (joined.length - offset - 4 < length) break;
      out.push(joined.slice(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    this.buffer = joined.slice(offset);
    return out;
  }

  /** Bytes held waiting for the rest of a frame (non-zero at end of stream means truncation). */
  get pending(): number {
    return this.buffer.length;
  }
}
