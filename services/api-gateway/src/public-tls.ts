import { followCertificateRotation, ReloadingCertificateProvider, type TlsReloadEvent } from '@wallet/platform/tls';
import type { Logger } from 'pino';
import type { PublicTlsIdentity } from './server.js';

// The public port's own certificate (HTTPS_CERT_FILE / HTTPS_KEY_FILE): a
// public one (ACME, the company's CA), distinct from the internal mutual-TLS
// identity. It rotates like the internal one: the platform's provider re-reads
// the files on TLS_RELOAD_INTERVAL_MS and SIGHUP, validates the pair as a whole
// (a half-written rotation keeps the current pair), and new connections get
// the new certificate through setSecureContext.

export interface PublicTlsConfig {
  HTTPS_CERT_FILE?: string | undefined;
  HTTPS_KEY_FILE?: string | undefined;
  TLS_RELOAD_INTERVAL_MS: number;
}

export interface PublicTls {
  provider: ReloadingCertificateProvider;
  /** The pair in use now (for the server's first secure context). */
  identity(): PublicTlsIdentity;
  /** Follows rotations on `server` until close(). */
  follow(server: Parameters<typeof followCertificateRotation>[0]): void;
  close(): void;
}

/** null when HTTPS is off (the config check guarantees both files or neither). Throws on unusable files. */
export function loadPublicTls(config: PublicTlsConfig, logger: Logger): PublicTls | null {
  if (config.HTTPS_CERT_FILE === undefined || config.HTTPS_KEY_FILE === undefined) return null;
  const provider = new ReloadingCertificateProvider({
    // The provider also wants a CA bundle; no client certificates are asked on the public
    // port, so the chain itself stands in (it must parse, and it is never used to verify).
    caFile: config.HTTPS_CERT_FILE,
    certFile: config.HTTPS_CERT_FILE,
    keyFile: config.HTTPS_KEY_FILE,
    reloadIntervalMs: config.TLS_RELOAD_INTERVAL_MS,
    onReload: (event: TlsReloadEvent) => {
      if (event.outcome === 'reloaded') logger.info({ notAfter: event.notAfter }, 'https certificate reloaded');
      else if (event.outcome === 'failed') logger.error({ err: event.error }, 'https certificate reload failed; keeping the current certificate');
    },
  });
  logger.info({ notAfter: provider.current().notAfter, certFile: config.HTTPS_CERT_FILE }, 'https on the public port');
  let stop: (() => void) | undefined;
  return {
    provider,
    identity: () => ({ cert: provider.current().cert, key: provider.current().key }),
    follow: (server) => {
      stop = followCertificateRotation(server, provider);
    },
    close: () => {
      stop?.();
      provider.close();
    },
  };
}
