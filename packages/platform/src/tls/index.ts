export * from './certificate-provider.js';
export * from './credentials.js';
export * from './peer.js';
export * from './authorize.js';
export * from './config.js';
export * from './https.js';
export * from './grpc-security.js';
