#!/usr/bin/env node
// Cross-platform wrapper around `docker compose` for the whole stack
// (docker-compose.yml + .env at the repository root):
//   npm run compose:up      [-- --profile observability ...]  build and start, wait until healthy
//                           (first creates deploy/secrets/ with `npm run secrets:generate` when
//                           a secret file is missing: no manual step)
//   npm run compose:down    stop and remove the containers (data volumes kept)
//   npm run compose:reset   stop and remove containers AND the data volumes (a fresh start)
//   npm run compose:logs    follow the logs
// Extra arguments are passed to docker compose (e.g. `-- --profile replicas`).
import { spawnSync } from 'node:child_process';
import { root } from './lib/paths.mjs';
import { generateSecrets, secretsMissing } from './secrets.mjs';

const [command, ...extra] = process.argv.slice(2);
const profiles = [];
const rest = [];
for (let i = 0; i < extra.length; i += 1) {
  if (extra[i] === '--profile' && extra[i + 1]) profiles.push('--profile', extra[++i]);
  else rest.push(extra[i]);
}

/** `docker compose` (v2 plugin) or, failing that, the standalone `docker-compose`. */
function composeCommand() {
  const probe = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', shell: process.platform === 'win32' }).status === 0;
  if (probe('docker', ['compose', 'version'])) return ['docker', ['compose']];
  if (probe('docker-compose', ['version'])) return ['docker-compose', []];
  console.error('compose: neither `docker compose` nor `docker-compose` is available. Install Docker (with the Compose plugin).');
  process.exit(127);
}

function compose(args) {
  const [cmd, base] = composeCommand();
  const all = [...base, ...profiles, ...args, ...rest];
  console.log(`> ${cmd} ${all.join(' ')}`);
  const result = spawnSync(cmd, all, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

switch (command) {
  case 'up': {
    // Compose cannot start a service whose `secrets:` file is missing; create only what is missing.
    const missing = secretsMissing();
    if (missing.length > 0) {
      console.log(`> npm run secrets:generate (missing: ${missing.length > 4 ? `${missing.slice(0, 4).join(', ')}, ...` : missing.join(', ')})`);
      const result = await generateSecrets();
      console.log(`secrets: created ${result.created.length} file(s) in deploy/secrets/`);
    }
    // --wait: return once every service is healthy (or fail with the unhealthy one).
    compose(['up', '--build', '--detach', '--wait', '--wait-timeout', '300']);
    console.log('\nThe wallet API is on http://127.0.0.1:8080 (Swagger UI at /docs). `npm run compose:logs` follows the logs.');
    break;
  }
  case 'down':
    compose(['down', '--remove-orphans']);
    break;
  case 'reset':
    compose(['down', '--remove-orphans', '--volumes']);
    break;
  case 'logs':
    compose(['logs', '--follow', '--tail', '100']);
    break;
  case 'ps':
    compose(['ps']);
    break;
  default:
    console.error('usage: node scripts/compose.mjs up|down|reset|logs|ps [docker compose options]');
    process.exit(2);
}
