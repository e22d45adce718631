import { describe, expect, it } from 'vitest';
import { localUrl } from '../src/local-address.js';

describe('the address the CLI uses to reach the daemon', () => {
  it.each([
    [{ address: '0.0.0.0', family: 'IPv4', port: 8001 }, 'http://127.0.0.1:8001'],
    [{ address: '::', family: 'IPv6', port: 8001 }, 'http://[::1]:8001'],
    [{ address: '::1', family: 'IPv6', port: 8001 }, 'http://[::1]:8001'],
    [{ address: '192.0.2.5', family: 'IPv4', port: 8001 }, 'http://192.0.2.5:8001'],
    [{ address: 'fe80::1', family: 'IPv6', port: 18001 }, 'http://[fe80::1]:18001'],
  ])('%o → %s', (address, url) => {
    expect(localUrl(address)).toBe(url);
  });

  it('none for a pipe or a server not listening', () => {
    expect(localUrl('/tmp/relay.sock')).toBeNull();
    expect(localUrl(null)).toBeNull();
  });
});
