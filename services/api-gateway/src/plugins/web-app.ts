import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * CSP of the web app (/app, /console): its own scripts and styles only (no
 * inline script or style element, no eval), API calls to this origin, images
 * from itself or data: URIs (the empty favicon), framed nowhere. Sign-in is a
 * navigation to /auth/authorize on this origin, not a form post of the app.
 */
export const WEB_APP_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join('; ');

/** Where the single-page app answers: the customer app and the operator console share one bundle. */
export const WEB_APP_PREFIXES = ['/app', '/console'] as const;
/** Vite's output folder for hashed files, under /app/ (apps/web/vite.config.ts: base /app/). */
const ASSETS_FOLDER = 'assets';
/** Hashed names never change content: cached for a year. */
const ASSET_MAX_AGE_MS = 365 * 24 * 3600 * 1000;
/** Bound on the files listed at start (a Vite build has a handful). */
const ASSET_FILES_MAX = 1_000;

/** apps/web/dist of this repository (from src/plugins or dist/plugins alike: four levels up). */
export function defaultWebAppDir(): string {
  return resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..', 'apps', 'web', 'dist');
}

/** Names of the built assets, read once: only these are ever served, so no request path reaches the disk. */
function assetNames(dir: string): Set<string> {
  const folder = join(dir, ASSETS_FOLDER);
  if (!existsSync(folder)) return new Set();
  const names = readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isFile() && /^[A-Za-z0-9._-]+$/.test(entry.name) && !entry.name.startsWith('.'))
    .map((entry) => `${ASSETS_FOLDER}/${entry.name}`);
  if (names.length > ASSET_FILES_MAX) throw new Error(`web app: more than ${ASSET_FILES_MAX} files in ${folder}`);
  return new Set(names);
}

function sendIndex(reply: FastifyReply, indexHtml: Buffer): FastifyReply {
  // Always revalidated: a new build changes the asset names it points to.
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(indexHtml);
}

/**
 * The web app (apps/web, built by `npm run build`) at /app/ and /console/:
 * built assets by exact name, index.html for every other path under those
 * prefixes (client-side routes such as /app/send or /app/callback), each with
 * WEB_APP_CSP instead of the API's deny-all policy. Without a build, those
 * paths answer 503 saying how to build it; the API is unaffected.
 */
export async function registerWebApp(app: FastifyInstance, options: { dir: string }): Promise<void> {
  const dir = resolve(options.dir);
  const indexPath = join(dir, 'index.html');
  const built = existsSync(indexPath);
  if (!built) app.log.warn({ dir }, 'web app not built (npm run build): /app and /console answer 503');
  const indexHtml = built ? readFileSync(indexPath) : undefined;
  const assets = built ? assetNames(dir) : new Set<string>();

  await app.register(async (scope) => {
    if (built) await scope.register(fastifyStatic, { root: dir, serve: false, dotfiles: 'deny', index: false });
    // Replaces the API's CSP (set by helmet in onRequest) on every answer of these routes.
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', WEB_APP_CSP);
      return payload;
    });
    for (const prefix of WEB_APP_PREFIXES) {
      scope.get(prefix, async (_request, reply) => reply.redirect(`${prefix}/`, 308));
      scope.get(`${prefix}/*`, async (request, reply) => {
        if (!indexHtml) {
          return reply.code(503).type('text/plain; charset=utf-8').send('The web app is not built: run `npm run build`, then restart the gateway.\n');
        }
        const path = (request.params as { '*': string })['*'];
        if (prefix === '/app' && assets.has(path)) return reply.sendFile(path, { maxAge: ASSET_MAX_AGE_MS, immutable: true });
        // A missing hashed file is a stale page asking for an old build's asset: 404, not the page.
        if (path.startsWith(`${ASSETS_FOLDER}/`)) return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
        return sendIndex(reply, indexHtml);
      });
    }
  });
}
