// @clipkit/core public API. Types first; each module below owns one job.
export * from './errors.js';
export type * from './types.js';
export { resolveModel, pullModel, parseRepoRef, cachedModelDir, MODEL_ALIASES, DEFAULT_MODEL } from './model/hub.js';
export type { HubOptions, PulledModel, RepoRef } from './model/hub.js';
