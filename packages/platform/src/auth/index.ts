export * from './principal.js';
export * from './bearer.js';
export * from './verifier.js';
