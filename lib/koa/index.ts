export * from './authenticate.js';
export * from './authorize.js';
export * from './request-info.js';
export * from './delegated-auth.js';
export { KubeStatusError, statusError, type StatusDetails } from '../http/status.js';
