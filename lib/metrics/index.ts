export * from './koa.js';
export * from './metrics.js';
