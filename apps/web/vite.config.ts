import { defineConfig } from 'vite';

// Built into dist/ and served by the api-gateway at /app/ and /console/
// (services/api-gateway/src/plugins/web-app.ts): assets under /app/assets/.
// `npm run dev -w @wallet/web` proxies the API to a running `npm start`.
const apiTarget = 'http://localhost:8080';

export default defineConfig({
  base: '/app/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: true,
    // No inline script anywhere (the CSP has no 'unsafe-inline'): every browser we target has modulepreload.
    modulePreload: { polyfill: false },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  server: {
    proxy: Object.fromEntries(['/auth', '/me', '/accounts', '/admin', '/.well-known'].map((p) => [p, apiTarget])),
  },
});
