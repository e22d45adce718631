import type { AddressInfo } from 'node:net';

/**
 * The address this machine's CLI uses to reach the daemon, from the address it really listens
 * on: a wildcard becomes the loopback of its family, and an IPv6 address is bracketed
 * (`http://[::1]:8001`), as a URL needs.
 */
export function localUrl(address: AddressInfo | string | null): string | null {
  if (address === null || typeof address === 'string') return null;
  const host =
    address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  return host.includes(':') ? `http://[${host}]:${address.port}` : `http://${host}:${address.port}`;
}
