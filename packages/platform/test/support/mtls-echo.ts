// A tiny gRPC service for the mutual-TLS tests: generic definitions over raw
// bytes (no proto), each RPC answering who called it as the server saw it.
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import {
  Server,
  makeGenericClientConstructor,
  type ChannelCredentials,
  type Client,
  type ServiceDefinition,
  type ServiceError,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { HealthImplementation, service as healthService } from 'grpc-health-check';
import { authorizeCallers, createMtls, http2SessionOf, mtlsChannelOptions, peerServiceName, type CallerDenial, type Mtls } from '@wallet/platform/tls';
import { writeServiceFiles, type PemPair, type Pki } from '../../../../scripts/lib/pki.mjs';

export interface Seen {
  caller: string | null;
  /** Serial number of the client certificate the server verified. */
  serial: string | null;
}

const identity = (value: Buffer): Buffer => value;
function unary(name: string) {
  return {
    path: `/wallet.test.v1.Echo/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: name,
  };
}

/** DepositMoney (card adapter only), GetBalance (gateway and card adapter), Unlisted (in no table). */
export const echoDefinition = {
  depositMoney: unary('DepositMoney'),
  getBalance: unary('GetBalance'),
  unlisted: unary('Unlisted'),
} satisfies ServiceDefinition;

function echo(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
  const cert = call.getAuthContext().sslPeerCertificate;
  const seen: Seen = { caller: peerServiceName(call), serial: cert?.serialNumber ?? null };
  callback(null, Buffer.from(JSON.stringify(seen)));
}

export interface EchoServer {
  port: number;
  mtls: Mtls;
  /** Handler runs that got past authorization. */
  handled(): number;
  /** Of those, calls whose HTTP/2 session was found (the caller name is remembered per connection). */
  sessionsFound(): number;
  denials: CallerDenial[];
  close(): Promise<void>;
}

/** Starts the echo service as `bank-service` with mTLS from `files`, with the health service beside it. */
export async function startEchoServer(files: { caFile: string; certFile: string; keyFile: string }): Promise<EchoServer> {
  const mtls = createMtls({ ...files, reloadIntervalMs: 0, reloadOnSighup: true });
  const server = new Server();
  let handled = 0;
  let sessionsFound = 0;
  const denials: CallerDenial[] = [];
  const counted = (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
    handled += 1;
    if (http2SessionOf(call) !== undefined) sessionsFound += 1;
    echo(call, callback);
  };
  const implementation = { depositMoney: counted, getBalance: counted, unlisted: counted };
  const table = { depositMoney: ['bank-card-adapter'], getBalance: ['api-gateway', 'bank-card-adapter'] };
  // `unlisted` is left out on purpose (cast): an RPC missing from the table is denied.
  server.addService(
    echoDefinition,
    authorizeCallers(echoDefinition, implementation, table as unknown as Record<keyof typeof implementation, string[]>, {
      domain: 'bank.wallet',
      onDenied: (denial) => denials.push(denial),
    }),
  );
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', mtls.serverCredentials(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    port,
    mtls,
    handled: () => handled,
    sessionsFound: () => sessionsFound,
    denials,
    close: async () => {
      server.forceShutdown();
      mtls.close();
    },
  };
}

type UnaryClient = Client & Record<string, (request: Buffer, options: { deadline: number }, callback: (error: ServiceError | null, response?: Buffer) => void) => { getAuthContext(): { sslPeerCertificate?: { serialNumber?: string } } | null }>;

const EchoClient = makeGenericClientConstructor(echoDefinition, 'Echo');
const HealthClient = makeGenericClientConstructor(healthService, 'Health');

// A private subchannel pool: every client is a new TLS connection, never one reused from another test.
const CLIENT_OPTIONS = { 'grpc.use_local_subchannel_pool': 1, ...mtlsChannelOptions('bank-service') };

export interface CallResult {
  error: ServiceError | null;
  seen: Seen | null;
  /** Serial number of the server certificate the client verified. */
  serverSerial: string | null;
}

/** One call of `rpc` on a new connection (or on `client` when given), within 5 s. */
export async function callEcho(port: number, credentials: ChannelCredentials, rpc: keyof typeof echoDefinition, client?: Client): Promise<CallResult> {
  const target = (client ?? new EchoClient(`127.0.0.1:${port}`, credentials, CLIENT_OPTIONS)) as UnaryClient;
  try {
    return await new Promise<CallResult>((resolve) => {
      const call = target[rpc]!(Buffer.alloc(0), { deadline: Date.now() + 5_000 }, (error, response) => {
        const serverSerial = call.getAuthContext()?.sslPeerCertificate?.serialNumber ?? null;
        resolve({ error, seen: response ? (JSON.parse(response.toString()) as Seen) : null, serverSerial });
      });
    });
  } finally {
    if (!client) target.close();
  }
}

/** A client kept open across calls (one connection), for the "no downtime" checks. */
export function openEchoClient(port: number, credentials: ChannelCredentials): Client {
  return new EchoClient(`127.0.0.1:${port}`, credentials, CLIENT_OPTIONS);
}

/** grpc.health.v1 Check of the whole server on a new connection. */
export async function callHealth(port: number, credentials: ChannelCredentials): Promise<ServiceError | null> {
  const client = new HealthClient(`127.0.0.1:${port}`, credentials, CLIENT_OPTIONS) as unknown as UnaryClient;
  try {
    return await new Promise((resolve) => client.check!({ service: "" } as unknown as Buffer, { deadline: Date.now() + 5_000 }, (error) => resolve(error)));
  } finally {
    client.close();
  }
}

/** Copies a service's files from the PKI into `dir` (each test party owns its copy, as a container would). */
export function copyIdentity(pki: Pki, service: string, dir: string): { caFile: string; certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  const files = { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, `${service}.pem`), keyFile: path.join(dir, `${service}-key.pem`) };
  copyFileSync(pki.caFile, files.caFile);
  copyFileSync(pki.services[service]!.certFile, files.certFile);
  copyFileSync(pki.services[service]!.keyFile, files.keyFile);
  return files;
}

/** Writes a certificate pair into `dir` under `name`, with the CA file beside it; returns the file set. */
export function identityFiles(caFile: string, dir: string, name: string, pair: PemPair): { caFile: string; certFile: string; keyFile: string } {
  return { caFile, ...writeServiceFiles(dir, name, pair) };
}

/** The serial number of a PEM certificate, as node prints it in PeerCertificate.serialNumber. */
export function serialOf(certPem: string): string {
  return new X509Certificate(certPem).serialNumber;
}

/** Waits until `condition` holds, or fails after timeoutMs. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// The client connection preface and an empty SETTINGS frame (RFC 9113 3.4).
const HTTP2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/**
 * A raw TLS client (ALPN h2, as grpc-js) presenting `files` (or no
 * certificate) and speaking the HTTP/2 preface: 'accepted' once the server
 * answers with its own frames; otherwise how the server ended it ('closed',
 * or the TLS alert's message). grpc-js reduces all refusals to "Failed to
 * connect"; this tells an accepted handshake from a refused one.
 */
export async function rawHandshake(port: number, files: { caFile: string; certFile?: string; keyFile?: string }): Promise<string> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: readFileSync(files.caFile),
    ...(files.certFile && files.keyFile ? { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) } : {}),
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  });
  const outcome = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('no answer within 5 s'), 5_000);
    const done = (value: string): void => {
      clearTimeout(timer);
      resolve(value);
    };
    socket.once('secureConnect', () => socket.write(HTTP2_PREFACE));
    socket.once('data', () => done('accepted'));
    // TLS 1.3: a refusal of the client certificate arrives after the client's handshake ends.
    socket.once('error', (error) => done(error.message));
    socket.once('close', () => done('closed'));
  });
  socket.destroy();
  return outcome;
}
