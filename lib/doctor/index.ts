export * from './command.js';
export * from './report.js';
export * from './run-doctor.js';
