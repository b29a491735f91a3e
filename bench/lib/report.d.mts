// Types for bench/lib/report.mjs (targetsSection is unit-tested in test/bench/report.test.ts).
export declare function toJson(value: unknown): string;
export declare function authLine(auth: unknown): string;
export declare function targetsSection(run: Record<string, unknown> & { scenarios: unknown[] }): string[];
export declare function markdown(run: Record<string, unknown>): string;
export declare function renderChart(run: Record<string, unknown>, dir: string): Promise<void>;
