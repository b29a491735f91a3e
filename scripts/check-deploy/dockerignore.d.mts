export interface IgnorePattern {
  text: string;
  exclusion: boolean;
  regex: RegExp;
}
export function parseDockerignore(text: string): IgnorePattern[];
export function isExcluded(patterns: IgnorePattern[], file: string): boolean;
export function listContextFiles(root: string): string[];
