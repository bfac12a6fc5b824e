export * from './certificates.js';
export * from './dev-pki.js';
