export interface Instruction {
  keyword: string;
  args: string;
  flags: Record<string, string>;
  json: string[] | null;
  line: number;
}
export interface Stage {
  name: string;
  index: number;
  from: string;
  instructions: Instruction[];
}
export interface Dockerfile {
  globalArgs: Record<string, string | undefined>;
  stages: Stage[];
}
export function parseDockerfile(text: string, fileName?: string): Dockerfile;
export function readDockerfile(path: string): Dockerfile;
export function parseAssignments(text: string, keyword: string): Record<string, string | undefined>;
export function substitute(text: string, vars: Record<string, string | undefined>): string;
export function stagesFor(dockerfile: Dockerfile, target?: string): Stage[];
