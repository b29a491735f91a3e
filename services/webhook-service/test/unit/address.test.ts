import { describe, expect, it } from 'vitest';
import { checkAddress, checkEndpointUrl } from '../../src/domain/address.js';

describe('checkAddress (SSRF)', () => {
  it.each(['10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '127.0.0.1', '::1', '0.0.0.0', '100.64.0.1', '224.0.0.1', 'fc00::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', '2002:a00:1::', '64:ff9b::a00:1', '192.0.2.1'])(
    'refuses %s',
    (address) => {
      expect(checkAddress(address, false).ok).toBe(false);
    },
  );

  it.each(['93.184.216.34', '8.8.8.8', '2001:4860:4860::8888', '::ffff:8.8.8.8'])('allows the public address %s', (address) => {
    expect(checkAddress(address, false)).toEqual({ ok: true });
  });

  it('allows loopback only when loopback is allowed, and never private ranges', () => {
    expect(checkAddress('127.0.0.1', true)).toEqual({ ok: true });
    expect(checkAddress('::1', true)).toEqual({ ok: true });
    expect(checkAddress('10.0.0.1', true).ok).toBe(false);
    expect(checkAddress('169.254.169.254', true).ok).toBe(false);
  });
});

describe('checkEndpointUrl', () => {
  it('accepts https to a public literal or a name (names are resolved by the caller)', () => {
    expect(checkEndpointUrl('https://93.184.216.34/hook', false)).toMatchObject({ ok: true, url: { literalAddress: '93.184.216.34' } });
    expect(checkEndpointUrl('https://example.com/hook?a=1', false)).toMatchObject({ ok: true, url: { hostname: 'example.com', literalAddress: undefined } });
  });

  it.each([
    ['http://example.com/hook', false],
    ['http://127.0.0.1:8080/hook', false],
    ['http://[::1]:8080/hook', false],
    ['https://localhost/hook', false],
    ['https://10.0.0.1/hook', false],
    ['https://[::ffff:a00:1]/hook', false],
    ['ftp://example.com/x', true],
    ['https://u:p@example.com/', true],
    ['https://example.com/#frag', true],
    ['not a url', true],
    ['http://example.com/hook', true],
  ] as const)('refuses %s (loopback allowed: %s)', (url, allowLoopback) => {
    expect(checkEndpointUrl(url, allowLoopback).ok).toBe(false);
  });

  it('accepts http to loopback only when allowed', () => {
    expect(checkEndpointUrl('http://127.0.0.1:8080/hook', true).ok).toBe(true);
    expect(checkEndpointUrl('http://[::1]:8080/hook', true).ok).toBe(true);
    expect(checkEndpointUrl('http://localhost:8080/hook', true).ok).toBe(true);
  });

  it('refuses a URL longer than 2048 characters', () => {
    expect(checkEndpointUrl(`https://example.com/${'a'.repeat(2048)}`, false).ok).toBe(false);
  });
});
