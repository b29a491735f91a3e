import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { type experimental } from '@grpc/grpc-js';

// Why our own provider rather than grpc-js's FileWatcherCertificateProvider:
// that one only polls (no SIGHUP, no "reload now"), reads the files
// asynchronously so a server bound before the first read drops connections,
// and publishes whatever it reads: a certificate and key caught mid-rotation
// that do not match make grpc-js fail `setSecureContext` and refuse every new
// connection until the next poll. This one loads synchronously at start
// (bad files fail the start), validates each new set as a whole and keeps the
// previous one when the new one is unusable.

/** Where a service's mutual-TLS material lives (TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE). */
export interface TlsFiles {
  /** PEM bundle of the CA certificates trusted to sign peers. */
  caFile: string;
  /** PEM certificate (chain) of this service; its SAN DNS is the service name. */
  certFile: string;
  /** PEM private key of certFile. */
  keyFile: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** The own certificate's expiry (ISO 8601), for logs and alerts. */
  notAfter: string;
}

/** Bound on a PEM file: certificate chains are a few KiB. */
const PEM_BYTES_MAX = 1024 * 1024;

function readPem(file: string, what: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    throw new Error(`tls: cannot read ${what} ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, { cause: error });
  }
  if (content.length > PEM_BYTES_MAX) throw new Error(`tls: ${what} ${file} is larger than ${PEM_BYTES_MAX} bytes`);
  return content;
}

/**
 * Reads and checks one consistent set of TLS files: every file readable, the
 * key matching the certificate (createSecureContext refuses a mismatch) and
 * the CA bundle parsable. Throws an Error naming the file on any problem.
 */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const ca = readPem(files.caFile, 'CA file');
  const cert = readPem(files.certFile, 'certificate file');
  const key = readPem(files.keyFile, 'key file');
  let notAfter: string;
  try {
    notAfter = new Date(new X509Certificate(cert).validTo).toISOString();
    createSecureContext({ ca, cert, key });
  } catch (error) {
    throw new Error(`tls: ${files.certFile} / ${files.keyFile} / ${files.caFile} unusable: ${(error as Error).message}`, { cause: error });
  }
  return { ca, cert, key, notAfter };
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.ca.equals(b.ca) && a.cert.equals(b.cert) && a.key.equals(b.key);
}

export type TlsReloadEvent =
  | { outcome: 'reloaded'; notAfter: string }
  | { outcome: 'unchanged' }
  | { outcome: 'failed'; error: Error };

export interface ReloadingCertificateProviderOptions extends TlsFiles {
  /** Re-read the files this often while in use (0: never; SIGHUP or reload() only). */
  reloadIntervalMs?: number;
  /** Re-read on SIGHUP (default true). A listener replaces node's default SIGHUP exit. */
  reloadOnSighup?: boolean;
  /** Told about every reload that changed something or failed (log it). */
  onReload?: (event: TlsReloadEvent) => void;
}

/** The default poll: a rotated certificate is in use within a minute, for a few stat-sized reads. */
export const TLS_RELOAD_INTERVAL_MS_DEFAULT = 60_000;

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * A grpc-js CertificateProvider over three files that reloads them on a timer,
 * on SIGHUP and on reload(). One instance per process serves the gRPC server
 * and every client (both use the service's own identity and the same CA).
 * Existing connections keep their handshake; new ones use the new files.
 */
export class ReloadingCertificateProvider implements experimental.CertificateProvider {
  private material: TlsMaterial;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private watching = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onSighup = (): void => void this.reload();

  constructor(private readonly options: ReloadingCertificateProviderOptions) {
    // Synchronous and throwing: a service with unusable TLS files must not start.
    this.material = readTlsMaterial(options);
  }

  /** The material in use now. */
  current(): TlsMaterial {
    return this.material;
  }

  /** Re-reads the files; publishes them when they changed and are usable, else keeps the current set. */
  reload(): TlsReloadEvent {
    let next: TlsMaterial;
    try {
      next = readTlsMaterial(this.options);
    } catch (error) {
      const event: TlsReloadEvent = { outcome: 'failed', error: error as Error };
      this.options.onReload?.(event);
      return event;
    }
    if (sameMaterial(next, this.material)) return { outcome: 'unchanged' };
    this.material = next;
    for (const listener of this.caListeners) listener({ caCertificate: next.ca });
    for (const listener of this.identityListeners) listener({ certificate: next.cert, privateKey: next.key });
    const event: TlsReloadEvent = { outcome: 'reloaded', notAfter: next.notAfter };
    this.options.onReload?.(event);
    return event;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.startWatching();
    process.nextTick(listener, { caCertificate: this.material.ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.maybeStopWatching();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.startWatching();
    process.nextTick(listener, { certificate: this.material.cert, privateKey: this.material.key });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.maybeStopWatching();
  }

  /** Stops the timer and the SIGHUP listener (at shutdown, after the server and channels are closed). */
  close(): void {
    this.caListeners.clear();
    this.identityListeners.clear();
    this.maybeStopWatching();
  }

  private startWatching(): void {
    if (this.watching) return;
    this.watching = true;
    const intervalMs = this.options.reloadIntervalMs ?? TLS_RELOAD_INTERVAL_MS_DEFAULT;
    // Unref'd: a pending reload never keeps a stopping process alive.
    if (intervalMs > 0) this.timer = setInterval(() => this.reload(), intervalMs).unref();
    if (this.options.reloadOnSighup !== false) process.on('SIGHUP', this.onSighup);
  }

  private maybeStopWatching(): void {
    if (this.caListeners.size > 0 || this.identityListeners.size > 0 || !this.watching) return;
    this.watching = false;
    clearInterval(this.timer);
    this.timer = undefined;
    process.off('SIGHUP', this.onSighup);
  }
}
