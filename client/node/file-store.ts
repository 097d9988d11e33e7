import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TokenStore } from '../token-store.js';
import { parseStoredTokens, serializeTokens } from '../token-store.js';

/**
 * Keeps the tokens in a file, readable and writable by its owner only (mode 0600), so a CLI or a
 * service stays signed in across restarts. A write goes to a temporary file first and is renamed
 * over the old one: a crash mid-write never leaves half a token behind.
 *
 * @example
 * import { fileStore } from 'trpc-auth-kit/client/node';
 * const auth = createAuthClient<AppRouter>({ url, store: fileStore(`${os.homedir()}/.config/my-cli/tokens.json`) });
 */
export function fileStore(path: string): TokenStore {
  return {
    async get() {
      try {
        return parseStoredTokens(await readFile(path, 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async set(tokens) {
      if (!tokens) {
        await rm(path, { force: true });
        return;
      }
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, serializeTokens(tokens), { mode: 0o600 });
      await rename(temporary, path);
    },
  };
}
