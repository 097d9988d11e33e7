/**
 * The parts of the client SDK that need Node: kept apart so `trpc-auth-kit/client` bundles for
 * the browser as it is.
 * @module
 */
export { fileStore } from './file-store.js';
