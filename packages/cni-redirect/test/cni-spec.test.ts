import { describe, expect, it } from 'vitest';
import {
  CniErrorCode,
  cniVersionResult,
  parseCniAgentRequest,
  parseCniAgentResponse,
  parseCniConfig,
  parseCniEnvironment,
  passThroughResult,
  resultAddresses,
} from '../src/index.js';

const env = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/p1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-1',
};
const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p1' }],
  ips: [
    { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
    { address: 'fd00::5/64', interface: 0 },
  ],
};
const config = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'amesh-cni', prevResult };

describe('CNI 1.0 parameters (SPEC.md "Parameters")', () => {
  it('parses the environment, CNI_ARGS and CNI_PATH', () => {
    const parsed = parseCniEnvironment(env);
    expect(parsed).toEqual({
      ok: true,
      value: {
        command: 'ADD',
        containerId: 'abc123',
        netns: '/var/run/netns/p1',
        ifname: 'eth0',
        args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'shop', K8S_POD_NAME: 'cart-1' },
        path: ['/opt/cni/bin', '/usr/lib/cni'],
      },
    });
  });

  it.each([
    [{ CNI_COMMAND: undefined }, 'invalid CNI_COMMAND'],
    [{ CNI_COMMAND: 'GC' }, 'invalid CNI_COMMAND'],
    [{ CNI_CONTAINERID: '' }, 'invalid CNI_CONTAINERID'],
    [{ CNI_CONTAINERID: '-bad' }, 'invalid CNI_CONTAINERID'],
    [{ CNI_IFNAME: '' }, 'invalid CNI_IFNAME'],
    [{ CNI_IFNAME: 'a-very-long-ifname' }, 'invalid CNI_IFNAME'],
    [{ CNI_IFNAME: 'eth/0' }, 'invalid CNI_IFNAME'],
    [{ CNI_NETNS: undefined }, 'missing CNI_NETNS'],
    [{ CNI_ARGS: 'novalue' }, 'invalid CNI_ARGS'],
  ])('rejects %j with code 4 (invalid environment variables)', (change, msg) => {
    const parsed = parseCniEnvironment({ ...env, ...change });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe(CniErrorCode.InvalidEnvironment);
      expect(parsed.error.msg).toBe(msg);
      expect(parsed.error.cniVersion).toBe('1.0.0');
    }
  });

  it('lets DEL go without CNI_NETNS, and VERSION without anything else', () => {
    const del = parseCniEnvironment({ ...env, CNI_COMMAND: 'DEL', CNI_NETNS: undefined });
    expect(del.ok && del.value.netns).toBe(undefined);
    expect(del.ok).toBe(true);
    expect(parseCniEnvironment({ CNI_COMMAND: 'VERSION' }).ok).toBe(true);
  });
});

describe('CNI 1.0 network configuration (SPEC.md "Network configuration", "Error")', () => {
  it('parses a chained config with defaults for the plugin fields', () => {
    const parsed = parseCniConfig(JSON.stringify(config), 'ADD');
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.value.agentSocket).toBe('/run/amesh/cni.sock');
      expect(parsed.value.agentTimeoutMs).toBe(5000);
      expect(passThroughResult(parsed.value)).toEqual(prevResult);
      expect(resultAddresses(parsed.value.prevResult)).toEqual(['10.1.0.5', 'fd00::5']);
    }
  });

  it.each([
    ['{not json', 'ADD', CniErrorCode.DecodeFailure],
    ['[]', 'ADD', CniErrorCode.DecodeFailure],
    [JSON.stringify({ ...config, cniVersion: undefined }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, cniVersion: '9.9.9' }), 'ADD', CniErrorCode.IncompatibleVersion],
    [JSON.stringify({ ...config, cniVersion: '0.3.1' }), 'CHECK', CniErrorCode.IncompatibleVersion],
    [JSON.stringify({ ...config, name: undefined }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, name: 'bad name' }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, type: 3 }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, agentSocket: 'relative.sock' }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, agentTimeoutMs: 0 }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, prevResult: 'x' }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, prevResult: undefined }), 'ADD', CniErrorCode.InvalidConfig],
    [JSON.stringify({ ...config, prevResult: undefined }), 'CHECK', CniErrorCode.InvalidConfig],
  ] as const)('rejects %s for %s with code %i', (stdin, command, code) => {
    const parsed = parseCniConfig(stdin, command);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe(code);
      expect(typeof parsed.error.msg).toBe('string');
      expect(Object.keys(parsed.error).sort()).toEqual(['cniVersion', 'code', 'details', 'msg']);
    }
  });

  it('lets DEL go without prevResult and answers VERSION', () => {
    expect(parseCniConfig(JSON.stringify({ ...config, prevResult: undefined }), 'DEL').ok).toBe(true);
    expect(cniVersionResult()).toEqual({
      cniVersion: '1.0.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'],
    });
  });
});

describe('plugin ↔ agent messages', () => {
  it('validates requests and responses', () => {
    const request = parseCniAgentRequest(
      JSON.stringify({
        command: 'ADD',
        containerId: 'c',
        ifname: 'eth0',
        netns: '/n',
        podNamespace: 'a',
        podName: 'b',
        ips: ['10.0.0.1'],
      }),
    );
    expect(request).toEqual({
      command: 'ADD',
      containerId: 'c',
      ifname: 'eth0',
      netns: '/n',
      podNamespace: 'a',
      podName: 'b',
      ips: ['10.0.0.1'],
    });
    expect(() => parseCniAgentRequest('{"command":"ADD"}')).toThrow(/must be a non-empty string/);
    expect(() =>
      parseCniAgentRequest(
        '{"command":"ADD","containerId":"c","ifname":"e","podNamespace":"a","podName":"b"}',
      ),
    ).toThrow(/netns/);
    expect(() => parseCniAgentRequest('nope')).toThrow(/not JSON/);
    expect(parseCniAgentResponse('{"ok":true,"outcome":"captured"}')).toEqual({
      ok: true,
      outcome: 'captured',
    });
    expect(parseCniAgentResponse('{"ok":false,"code":"CNI_ERR_TIMEOUT","message":"m"}')).toEqual({
      ok: false,
      code: 'CNI_ERR_TIMEOUT',
      message: 'm',
    });
    expect(() => parseCniAgentResponse('{"ok":true,"outcome":"maybe"}')).toThrow(/outcome/);
  });
});
