import { describe, expect, it } from 'vitest';
import { formatConnectionLog } from '../src/index.js';

describe('connection log', () => {
  it('writes ztunnel fields in order, quoting strings and leaving numbers and addresses bare', () => {
    const line = formatConnectionLog(
      {
        direction: 'inbound',
        'src.addr': '10.0.1.5:40000',
        'src.workload': 'sleep',
        'src.identity': 'spiffe://cluster.local/ns/foo/sa/sleep',
        'dst.addr': '10.0.2.7:8080',
        'dst.hbone_addr': '10.0.2.7:15008',
        bytes_sent: 12,
        bytes_recv: 34,
        duration: 5,
      },
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    );
    expect(line).toBe(
      '2026-01-02T03:04:05.000Z info access connection complete src.addr=10.0.1.5:40000 src.workload="sleep" ' +
        'src.identity="spiffe://cluster.local/ns/foo/sa/sleep" dst.addr=10.0.2.7:8080 dst.hbone_addr=10.0.2.7:15008 ' +
        'direction="inbound" bytes_sent=12 bytes_recv=34 duration="5ms"',
    );
  });

  it('logs at error level with the error quoted when the connection failed', () => {
    const line = formatConnectionLog({ direction: 'outbound', error: 'connection refused "x"' }, new Date(0));
    expect(line).toBe(
      '1970-01-01T00:00:00.000Z error access connection complete direction="outbound" error="connection refused \\"x\\""',
    );
  });
});
