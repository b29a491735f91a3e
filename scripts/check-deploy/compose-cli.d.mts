export const COMPOSE_VERSION: string;
export function composeCliPath(cacheDir?: string): string;
export function composeCliUnavailableReason(cacheDir?: string): string | null;
export function ensureComposeCli(options?: { cacheDir?: string; log?: (line: string) => void }): string;
export function composeConfig(
  binary: string,
  options?: { projectDir?: string; env?: Record<string, string> },
): { services: Record<string, Record<string, unknown> & { environment?: Record<string, string | null>; image?: string; build?: { context?: string; dockerfile?: string; args?: Record<string, string> } }>; [key: string]: unknown };
