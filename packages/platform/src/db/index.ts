export * from './errors.js';
export * from './pool.js';
export * from './transaction.js';
export * from './migrate.js';
export { summarizeQuery, instrumentClient, type QuerySummary } from './instrument.js';
