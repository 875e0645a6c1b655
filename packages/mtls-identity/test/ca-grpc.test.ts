import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCsr,
  CaService,
  CertificateManager,
  createTestCa,
  decodeCertificateRequest,
  encodeCertificateRequest,
  generateKey,
  IdentityError,
  mtlsAuthenticator,
  bearerTokenAuthenticator,
  parseCertificate,
  parseSpiffeId,
  verifyCertificateChain,
} from '../src/index.js';
import {
  addCaService,
  CaGrpcClient,
  grpcChannelCredentials,
  grpcServerCredentials,
  nodeEcdsaP256,
  spiffeServerIdentityCheck,
} from '../src/node/index.js';

const TD = 'cluster.local';
const WEB = parseSpiffeId(`spiffe://${TD}/ns/default/sa/web`);
const DB = parseSpiffeId(`spiffe://${TD}/ns/default/sa/db`);
const ZTUNNEL = parseSpiffeId(`spiffe://${TD}/ns/istio-system/sa/ztunnel`);
const ISTIOD = parseSpiffeId(`spiffe://${TD}/ns/istio-system/sa/istiod`);

const testCa = createTestCa({ ecdsa: nodeEcdsaP256, maxTtlSeconds: 48 * 3600 });
const istiod = testCa.issue(ISTIOD);
const server = new grpc.Server();
let address = '';
const lookups: string[] = [];
const clients: CaGrpcClient[] = [];

beforeAll(async () => {
  addCaService(
    server,
    new CaService({
      ca: testCa.ca,
      authenticators: [
        mtlsAuthenticator({
          trustDomain: TD,
          nodeOf: (id) => (id.uri === ZTUNNEL.uri ? 'node1' : undefined),
        }),
        bearerTokenAuthenticator({
          verify: (token) => (token === 'node1-token' ? { identity: ZTUNNEL, node: 'node1' } : undefined),
        }),
      ],
      nodeLocator: {
        hasLivePod(node, identity) {
          lookups.push(`${node} ${identity.uri}`);
          return node === 'node1' && identity.uri === WEB.uri;
        },
      },
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpcServerCredentials(istiod, 'optional'), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const client of clients) client.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

function tokenClient(token: string | undefined, ownIdentity = ZTUNNEL): CaGrpcClient {
  const credentials = grpc.credentials.createSsl(Buffer.from(testCa.roots.join('')), null, null, {
    checkServerIdentity: spiffeServerIdentityCheck([ISTIOD]),
  });
  const client = new CaGrpcClient({
    address,
    credentials,
    ownIdentity,
    clusterId: 'Kubernetes',
    ...(token ? { token } : {}),
  });
  clients.push(client);
  return client;
}

function mtlsClient(
  identity: string,
  ownIdentity = parseSpiffeId(
    `spiffe://${TD}/ns/${identity}`.replace(/\/ns\/([^/]+)\/([^/]+)$/, '/ns/$1/sa/$2'),
  ),
) {
  const certificate = testCa.issue(identity);
  const client = new CaGrpcClient({
    address,
    credentials: grpcChannelCredentials(certificate, { expectedIdentities: [ISTIOD] }),
    ownIdentity,
  });
  clients.push(client);
  return client;
}

const csrFor = (identity = WEB) => buildCsr({ identity, key: generateKey() }).pem;

async function failure(promise: Promise<unknown>): Promise<IdentityError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IdentityError);
  return error as IdentityError;
}

describe('istio.v1.auth.IstioCertificateService/CreateCertificate over gRPC', () => {
  it('an mTLS caller gets a certificate for its own identity, leaf first, root last', async () => {
    const chain = await mtlsClient('default/web').createCertificate({
      identity: WEB,
      csrPem: csrFor(),
      ttlSeconds: 3600,
    });
    expect(chain).toHaveLength(2);
    expect(parseCertificate(chain[0]!).identity?.uri).toBe(WEB.uri);
    expect(chain[1]).toBe(testCa.ca.rootPem);
    expect(verifyCertificateChain(chain, { roots: testCa.roots, now: Date.now() })).toHaveLength(2);
  });

  it('a node agent with a bearer token may impersonate an identity with a live pod on its node', async () => {
    lookups.length = 0;
    const chain = await tokenClient('node1-token').createCertificate({
      identity: WEB,
      csrPem: csrFor(),
      ttlSeconds: 3600,
    });
    expect(parseCertificate(chain[0]!).identity?.uri).toBe(WEB.uri);
    expect(lookups).toEqual([`node1 ${WEB.uri}`]);
  });

  it('refuses impersonation of an identity without a live pod on the node: nothing issued', async () => {
    const error = await failure(
      tokenClient('node1-token').createCertificate({ identity: DB, csrPem: csrFor(DB), ttlSeconds: 3600 }),
    );
    expect(error.code).toBe('IDENTITY_ERR_PERMISSION_DENIED');
    expect(error.message).toMatch(/no live pod/);
    expect((error.cause as grpc.ServiceError).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('refuses impersonation by a caller that is not a trusted node agent', async () => {
    const web = mtlsClient('default/web');
    const error = await failure(
      web.createCertificate({ identity: DB, csrPem: csrFor(DB), ttlSeconds: 3600 }),
    );
    expect(error.code).toBe('IDENTITY_ERR_PERMISSION_DENIED');
    expect(error.message).toMatch(/not a trusted node agent/);
  });

  it('an mTLS node agent on a known node may impersonate too', async () => {
    const ztunnel = mtlsClient('istio-system/ztunnel');
    const chain = await ztunnel.createCertificate({ identity: WEB, csrPem: csrFor(), ttlSeconds: 3600 });
    expect(parseCertificate(chain[0]!).identity?.uri).toBe(WEB.uri);
  });

  it('refuses unauthenticated callers and bad tokens', async () => {
    const none = await failure(
      tokenClient(undefined).createCertificate({
        identity: ZTUNNEL,
        csrPem: csrFor(ZTUNNEL),
        ttlSeconds: 60,
      }),
    );
    expect(none.code).toBe('IDENTITY_ERR_UNAUTHENTICATED');
    const bad = await failure(
      tokenClient('stolen').createCertificate({ identity: ZTUNNEL, csrPem: csrFor(ZTUNNEL), ttlSeconds: 60 }),
    );
    expect(bad.code).toBe('IDENTITY_ERR_UNAUTHENTICATED');
    expect((bad.cause as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('maps issuance errors to INVALID_ARGUMENT with the amesh code: TTL over max, bad CSR, oversized CSR', async () => {
    const web = mtlsClient('default/web');
    const ttl = await failure(
      web.createCertificate({ identity: WEB, csrPem: csrFor(), ttlSeconds: 49 * 3600 }),
    );
    expect(ttl.code).toBe('IDENTITY_ERR_TTL_EXCEEDED');
    expect((ttl.cause as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    const garbage = await failure(
      web.createCertificate({ identity: WEB, csrPem: 'not a csr', ttlSeconds: 60 }),
    );
    expect(garbage.code).toBe('IDENTITY_ERR_PEM_INVALID');
    const huge = await failure(
      web.createCertificate({ identity: WEB, csrPem: 'A'.repeat(70_000), ttlSeconds: 60 }),
    );
    expect(huge.code).toBe('IDENTITY_ERR_INPUT_TOO_LARGE');
  });

  it('an mTLS client refuses a CA server that is not the expected identity', async () => {
    const certificate = testCa.issue('default/web');
    const client = new CaGrpcClient({
      address,
      credentials: grpcChannelCredentials(certificate, { expectedIdentities: [WEB] }),
      timeoutMs: 5000,
    });
    clients.push(client);
    const error = await failure(
      client.createCertificate({ identity: WEB, csrPem: csrFor(), ttlSeconds: 60 }),
    );
    expect(error.code).toBe('IDENTITY_ERR_CA_UNAVAILABLE');
    expect((error.cause as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('the certificate manager fetches through the gRPC client', async () => {
    const manager = new CertificateManager({
      caClient: tokenClient('node1-token'),
      ttlSeconds: 3600,
      roots: testCa.roots,
    });
    try {
      const certificate = await manager.fetch(WEB);
      expect(certificate.identity.uri).toBe(WEB.uri);
      expect(certificate.roots).toEqual(testCa.roots);
    } finally {
      manager.close();
    }
  });
});

describe('wire compatibility with Istio ca.proto', () => {
  // Written independently from Istio's security/proto/ca.proto and google/protobuf/struct.proto.
  const istio = protobuf.parse(`
    syntax = "proto3";
    package istio.v1.auth;
    message Struct { map<string, Value> fields = 1; }
    message Value {
      oneof kind { int32 null_value = 1; double number_value = 2; string string_value = 3; bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6; }
    }
    message ListValue { repeated Value values = 1; }
    message IstioCertificateRequest { string csr = 1; int64 validity_duration = 3; Struct metadata = 4; }
    message IstioCertificateResponse { repeated string cert_chain = 1; }
  `).root;
  const Request = istio.lookupType('istio.v1.auth.IstioCertificateRequest');

  it('our encoding decodes with the reference schema, and back', () => {
    const ours = encodeCertificateRequest({
      csr: 'CSR',
      validityDuration: 86_400,
      metadata: { ImpersonatedIdentity: WEB.uri, n: 1, list: [true, null] },
    });
    const decoded = Request.toObject(Request.decode(ours), { longs: Number }) as {
      csr: string;
      validityDuration: number;
      metadata: { fields: Record<string, { stringValue?: string }> };
    };
    expect(decoded.csr).toBe('CSR');
    expect(decoded.validityDuration).toBe(86_400);
    expect(decoded.metadata.fields.ImpersonatedIdentity?.stringValue).toBe(WEB.uri);
    // Field tags: csr = 1 (0x0a), validity_duration = 3 (0x18), metadata = 4 (0x22).
    expect(ours[0]).toBe(0x0a);
    expect([...ours]).toContain(0x18);
    const theirs = Request.encode(
      Request.fromObject({
        csr: 'X',
        validityDuration: 60,
        metadata: { fields: { ImpersonatedIdentity: { stringValue: DB.uri } } },
      }),
    ).finish();
    expect(decodeCertificateRequest(theirs)).toEqual({
      csr: 'X',
      validityDuration: 60,
      metadata: { ImpersonatedIdentity: DB.uri },
    });
  });

  it('malformed protobuf is a typed error', () => {
    expect(() => decodeCertificateRequest(new Uint8Array([0x0a, 0xff, 0xff]))).toThrow(IdentityError);
  });
});
