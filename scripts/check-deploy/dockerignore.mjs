// .dockerignore semantics as Docker/BuildKit apply them (moby/patternmatcher):
// patterns in order, `!` re-includes, the last matching pattern wins, and a
// pattern that matches a parent directory matches everything below it.
import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/** @param {string} text */
export function parseDockerignore(text) {
  const patterns = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let exclusion = false;
    if (line.startsWith('!')) {
      exclusion = true;
      line = line.slice(1).trim();
    }
    let cleaned = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (cleaned === '.' || cleaned === '') cleaned = '.';
    patterns.push({ text: cleaned, exclusion, regex: patternToRegex(cleaned) });
  }
  return patterns;
}

/** Glob -> RegExp: `**` any number of path segments, `*` and `?` within one segment. */
function patternToRegex(pattern) {
  let out = '^';
  for (let i = 0; i < pattern.length; i += 1) {
    const ch = pattern[i];
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i += 1;
        if (pattern[i + 1] === '/') {
          i += 1;
          out += '(?:.*/)?';
        } else {
          out += '.*';
        }
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '\\' && i + 1 < pattern.length) {
      i += 1;
      out += escapeRegex(pattern[i]);
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) throw new Error(`.dockerignore: unterminated [ in ${pattern}`);
      out += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
      i = end;
    } else {
      out += escapeRegex(ch);
    }
  }
  return new RegExp(`${out}$`);
}

function escapeRegex(ch) {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * True when `file` (context-relative, forward slashes) is excluded from the
 * build context.
 * @param {ReturnType<typeof parseDockerignore>} patterns
 * @param {string} file
 */
export function isExcluded(patterns, file) {
  const parentPath = posix.dirname(file);
  const parentDirs = parentPath === '.' ? [] : parentPath.split('/');
  let matched = false;
  for (const pattern of patterns) {
    // An inclusion cannot change an already excluded file and vice versa.
    if (pattern.exclusion !== matched) continue;
    let match = pattern.regex.test(file);
    for (let i = 0; !match && i < parentDirs.length; i += 1) {
      match = pattern.regex.test(parentDirs.slice(0, i + 1).join('/'));
    }
    if (match) matched = !pattern.exclusion;
  }
  return matched;
}

/**
 * Every file of the build context rooted at `root` that survives
 * .dockerignore, as context-relative paths (sorted).
 * @param {string} root
 */
export function listContextFiles(root) {
  const ignoreFile = join(root, '.dockerignore');
  const patterns = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : [];
  const negations = patterns.filter((p) => p.exclusion).map((p) => p.text);
  const files = [];
  const walk = (relDir) => {
    const abs = relDir ? join(root, relDir) : root;
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // Descend into an excluded folder only if a `!` pattern could re-include something in it.
        const excluded = isExcluded(patterns, rel);
        if (excluded && !negations.some((n) => n.startsWith(`${rel}/`) || n.startsWith('**') || n === rel)) continue;
        walk(rel);
      } else if (!isExcluded(patterns, rel)) {
        files.push(rel);
      }
    }
  };
  walk('');
  return files.sort();
}
