import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';

describe("the README's quickstart", () => {
  it('runs: registers a user and reads a protected procedure', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], { timeout: 60_000, env: { ...process.env, PORT: '0' } });
    assert.match(stdout, /owner: '[0-9a-f-]{36}'/);
    assert.match(stdout, /title: 'try trpc-auth-kit'/);
  });
});
