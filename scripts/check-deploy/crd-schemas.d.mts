// Types for scripts/check-deploy/crd-schemas.mjs.
export declare const crdSchemasDir: string;
export declare function extractCrdSchemas(files: string[]): { file: string; apiVersion: string; kind: string; schema: unknown }[];
export declare function strictSchema(schema: unknown): unknown;
export declare function loadCrdValidators(dir?: string): Map<string, (object: unknown) => string[]>;
