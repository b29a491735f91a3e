export * from './breaker.js';
export * from './failures.js';
