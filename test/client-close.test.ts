import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createAuthClient, isAuthClientClosed, memoryStore } from '../client/index.js';
import type { AuthClient, TokenStore } from '../client/index.js';
import { PASSWORD, describeOnEachDatabase, uniqueEmail } from './harness/test-kit.js';
import { CLIENT_HEADER, startWatchedServer } from './harness/watched-server.js';
import type { WatchedRouter } from './harness/watched-server.js';

/** Eight client names of one group: `refreshing-0` … `refreshing-7`. */
function group(name: string): string[] {
  return Array.from({ length: 8 }, (_, index) => `${name}-${index}`);
}

/** How a call ended: `closed` when it failed because its client is closed. */
function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'answered',
    (error: unknown) => (isAuthClientClosed(error) ? 'closed' : `failed: ${String(error)}`),
  );
}

async function signUp(client: AuthClient<WatchedRouter>): Promise<void> {
  const { user } = await client.register({ email: uniqueEmail('close'), password: PASSWORD });
  assert.ok(user, 'the server confirms nothing first');
}

// One-second access tokens on a clock that stands still: every client that holds tokens refreshes
// 750 ms of real time after it got them (a quarter of the life ahead of expiry), again and again.
describeOnEachDatabase(
  'a closed client',
  (kit) => {
    it('40 clients closed idle, mid-refresh, mid-sign-up and before the store was read send nothing after close() resolves', async () => {
      const server = await startWatchedServer(kit().auth);
      const clients = new Map<string, AuthClient<WatchedRouter>>();
      const stores = new Map<string, TokenStore>();
      function client(name: string, store: TokenStore = memoryStore()): AuthClient<WatchedRouter> {
        const created = createAuthClient<WatchedRouter>({ url: server.url, store, headers: { [CLIENT_HEADER]: name }, now: kit().clock.now });
        clients.set(name, created);
        stores.set(name, store);
        return created;
      }
      const at = (name: string) => clients.get(name) ?? assert.fail(`no client ${name}`);

      try {
        // The control is never closed: its refreshes measure the quiet window below.
        const control = client('control');
        await signUp(control);

        const idle = group('idle');
        const refreshing = group('refreshing');
        const waiting = group('waiting');
        const signingUp = group('signing-up');
        const starting = group('starting');
        const heldRefreshes = server.hold('auth.refresh', [...refreshing, ...waiting]);
        const heldSignUps = server.hold('auth.register', signingUp);

        await Promise.all([...refreshing, ...waiting].map((name) => signUp(client(name))));
        const closings: Array<Promise<void>> = [];
        await Promise.all(
          idle.map(async (name) => {
            await signUp(client(name));
            closings.push(at(name).close());
          }),
        );
        for (const name of starting) {
          // Tokens of a live session in the store: the timer would start once the store was read.
          const { tokens } = await kit().client().auth.register.mutate({ email: uniqueEmail('close'), password: PASSWORD });
          assert.ok(tokens);
          const store = memoryStore();
          await store.set(tokens);
          closings.push(client(name, store).close());
        }
        const signUps = signingUp.map((name) => outcome(signUp(client(name))));

        await heldRefreshes.arrived();
        // These calls wait for the refresh the server holds.
        const waitingCalls = waiting.map((name) => outcome(at(name).trpc.demo.whoami.query()));
        await heldSignUps.arrived();
        for (const name of [...refreshing, ...waiting, ...signingUp]) closings.push(at(name).close());
        await Promise.all(closings);

        const closed = [...idle, ...refreshing, ...waiting, ...signingUp, ...starting];
        assert.equal(closed.length, 40);
        const sentBeforeClose = new Map(closed.map((name) => [name, server.paths(name).length]));
        heldRefreshes.release();
        heldSignUps.release();

        const callsAfterClose = closed.flatMap((name) => {
          const closedClient = at(name);
          return [
            closedClient.trpc.demo.whoami.query(),
            closedClient.login({ identifier: 'someone@example.test', password: PASSWORD }),
            closedClient.logout(),
            closedClient.session.accessToken(),
          ].map(outcome);
        });

        // A window of three refresh-ahead points, timed by the control's refreshes: a closed client
        // that still armed its timer would have refreshed in it too.
        const beats = server.count('control', 'auth.refresh');
        await server.until(() => server.count('control', 'auth.refresh') >= beats + 3);
        const late = closed.map((name) => `${name}: ${server.paths(name).slice(sentBeforeClose.get(name)).join(' ')}`).filter((line) => !line.endsWith(': '));
        assert.deepEqual(late, [], 'closed clients sent requests after close() resolved');
        assert.deepEqual(new Set(await Promise.all([...waitingCalls, ...signUps])), new Set(['closed']), 'calls in flight at close() fail');
        assert.deepEqual(new Set(await Promise.all(callsAfterClose)), new Set(['closed']), 'calls after close() fail');
        assert.ok((await control.trpc.demo.whoami.query()).userId, 'the server answered the control all along');

        // The store of a client closed mid-refresh still holds a sign-in a new client can use.
        const successor = client('successor', stores.get('refreshing-0'));
        await successor.ready;
        assert.ok((await successor.trpc.demo.whoami.query()).userId);
        await successor.close();
        await control.close();
        // No keep-alive socket is left busy: the server closes.
        await server.close();
      } finally {
        await Promise.all([...clients.values()].map((each) => each.close()));
        server.destroy();
      }
    });
  },
  { tokens: { accessTokenTtlSeconds: 1 }, signup: { emailConfirmation: 'off' } },
);
