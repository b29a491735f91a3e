// Service logs are written to the temporary folder (the gateway logs every
// request); the results keep, per service, its warnings and errors (bounded)
// and its last lines.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const PROBLEM_LINES_MAX = 2_000;
const TAIL_LINES = 50;

export function keepLogSummaries(fromDir, toDir) {
  if (!existsSync(fromDir)) return;
  mkdirSync(toDir, { recursive: true });
  for (const file of readdirSync(fromDir).filter((f) => f.endsWith('.log'))) {
    const lines = readFileSync(join(fromDir, file), 'utf8').split('\n').filter(Boolean);
    const problems = lines.filter((l) => /"level":"(warn|error|fatal)"|"level":(40|50|60)\b|^(?!\{)/.test(l));
    const kept = problems.slice(0, PROBLEM_LINES_MAX);
    const text = [
      `# ${file}: ${lines.length} lines in all; ${problems.length} warnings/errors/non-JSON lines (first ${kept.length} kept), then the last ${TAIL_LINES} lines`,
      ...kept,
      `# --- last ${TAIL_LINES} lines ---`,
      ...lines.slice(-TAIL_LINES),
    ].join('\n');
    writeFileSync(join(toDir, file), `${text}\n`);
  }
}

/** .cpuprofile files are large JSON; keep them gzipped (gunzip, then open in Chrome DevTools or speedscope). */
export function gzipProfiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) gzipProfiles(path);
    else if (entry.name.endsWith('.cpuprofile')) {
      writeFileSync(`${path}.gz`, gzipSync(readFileSync(path)));
      rmSync(path, { force: true });
    }
  }
}
