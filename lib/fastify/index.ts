export * from './delegated-auth.js';
export type { DelegatedAuthPipelineSource, DelegatedAuthState } from '../http/pipeline.js';
export { KubeStatusError, statusError, type StatusDetails } from '../http/status.js';
