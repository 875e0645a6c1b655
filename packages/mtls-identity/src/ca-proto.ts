import protobuf from 'protobufjs';
import { IdentityError } from './errors.js';

/** The gRPC method path of Istio's CA. */
export const CREATE_CERTIFICATE_PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

/** Metadata key a node agent sets to ask on behalf of a workload (a SPIFFE ID string). */
export const IMPERSONATED_IDENTITY_KEY = 'ImpersonatedIdentity';

/** A JSON value as carried by `google.protobuf.Struct`. */
export type StructValue =
  | null
  | number
  | string
  | boolean
  | readonly StructValue[]
  | { readonly [key: string]: StructValue };

/** `istio.v1.auth.IstioCertificateRequest` (field numbers from Istio's `ca.proto`). */
export interface IstioCertificateRequest {
  /** PEM CSR (field 1). */
  readonly csr: string;
  /** Requested lifetime in seconds (field 3, int64). */
  readonly validityDuration: number;
  /** `google.protobuf.Struct` (field 4); `ImpersonatedIdentity` lives here. */
  readonly metadata: { readonly [key: string]: StructValue };
}

/** `istio.v1.auth.IstioCertificateResponse`. */
export interface IstioCertificateResponse {
  /** PEM certificates, leaf first, root last, one per element (field 1). */
  readonly certChain: readonly string[];
}

// Reflection defined in code (no .proto file to load after bundling).
const schema = {
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Struct: { fields: { fields: { keyType: 'string', type: 'Value', id: 1 } } },
            Value: {
              oneofs: {
                kind: {
                  oneof: ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue'],
                },
              },
              fields: {
                nullValue: { type: 'NullValue', id: 1 },
                numberValue: { type: 'double', id: 2 },
                stringValue: { type: 'string', id: 3 },
                boolValue: { type: 'bool', id: 4 },
                structValue: { type: 'Struct', id: 5 },
                listValue: { type: 'ListValue', id: 6 },
              },
            },
            NullValue: { values: { NULL_VALUE: 0 } },
            ListValue: { fields: { values: { rule: 'repeated', type: 'Value', id: 1 } } },
          },
        },
      },
    },
    istio: {
      nested: {
        v1: {
          nested: {
            auth: {
              nested: {
                IstioCertificateRequest: {
                  fields: {
                    csr: { type: 'string', id: 1 },
                    validityDuration: { type: 'int64', id: 3 },
                    metadata: { type: 'google.protobuf.Struct', id: 4 },
                  },
                },
                IstioCertificateResponse: {
                  fields: { certChain: { rule: 'repeated', type: 'string', id: 1 } },
                },
              },
            },
          },
        },
      },
    },
  },
};
const root = protobuf.Root.fromJSON(schema as protobuf.INamespace);

const RequestType = root.lookupType('istio.v1.auth.IstioCertificateRequest');
const ResponseType = root.lookupType('istio.v1.auth.IstioCertificateResponse');

type ProtoValue = {
  nullValue?: number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
};
type ProtoStruct = { fields?: Record<string, ProtoValue> };

const MAX_DEPTH = 32;

function toProtoValue(value: StructValue, depth: number): ProtoValue {
  if (depth > MAX_DEPTH) throw new RangeError('metadata nests too deeply');
  if (value === null) return { nullValue: 0 };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map((v) => toProtoValue(v, depth + 1)) } };
  return { structValue: toProtoStruct(value as { [key: string]: StructValue }, depth + 1) };
}

function toProtoStruct(value: { readonly [key: string]: StructValue }, depth = 0): ProtoStruct {
  const fields: Record<string, ProtoValue> = {};
  for (const [key, item] of Object.entries(value)) fields[key] = toProtoValue(item, depth);
  return { fields };
}

function fromProtoValue(value: ProtoValue, depth: number): StructValue {
  if (depth > MAX_DEPTH) throw new RangeError('metadata nests too deeply');
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return fromProtoStruct(value.structValue, depth + 1);
  if (value.listValue !== undefined)
    return (value.listValue.values ?? []).map((v) => fromProtoValue(v, depth + 1));
  return null;
}

function fromProtoStruct(value: ProtoStruct | undefined, depth = 0): { [key: string]: StructValue } {
  const out: { [key: string]: StructValue } = {};
  for (const [key, item] of Object.entries(value?.fields ?? {})) out[key] = fromProtoValue(item, depth);
  return out;
}

/** Encodes an {@link IstioCertificateRequest} to protobuf bytes. */
export function encodeCertificateRequest(request: IstioCertificateRequest): Uint8Array {
  return RequestType.encode(
    RequestType.fromObject({
      csr: request.csr,
      validityDuration: request.validityDuration,
      metadata: toProtoStruct(request.metadata),
    }),
  ).finish();
}

/**
 * Decodes protobuf bytes to an {@link IstioCertificateRequest}.
 * @throws {IdentityError} `IDENTITY_ERR_DER_INVALID` (rule `protobuf`) for malformed bytes
 */
export function decodeCertificateRequest(bytes: Uint8Array): IstioCertificateRequest {
  try {
    const message = RequestType.toObject(RequestType.decode(bytes), { longs: Number, defaults: true }) as {
      csr: string;
      validityDuration: number;
      metadata?: ProtoStruct;
    };
    return {
      csr: message.csr,
      validityDuration: message.validityDuration,
      metadata: fromProtoStruct(message.metadata),
    };
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_DER_INVALID', 'IstioCertificateRequest is not valid protobuf', {
      cause,
      rule: 'protobuf',
    });
  }
}

/** Encodes an {@link IstioCertificateResponse}. */
export function encodeCertificateResponse(response: IstioCertificateResponse): Uint8Array {
  return ResponseType.encode(ResponseType.fromObject({ certChain: [...response.certChain] })).finish();
}

/**
 * Decodes an {@link IstioCertificateResponse}.
 * @throws {IdentityError} `IDENTITY_ERR_DER_INVALID` (rule `protobuf`) for malformed bytes
 */
export function decodeCertificateResponse(bytes: Uint8Array): IstioCertificateResponse {
  try {
    const message = ResponseType.toObject(ResponseType.decode(bytes), { defaults: true }) as {
      certChain: string[];
    };
    return { certChain: message.certChain };
  } catch (cause) {
    throw new IdentityError('IDENTITY_ERR_DER_INVALID', 'IstioCertificateResponse is not valid protobuf', {
      cause,
      rule: 'protobuf',
    });
  }
}
