// @clipkit/core public API. Types first; each module below owns one job.
export * from './errors.js';
export type * from './types.js';
