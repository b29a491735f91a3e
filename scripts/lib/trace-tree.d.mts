// Types for scripts/lib/trace-tree.mjs.
import type { FlatSpan } from './otlp-receiver.mjs';
export interface TraceNode {
  span: FlatSpan;
  children: TraceNode[];
  /** Its parent span is not among the spans (not exported, or a remote parent). */
  orphan: boolean;
}
export declare const REQUEST_ID_ATTRIBUTE: string;
export declare const REQUEST_ID_HEADER_ATTRIBUTE: string;
export declare const KEY_ATTRIBUTES: readonly string[];
export declare function carriesRequestId(span: FlatSpan, requestId: string): boolean;
export declare function traceIdsFor(spans: FlatSpan[], id: string): string[];
export declare function buildTree(spans: FlatSpan[]): TraceNode[];
export declare function spanLine(span: FlatSpan, options?: { nameOf?: (spanId: string | null) => string | undefined }): string[];
export declare function formatTrace(spans: FlatSpan[], options?: { known?: FlatSpan[] }): string[];
