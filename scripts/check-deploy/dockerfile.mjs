// A Dockerfile parser for the subset our images use, strict about the rest:
// anything it does not understand is an error, so the native replay never
// silently skips a build step.
import { readFileSync } from 'node:fs';

const SUPPORTED = new Set(['FROM', 'ARG', 'ENV', 'WORKDIR', 'COPY', 'RUN', 'USER', 'EXPOSE', 'HEALTHCHECK', 'CMD', 'LABEL']);

/**
 * @typedef {{ keyword: string, args: string, flags: Record<string, string>, json: string[] | null, line: number }} Instruction
 * @typedef {{ name: string, index: number, from: string, instructions: Instruction[] }} Stage
 * @typedef {{ globalArgs: Record<string, string | undefined>, stages: Stage[] }} Dockerfile
 */

/** Joins continuation lines and drops comments; keeps the first line number of each instruction. */
function logicalLines(text) {
  const lines = text.split(/\r?\n/);
  const out = [];
  let current = null;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const trimmed = line.trim();
    if (current === null && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (current !== null && trimmed.startsWith('#')) continue; // comment inside a continued instruction
    const continued = /\\\s*$/.test(line);
    const body = continued ? line.replace(/\\\s*$/, '') : line;
    if (current === null) current = { text: body.trim(), line: i + 1 };
    else current.text += ` ${body.trim()}`;
    if (!continued) {
      out.push(current);
      current = null;
    }
  }
  if (current) out.push(current);
  return out;
}

/** Splits leading `--name=value` flags off an instruction's arguments. */
function splitFlags(args) {
  const flags = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!m) break;
    flags[m[1]] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}

function parseJsonArray(text) {
  if (!text.startsWith('[')) return null;
  try {
    const value = JSON.parse(text);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
  } catch {
    return null;
  }
}

/** @returns {Dockerfile} */
export function parseDockerfile(text, fileName = 'Dockerfile') {
  const globalArgs = {};
  const stages = [];
  for (const { text: lineText, line } of logicalLines(text)) {
    const m = /^(\S+)\s*(.*)$/s.exec(lineText);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    if (!SUPPORTED.has(keyword)) throw new Error(`${fileName}:${line}: unsupported instruction ${keyword}`);
    let { flags, rest } = splitFlags(m[2]);
    if (keyword === 'HEALTHCHECK') {
      // HEALTHCHECK [options] CMD ["exe", ...]
      const hc = /^CMD\s+(.*)$/s.exec(rest);
      if (!hc) throw new Error(`${fileName}:${line}: HEALTHCHECK must be "HEALTHCHECK [options] CMD [...]"`);
      rest = hc[1].trim();
    }
    /** @type {Instruction} */
    const instruction = { keyword, args: rest, flags, json: parseJsonArray(rest), line };
    if (keyword === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!fm) throw new Error(`${fileName}:${line}: cannot parse FROM ${rest}`);
      stages.push({ name: fm[2] ?? String(stages.length), index: stages.length, from: fm[1], instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`${fileName}:${line}: only ARG may come before the first FROM`);
      Object.assign(globalArgs, parseAssignments(rest, 'ARG'));
      continue;
    }
    stages[stages.length - 1].instructions.push(instruction);
  }
  if (stages.length === 0) throw new Error(`${fileName}: no FROM`);
  return { globalArgs, stages };
}

export function readDockerfile(path) {
  return parseDockerfile(readFileSync(path, 'utf8'), path);
}

/**
 * `ARG NAME[=default]` or `ENV NAME=value [NAME2=value2]` (quotes allowed).
 * @returns {Record<string, string | undefined>}
 */
export function parseAssignments(text, keyword) {
  const out = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/gy;
  let rest = text.trim();
  while (rest) {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) throw new Error(`cannot parse ${keyword} ${text}`);
    let value = m[2];
    if (value !== undefined && /^["']/.test(value)) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    if (keyword === 'ENV' && value === undefined) throw new Error(`ENV ${m[1]} needs a value (use NAME=value)`);
    out[m[1]] = value;
    rest = rest.slice(m[0].length).trim();
  }
  return out;
}

/** Docker's variable substitution in instruction arguments: $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt}. */
export function substitute(text, vars) {
  return text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_, braced, op, word, bare) => {
    const name = braced ?? bare;
    const value = vars[name];
    if (op === '-') return value ? value : word;
    if (op === '+') return value ? word : '';
    return value ?? '';
  });
}

/** The stages the named target needs (FROM <stage> and COPY --from=<stage>), in build order. */
export function stagesFor(dockerfile, target) {
  const byName = new Map(dockerfile.stages.map((s) => [s.name, s]));
  const order = [];
  const visit = (name, trail) => {
    const stage = byName.get(name);
    if (!stage) return; // an image, not a stage
    if (trail.includes(name)) throw new Error(`stage cycle: ${[...trail, name].join(' -> ')}`);
    if (order.includes(stage)) return;
    visit(stage.from, [...trail, name]);
    for (const ins of stage.instructions) if (ins.keyword === 'COPY' && ins.flags.from) visit(ins.flags.from, [...trail, name]);
    order.push(stage);
  };
  visit(target ?? dockerfile.stages[dockerfile.stages.length - 1].name, []);
  return order;
}
