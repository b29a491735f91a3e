import type { ChildProcess } from 'node:child_process';
import type { ComposeModel, ComposeService } from './compose-model.mjs';
import type { StageResult } from './replay.mjs';

export interface RunningService {
  child: ChildProcess;
  env: Record<string, string>;
  logs: string[];
  cwd: string;
  healthyAfterMs?: number;
}
export function appServices(model: ComposeModel): string[];
export function dependencyNames(service: ComposeService): string[];
export function freePort(): Promise<number>;
export function runPsqlScript(
  client: { query(sql: string): Promise<unknown> },
  text: string,
  env: Record<string, string>,
  fileName?: string,
): Promise<void>;
export function startNativeStack(options: {
  root: string;
  builds: Record<string, StageResult>;
  adminUrl: string;
  kafkaBrokers?: string;
  log?: (line: string) => void;
  healthTimeoutMs?: number;
  runDir: string;
}): Promise<{ services: Record<string, RunningService>; order: string[]; stop(): Promise<void>; model: ComposeModel }>;
