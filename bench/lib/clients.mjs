// The two ways the bench talks to the system: REST through undici (one
// keep-alive connection per closed-loop worker, like that many independent
// clients) and gRPC straight to the bank-service with the same channel
// settings the api-gateway uses and, like it, mutual TLS with the
// api-gateway's certificate (bench/lib/tls.mjs). Both carry the caller's
// bearer token (`authorization` header / metadata): the gateway and the bank
// verify it.
import { BankServiceClient } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient } from '@wallet/platform';
import { Pool } from 'undici';

const REQUEST_TIMEOUT_MS = 10_000;

export class RestClient {
  /** @param {string} baseUrl @param {number} connections */
  constructor(baseUrl, connections) {
    this.pool = new Pool(baseUrl, {
      connections,
      pipelining: 1,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: 60_000,
    });
  }

  /**
   * @param {'GET' | 'POST'} method
   * @param {string} path
   * @param {{ body?: unknown, headers?: Record<string, string>, json?: boolean }} [options]
   * @returns {Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: any }>}
   */
  async request(method, path, options = {}) {
    const headers = { ...options.headers };
    let body;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await this.pool.request({ method, path, headers, body });
    let parsed;
    if (options.json) {
      const text = await res.body.text();
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
    } else {
      await res.body.dump();
    }
    return { status: res.statusCode, headers: res.headers, body: parsed };
  }

  close() {
    return this.pool.close();
  }
}

export function transferPath(senderId) {
  return `/accounts/${senderId}/transfers`;
}

/** One random amount "0.01".."0.99": small, so 10,000 accounts of 1,000.00 never run dry. */
export function randomAmount() {
  const cents = 1 + Math.floor(Math.random() * 99);
  return `0.${String(cents).padStart(2, '0')}`;
}

export function randomAmountMinor() {
  return BigInt(1 + Math.floor(Math.random() * 99));
}

export class BankGrpcClient {
  /**
   * @param {string} address host:port
   * @param {import('@wallet/platform').GrpcTransport} transport credentials (mTLS as api-gateway, or plaintext for the comparison)
   */
  constructor(address, transport) {
    if (!transport) throw new Error('BankGrpcClient: a transport is required (bench/lib/tls.mjs)');
    this.client = createGrpcClient(BankServiceClient, address, transport);
  }

  /** @param {{ authorization: string }} headers sent as metadata */
  transferMoney(request, headers) {
    return callUnary(this.client, this.client.transferMoney, request, { timeoutMs: REQUEST_TIMEOUT_MS, headers });
  }

  getBalance(request, headers) {
    return callUnary(this.client, this.client.getBalance, request, { timeoutMs: REQUEST_TIMEOUT_MS, headers });
  }

  close() {
    this.client.close();
  }
}
