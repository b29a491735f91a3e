// Types for scripts/lib/process.mjs.
export declare function isAlive(pid: number): boolean;
export declare function pdeathsigWrapper(): string | null;
