// Sends one signed delivery over HTTP(S) with undici: bounded by a deadline,
// no redirects followed (a 3xx is a failed attempt), the response body read
// only up to a small bound and discarded, and the socket connected only to an
// address the URL guard checked (its lookup runs inside the connect).
import { Agent, request } from 'undici';
import { checkEndpointUrl } from '../domain/address.js';
import { describeError, outcomeOfStatus, type AttemptOutcome } from '../domain/delivery.js';
import type { UrlGuard } from '../app/url-guard.js';

const RESPONSE_BYTES_MAX = 64 * 1024;
const USER_AGENT = 'wallet-webhooks/1';

export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface WebhookSender {
  send(request: SendRequest): Promise<AttemptOutcome>;
  close(): Promise<void>;
}

export class HttpWebhookSender implements WebhookSender {
  private readonly agent: Agent;

  constructor(
    private readonly guard: UrlGuard,
    private readonly timeoutMs: number,
    connectionsMax: number,
  ) {
    this.agent = new Agent({
      connect: { lookup: guard.socketLookup(), timeout: timeoutMs },
      connections: connectionsMax,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  async send(input: SendRequest): Promise<AttemptOutcome> {
    // The stored URL is checked again: rules may have tightened since registration, and an IP literal skips DNS.
    const verdict = checkEndpointUrl(input.url, this.guard.allowLoopback);
    if (!verdict.ok) return { kind: 'failed', statusCode: 0, error: `url not allowed: ${verdict.description}` };
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await request(input.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...input.headers },
        body: input.body,
        signal,
      });
      await drain(response.body);
      return outcomeOfStatus(response.statusCode);
    } catch (error) {
      if (signal.aborted) return { kind: 'failed', statusCode: 0, error: 'timeout' };
      const cause = (error as { cause?: unknown }).cause;
      if ((error as { code?: string }).code === 'URL_NOT_ALLOWED' || (cause as { code?: string })?.code === 'URL_NOT_ALLOWED') {
        return { kind: 'failed', statusCode: 0, error: `url not allowed: ${(error as Error).message}`.slice(0, 200) };
      }
      return { kind: 'failed', statusCode: 0, error: describeError(error) };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Reads at most RESPONSE_BYTES_MAX of the answer (nobody needs it), then drops the rest. */
async function drain(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<void> {
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > RESPONSE_BYTES_MAX) break;
    }
  } finally {
    body.destroy();
  }
}
