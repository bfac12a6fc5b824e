export * from './report.js';
export * from './run-doctor.js';
