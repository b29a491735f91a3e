export interface StageResult {
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | null;
  cmd: string[] | null;
  healthcheck: { cmd: string[]; flags: Record<string, string> } | null;
  expose: string[];
  baseImage: string;
  key: string;
}
export function replayBuild(options: {
  contextRoot: string;
  dockerfilePath: string;
  cacheDir?: string;
  buildArgs?: Record<string, string>;
  log?: (line: string) => void;
  onOutput?: (chunk: string) => void;
  contextFiles?: string[];
}): Promise<StageResult & { stages: Record<string, StageResult> }>;
export function hostEnvironment(): Record<string, string>;
export function nodeVersionOfImage(image: string): string | null;
