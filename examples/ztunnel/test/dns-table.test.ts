import { DnsNameTable } from '@amesh/dns-proxy';
import { WorkloadStore } from '@amesh/workload-state';
import { type Address, decodeAddress, encodeAddress } from '@amesh/xds-types';
import { describe, expect, it } from 'vitest';
import { syncDnsTable } from '../src/dns.js';

/** An Address in the decoded shape, with every default filled, from the few fields a test names. */
const address = (input: Parameters<typeof encodeAddress>[0]): Address => decodeAddress(encodeAddress(input));

const service = (name: string, hostname: string, vips: number[][]): Address =>
  address({
    type: 'service',
    service: {
      name,
      namespace: 'shop',
      hostname,
      addresses: vips.map((v) => ({ network: '', address: new Uint8Array(v) })),
    },
  });

const addressesOf = (table: DnsNameTable, name: string): readonly string[] | undefined =>
  table.lookup(name, { namespace: 'shop' })?.addresses;

describe('the ztunnel DNS table follows the workload store', () => {
  it('keys services by their xDS resource name: added before and after the sync, renamed, removed', () => {
    const store = new WorkloadStore();
    const table = new DnsNameTable();
    // Resource names that are not `<namespace>/<hostname>`: a removal names only the resource.
    store.applyAddress('svc-a', service('a', 'a.shop.svc.cluster.local', [[10, 96, 0, 1]]));
    const stop = syncDnsTable(store, table);
    store.applyAddress('svc-b', service('b', 'b.shop.svc.cluster.local', [[10, 96, 0, 2]]));
    expect(addressesOf(table, 'a.shop.svc.cluster.local')).toEqual(['10.96.0.1']);
    expect(addressesOf(table, 'b.shop')).toEqual(['10.96.0.2']);

    store.applyAddress('svc-b', service('b', 'b2.shop.svc.cluster.local', [[10, 96, 0, 3]]));
    expect(addressesOf(table, 'b.shop.svc.cluster.local')).toBeUndefined();
    expect(addressesOf(table, 'b2.shop.svc.cluster.local')).toEqual(['10.96.0.3']);

    store.applyAddress('svc-a', undefined);
    expect(addressesOf(table, 'a.shop.svc.cluster.local')).toBeUndefined();
    expect(table.size).toBe(1);

    stop();
    store.applyAddress('svc-a', service('a', 'a.shop.svc.cluster.local', [[10, 96, 0, 1]]));
    expect(addressesOf(table, 'a.shop.svc.cluster.local')).toBeUndefined();
  });

  it('answers a headless service with its endpoints, updated as workloads come and go', () => {
    const store = new WorkloadStore();
    const table = new DnsNameTable();
    syncDnsTable(store, table);
    const hostname = 'db.shop.svc.cluster.local';
    store.applyAddress('shop/db', service('db', hostname, []));
    expect(addressesOf(table, hostname)).toEqual([]);
    const pod = (uid: string, ip: number[]): Address =>
      address({
        type: 'workload',
        workload: {
          uid,
          name: uid,
          namespace: 'shop',
          addresses: [new Uint8Array(ip)],
          services: { [`shop/${hostname}`]: { ports: [{ servicePort: 5432, targetPort: 5432 }] } },
        },
      });
    store.applyAddress('db-0', pod('db-0', [10, 1, 0, 5]));
    store.applyAddress('db-1', pod('db-1', [10, 1, 0, 6]));
    expect([...(addressesOf(table, hostname) ?? [])].sort()).toEqual(['10.1.0.5', '10.1.0.6']);
    store.applyAddress('db-0', undefined);
    expect(addressesOf(table, hostname)).toEqual(['10.1.0.6']);
  });
});
