// Types for scripts/lib/launcher.mjs (the guards of `npm start`).
export declare function acquireLock(
  path: string,
  options: { ports: Record<string, number>; note: (line: string) => void },
): { ok: true; release: () => void } | { ok: false; message: string };
export declare function busyPorts(ports: Record<string, number>, options?: { skip?: string[] }): Promise<string[]>;
