export * from './observability.js';
