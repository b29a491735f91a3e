import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, GrpcTargetError, loadConfig, parseGrpcTarget, targetAddress } from '@wallet/platform';

describe('parseGrpcTarget', () => {
  it.each([
    ['one host:port stays as it is (grpc-js dns resolver)', 'localhost:50051', 'localhost:50051'],
    ['surrounding blanks are ignored', '  bank-service:50051 ', 'bank-service:50051'],
    ['an IPv4 list becomes an ipv4: target', '127.0.0.1:50051,127.0.0.1:50052', 'ipv4:127.0.0.1:50051,127.0.0.1:50052'],
    ['an IPv6 list becomes an ipv6: target', '[::1]:50051, [::1]:50052', 'ipv6:[::1]:50051,[::1]:50052'],
    ['a list with names uses the wallet-list resolver', 'localhost:50051,bank-2:50051', 'wallet-list:///localhost:50051,bank-2:50051'],
    ['a mixed-family list uses the wallet-list resolver', '127.0.0.1:1,[::1]:2', 'wallet-list:///127.0.0.1:1,[::1]:2'],
    ['duplicates are dropped', '127.0.0.1:1,127.0.0.1:1', '127.0.0.1:1'],
    ['dns:/// stays a dns target', 'dns:///bank-service:50051', 'dns:///bank-service:50051'],
    ['dns: without slashes is normalised', 'dns:bank-service.wallet.svc.cluster.local:50051', 'dns:///bank-service.wallet.svc.cluster.local:50051'],
  ])('%s', (_what, input, expected) => {
    expect(parseGrpcTarget(input)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['no port', 'localhost'],
    ['port 0', 'localhost:0'],
    ['port too big', 'localhost:65536'],
    ['a bad host', 'bad host:50051'],
    ['an empty list item', '127.0.0.1:1,,127.0.0.1:2'],
    ['an IPv6 address without brackets', '::1:50051'],
    ['a dns target with a list', 'dns:///a:1,b:2'],
    ['a dns target without port', 'dns:///bank-service'],
    ['an http URL', 'http://bank:50051'],
    ['a raw grpc-js scheme (the setting is not a grpc-js target)', 'ipv4:127.0.0.1:1'],
    ['a unix socket', 'unix:/tmp/bank.sock'],
  ])('refuses %s with a clear message', (_what, input) => {
    expect(() => parseGrpcTarget(input)).toThrow(GrpcTargetError);
  });

  it('refuses more than 64 addresses', () => {
    const many = Array.from({ length: 65 }, (_, i) => `127.0.0.1:${10_000 + i}`).join(',');
    expect(() => parseGrpcTarget(many)).toThrow(/at most 64/);
  });
});

describe('env.grpcTarget', () => {
  const schema = z.object({ SVC_BANK_GRPC_ADDRESS: env.grpcTarget('localhost:50051') });

  it('turns the setting into a grpc-js target and keeps a working default', () => {
    expect(loadConfig(schema, {}).SVC_BANK_GRPC_ADDRESS).toBe('localhost:50051');
    expect(loadConfig(schema, { SVC_BANK_GRPC_ADDRESS: '127.0.0.1:1,127.0.0.1:2' }).SVC_BANK_GRPC_ADDRESS).toBe('ipv4:127.0.0.1:1,127.0.0.1:2');
  });

  it('reports a bad address as a config error naming the variable', () => {
    let problems: string[] = [];
    try {
      loadConfig(schema, { SVC_BANK_GRPC_ADDRESS: 'localhost' });
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^SVC_BANK_GRPC_ADDRESS: .*host:port/);
  });
});

describe('targetAddress (span server.address of a client)', () => {
  it.each([
    ['bank:50051', { address: 'bank', port: 50051 }],
    ['dns:///bank-service:50051', { address: 'bank-service', port: 50051 }],
    ['[::1]:50051', { address: '::1', port: 50051 }],
    ['ipv4:127.0.0.1:1,127.0.0.1:2', { address: '127.0.0.1:1,127.0.0.1:2' }],
    ['wallet-list:///bank-1:1,bank-2:1', { address: 'bank-1:1,bank-2:1' }],
  ])('%s', (target, expected) => {
    expect(targetAddress(target)).toEqual(expected);
  });
});
