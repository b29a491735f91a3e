// Types for scripts/lib/chromium.mjs.
/** PATH, CHROMIUM_BIN, /usr/bin/chromium; apt-get install chromium as root on Debian/Ubuntu when missing. */
export declare function findChromium(options?: { install?: boolean; log?: (line: string) => void }): string | undefined;
export declare function chromiumUnavailableReason(): string | null;
/** Headless launch arguments (--no-sandbox only as root). */
export declare function chromiumArgs(): string[];
