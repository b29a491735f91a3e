// Reads every service's log after the run for mutual-TLS trouble between
// correctly configured services (model.mjs tlsProblemOf): a caller refused by
// a caller table, or a certificate / handshake failure. The logs are appended
// across restarts (scripts/lib/process.mjs), so nothing before a kill is lost.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tlsProblemOf } from './model.mjs';

/** Problems kept per service (the count is what fails the run; a few lines show why). */
const PROBLEMS_PER_SERVICE_MAX = 50;

/**
 * @param {{ name: string, logPath?: string }[]} services
 * @returns {Promise<{ problems: { service: string, kind: string, line: string }[], scanned: string[] }>}
 */
export async function readTlsProblems(services) {
  const problems = [];
  const scanned = [];
  for (const { name, logPath } of services) {
    if (!logPath || !existsSync(logPath)) continue;
    scanned.push(name);
    let kept = 0;
    const lines = createInterface({ input: createReadStream(logPath, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      const kind = tlsProblemOf(line);
      if (!kind) continue;
      kept += 1;
      // Beyond the bound only the count matters: keep a placeholder line.
      problems.push({ service: name, kind, line: kept <= PROBLEMS_PER_SERVICE_MAX ? line : '' });
    }
  }
  return { problems, scanned };
}
