export * from './delegated-auth.js';
export { delegatedAuthStackOptions, type DelegatedAuthState } from '../http/pipeline.js';
