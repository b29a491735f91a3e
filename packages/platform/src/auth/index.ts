export * from './principal.js';
export * from './bearer.js';
export * from './verifier.js';
export * from './service-credential.js';
