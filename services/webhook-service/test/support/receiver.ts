// A loopback HTTP receiver for deliveries: verifies each Standard Webhooks
// signature with the endpoint's secret, records what arrived, and answers
// with a scripted status (fail the first N, then 200).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from '../../src/domain/signature.js';

export interface Received {
  id: string;
  timestamp: string;
  body: string;
  /** The webhook-signature header as sent (space-separated during a rotation's grace period). */
  signature: string;
  event: { eventId: string; eventType: string; accountId: string };
  signatureValid: boolean;
  status: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** The secret signatures are checked against (set after registration). */
  secret: string;
  /** Status to answer for the next requests, in order; then 200. */
  script: number[];
  /** Per event id: how many of its attempts to answer 500 first (before the script). */
  failFirst: Map<string, number>;
  /** While true, requests are held unanswered (a hanging receiver) until release(). */
  hang: boolean;
  /** Requests being answered now, and the most at once. */
  open: number;
  openMax: number;
  /** Stops hanging and answers the held requests. */
  release(): void;
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

export async function startReceiver(path = '/hooks'): Promise<Receiver> {
  const held: Array<() => void> = [];
  const receiver: Receiver = {
    url: '',
    received: [],
    secret: '',
    script: [],
    failFirst: new Map(),
    hang: false,
    open: 0,
    openMax: 0,
    release: () => {
      receiver.hang = false;
      for (const answer of held.splice(0)) answer();
    },
    close: async () => {},
  };
  const server: Server = createServer((request, response) => {
    receiver.open += 1;
    receiver.openMax = Math.max(receiver.openMax, receiver.open);
    response.on('close', () => (receiver.open -= 1));
    void readBody(request).then((body) => {
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      const eventId = (JSON.parse(body) as { eventId?: string }).eventId ?? '';
      const failures = receiver.failFirst.get(eventId) ?? 0;
      if (failures > 0) receiver.failFirst.set(eventId, failures - 1);
      const status = failures > 0 ? 500 : (receiver.script.shift() ?? 200);
      receiver.received.push({
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        body,
        signature: headers['webhook-signature'],
        event: JSON.parse(body) as Received['event'],
        signatureValid: verify(receiver.secret, headers, body, Math.floor(Date.now() / 1000)),
        status,
      });
      if (receiver.hang) held.push(() => response.writeHead(status).end());
      else response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  receiver.close = () => {
    receiver.release();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return receiver;
}
