import assert from 'node:assert/strict';
import { hash, randomInt, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { startTokenCache } from '../server/cache/token-cache.js';
import { TokenTable, allocateTableBuffer } from '../server/cache/table.js';
import type { TableEntry } from '../server/cache/table.js';
import { until } from './harness/poll.js';

const quiet = { info() {}, warn() {}, error() {} };
const NOW = 1_800_000_000_000;

/** An entry with random ids and a random scope set (so every round trip checks that too). */
function entry(overrides: Partial<TableEntry> = {}): TableEntry {
  const scopeSet = randomInt(0, 0x10000);
  return { tokenHash: hash('sha256', randomUUID(), 'base64url'), userId: randomUUID(), sessionId: randomUUID(), expiresAtMs: NOW + 300_000, scopeSet, ...overrides };
}

/** What a lookup answers for `stored`: the entry, its expiry also as a Date. */
function found(stored: TableEntry): TableEntry & { expiresAt: Date } {
  return { ...stored, expiresAt: new Date(stored.expiresAtMs) };
}

function trustedTable(capacity: number): TokenTable {
  const table = new TokenTable(allocateTableBuffer(capacity));
  table.reset(true);
  return table;
}

/**
 * A trusted table holding two entries, and a reader stopped in the middle of a lookup (a thread
 * descheduled there): the header's count of readers and that reader's lookup word, odd, as the
 * table's layout comment describes them. `release()` takes the reader out of its lookup.
 */
function tableWithStalledReader() {
  const buffer = allocateTableBuffer(64);
  const writer = new TokenTable(buffer);
  writer.reset(true);
  const [first, second] = [entry(), entry()];
  writer.insert(first, NOW);
  writer.insert(second, NOW);
  const header = new Int32Array(buffer, 0, 16);
  Atomics.store(header, 3, 1);
  Atomics.store(header, 4, 1);
  return { buffer, writer, first, second, release: () => Atomics.store(header, 4, 2) };
}

describe('the shared token table', () => {
  it('finds what it stored, and nothing else', () => {
    const table = trustedTable(1024);
    const stored = Array.from({ length: 500 }, () => entry());
    for (const item of stored) assert.equal(table.insert(item, NOW), true);
    for (const item of stored) assert.deepEqual(table.lookup(item.tokenHash), found(item));
    assert.equal(table.lookup(entry().tokenHash), undefined);
  });

  it('a reader that found an entry before sees what the slot holds now: a refill, a revocation, a new owner', () => {
    const buffer = allocateTableBuffer(64);
    const writer = new TokenTable(buffer);
    const reader = new TokenTable(buffer);
    writer.reset(true);
    const first = entry();
    writer.insert(first, NOW);
    assert.deepEqual(reader.lookup(first.tokenHash), found(first));
    assert.deepEqual(reader.lookup(first.tokenHash), found(first));
    const refilled = { ...first, expiresAtMs: first.expiresAtMs + 60_000 };
    writer.insert(refilled, NOW);
    assert.deepEqual(reader.lookup(first.tokenHash), found(refilled));
    writer.forget({ sessionIds: [first.sessionId] });
    assert.equal(reader.lookup(first.tokenHash), undefined);
    // The same key written again for someone else (the slot is rewritten, never recalled).
    const other = { ...first, userId: randomUUID(), sessionId: randomUUID() };
    writer.insert(other, NOW);
    assert.deepEqual(reader.lookup(first.tokenHash), found(other));
    writer.reset(true);
    assert.equal(reader.lookup(first.tokenHash), undefined);
  });

  it('forgets a session, or every session of a user, and counts each revocation', () => {
    const table = trustedTable(64);
    const userId = randomUUID();
    const [a, b, c, other] = [entry({ userId }), entry({ userId }), entry({ userId }), entry()];
    for (const item of [a, b, c, other]) table.insert(item, NOW);
    const before = table.revocations;
    assert.equal(table.forget({ sessionIds: [a?.sessionId] }), 1);
    assert.equal(table.lookup(a?.tokenHash), undefined);
    assert.ok(table.lookup(b?.tokenHash));
    assert.equal(table.forget({ userId }), 2);
    assert.equal(table.lookup(c?.tokenHash), undefined);
    assert.deepEqual(table.lookup(other?.tokenHash), found(other));
    assert.equal(table.revocations, before + 2);
  });

  it('forgets every entry of a revoked session, however the slots were evicted, rewritten and swept before', () => {
    // A small table and few sessions: windows fill, slots change hands between sessions, and a
    // session's tokens share chains with others'. A slot left off its session's chain would survive
    // the revocation: the attack is to have a token cached, then churn the table, then be revoked.
    const table = trustedTable(64);
    const sessions = Array.from({ length: 12 }, () => ({ userId: randomUUID(), sessionId: randomUUID() }));
    const inserted: TableEntry[] = [];
    for (let round = 0; round < 3000; round++) {
      const owner = sessions[randomInt(0, sessions.length)] as (typeof sessions)[number];
      const reused = inserted.length > 0 && randomInt(0, 4) === 0 ? (inserted[randomInt(0, inserted.length)] as TableEntry) : null;
      // Now and then the same token again, for another session (a slot rewritten in place).
      const item = entry({ ...owner, ...(reused ? { tokenHash: reused.tokenHash } : {}), expiresAtMs: NOW + randomInt(1, 60_000) });
      table.insert(item, NOW);
      inserted.push(item);
      if (round % 500 === 499) table.sweep(NOW + 10_000);
    }
    const [revoked, ...kept] = sessions as [(typeof sessions)[number], ...typeof sessions];
    // The last write of each token is what the table may hold of it.
    const latest = new Map(inserted.map((item) => [item.tokenHash, item]));
    const heldBefore = [...latest.values()].filter((item) => table.lookup(item.tokenHash) !== undefined);
    assert.ok(heldBefore.some((item) => item.sessionId === revoked.sessionId), 'the table holds some of the session to revoke');
    table.forgetSessions([revoked.sessionId]);
    for (const item of inserted) assert.notEqual(table.lookup(item.tokenHash)?.sessionId, revoked.sessionId);
    for (const item of heldBefore.filter((held) => held.sessionId !== revoked.sessionId)) assert.deepEqual(table.lookup(item.tokenHash), found(item));
    table.forgetSessions(kept.map((session) => session.sessionId));
    for (const item of inserted) assert.equal(table.lookup(item.tokenHash), undefined);
  });

  it('forgets many users in one pass, and only them', () => {
    const table = trustedTable(4096);
    const users: string[] = Array.from({ length: 300 }, () => randomUUID());
    const items = users.flatMap((userId) => [entry({ userId }), entry({ userId })]);
    for (const item of items) table.insert(item, NOW);
    const revoked = new Set(users.slice(0, 200));
    assert.equal(table.forgetUsers([...revoked]), 400);
    for (const item of items) assert.equal(table.lookup(item.tokenHash) === undefined, revoked.has(item.userId));
  });

  it("a user whose id ends like a revoked user's keeps every entry", () => {
    // The pass sifts slots by the last 16 bits of the user id first: an attacker who made an account
    // with the same ending must not take the victim's entries away, nor keep their own.
    const table = trustedTable(256);
    const revoked = randomUUID();
    const neighbour = `${randomUUID().slice(0, -4)}${revoked.slice(-4)}`;
    const items = [revoked, neighbour].flatMap((userId) => Array.from({ length: 20 }, () => entry({ userId })));
    for (const item of items) table.insert(item, NOW);
    assert.equal(table.forgetUsers([revoked]), 20);
    for (const item of items) assert.equal(table.lookup(item.tokenHash) === undefined, item.userId === revoked);
  });

  it("a session's long chain swept and users forgotten in passes leave every chain whole: slots refilled for others are forgotten with them", () => {
    // One account refreshing in a loop holds many live tokens on one chain, and a pass (a sweep, a
    // user's revocation) deletes many of them at once; the chains must stay exact, or a slot refilled
    // later escapes its session's revocation. A small table, so that sessions share chains.
    const table = trustedTable(256);
    const attacker = { userId: randomUUID(), sessionId: randomUUID() };
    const others = Array.from({ length: 16 }, () => ({ userId: randomUUID(), sessionId: randomUUID() }));
    const inserted: TableEntry[] = [];
    let now = NOW;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 60; i++) inserted.push(entry({ ...attacker, expiresAtMs: now + 1000 + i * 100 }));
      for (let i = 0; i < 20; i++) inserted.push(entry({ ...(others[randomInt(0, others.length)] as (typeof others)[number]), expiresAtMs: now + 600_000 }));
      for (const item of inserted.slice(-80)) table.insert(item, now);
      now += 3000;
      table.sweep(now);
      if (round % 10 === 9) table.forgetUsers([attacker.userId]);
    }
    for (const { sessionId } of others) {
      table.forgetSessions([sessionId]);
      for (const item of inserted) assert.notEqual(table.lookup(item.tokenHash)?.sessionId, sessionId, 'a token outlived its session');
    }
  });

  it('sweeps out expired entries', () => {
    const table = trustedTable(64);
    const soon = entry({ expiresAtMs: NOW + 1000 });
    const later = entry({ expiresAtMs: NOW + 60_000 });
    table.insert(soon, NOW);
    table.insert(later, NOW);
    assert.equal(table.sweep(NOW + 1000), 1);
    assert.equal(table.lookup(soon.tokenHash), undefined);
    assert.deepEqual(table.lookup(later.tokenHash), found(later));
  });

  it('when full, evicts the entries that expire soonest and stays bounded', () => {
    const table = trustedTable(16);
    const items = Array.from({ length: 200 }, (_, i) => entry({ expiresAtMs: NOW + 1000 + i }));
    for (const item of items) table.insert(item, NOW);
    const kept = items.filter((item) => table.lookup(item.tokenHash) !== undefined);
    assert.equal(kept.length, table.slotCount);
    assert.deepEqual(kept, items.slice(-table.slotCount));
  });

  it('refuses ids it cannot store rather than storing them wrong', () => {
    const table = trustedTable(16);
    assert.equal(table.insert(entry({ userId: 'not-a-uuid' }), NOW), false);
  });

  it('reset empties it and says whether to trust it', () => {
    const table = trustedTable(16);
    const item = entry();
    table.insert(item, NOW);
    table.reset(false);
    assert.equal(table.trusted, false);
    assert.equal(table.lookup(item.tokenHash), undefined);
  });

  it('never writes a slot again while a reader may still be reading it: a revoked entry, or one replaced in place', () => {
    const { buffer, writer, first: revoked, second: replaced, release } = tableWithStalledReader();
    writer.forget({ sessionIds: [revoked.sessionId] });
    const someoneElse = { tokenHash: revoked.tokenHash, userId: randomUUID(), sessionId: randomUUID() };
    assert.equal(writer.insert({ ...revoked, ...someoneElse }, NOW), false);
    assert.equal(writer.insert({ ...replaced, expiresAtMs: NOW + 600_000 }, NOW), false);
    // Once it has left its lookup, both are written.
    release();
    assert.equal(writer.insert({ ...revoked, ...someoneElse }, NOW), true);
    assert.equal(writer.insert({ ...replaced, expiresAtMs: NOW + 600_000 }, NOW), true);
    const reader = new TokenTable(buffer);
    assert.deepEqual(reader.lookup(revoked.tokenHash), found({ ...revoked, ...someoneElse }));
    assert.deepEqual(reader.lookup(replaced.tokenHash), found({ ...replaced, expiresAtMs: NOW + 600_000 }));
  });

  it('a reader on another thread never sees a torn entry while the writer rewrites slots or revokes and refills them', async () => {
    const result = await churnUnderReaderThread({ overflowFirst: false });
    assert.ok(result.found > 1000, `the reader found only ${result.found} entries`);
    assert.equal(result.torn, 0);
  });

  it('a lookup cut short by a stack overflow in its caller leaves the reader out of its lookup: the writer still refills its slots', () => {
    // A request handler deep in recursion calls the cache with little stack left: the lookup can
    // throw after it marked itself in a lookup and before it marked itself out.
    const buffer = allocateTableBuffer(64);
    const writer = new TokenTable(buffer);
    writer.reset(true);
    const reader = new TokenTable(buffer);
    const item = entry();
    writer.insert(item, NOW);
    assert.equal(overflowInsideLookup(reader, buffer, item.tokenHash), true, 'no lookup threw half-way');
    // The reader goes on as before: a lookup that ends normally, then nothing.
    assert.deepEqual(reader.lookup(item.tokenHash), found(item));
    const refilled = { ...item, expiresAtMs: item.expiresAtMs + 60_000 };
    assert.equal(writer.insert(refilled, NOW), true, 'the writer waited for a reader that was in no lookup, and gave up the refill');
    assert.deepEqual(reader.lookup(item.tokenHash), found(refilled));
  });

  it('a reader on another thread whose lookup once threw half-way still never sees a torn entry', async () => {
    const result = await churnUnderReaderThread({ overflowFirst: true });
    assert.equal(result.overflowed, true, 'no lookup threw half-way');
    assert.ok(result.found > 1000, `the reader found only ${result.found} entries`);
    assert.equal(result.torn, 0);
  });

  it('a reset table, or a restarted writer, fills no slot under a reader still in a lookup, and a revocation meanwhile is in force at once', () => {
    const { buffer, writer, first: kept, second: revoked, release } = tableWithStalledReader();
    const otherReader = new TokenTable(buffer);
    writer.forget({ sessionIds: [revoked.sessionId] });
    assert.equal(otherReader.lookup(revoked.tokenHash), undefined, 'the revocation waited for the stalled reader');
    assert.deepEqual(otherReader.lookup(kept.tokenHash), found(kept));

    // The worker's own reset (trust lost and regained): the emptied slots may still be under the reader's eyes.
    writer.reset(true);
    assert.equal(writer.insert(entry(), NOW), false);
    // A restarted worker: the request thread emptied the table, and the new writer knows nothing of who reads.
    new TokenTable(buffer).reset(false);
    const restarted = new TokenTable(buffer);
    restarted.reset(true);
    assert.equal(restarted.insert(entry(), NOW), false);

    release();
    const fresh = entry();
    assert.equal(restarted.insert(fresh, NOW), true);
    assert.deepEqual(otherReader.lookup(fresh.tokenHash), found(fresh));
    assert.equal(otherReader.lookup(kept.tokenHash), undefined, 'an entry from before the reset survived it');
  });
});

/**
 * Calls `table.lookup` (the first reader of `buffer`) at every depth of a recursion that ran out of
 * stack, deepest first, until one call throws after it marked itself in a lookup (its word, the
 * header's fifth, changed); true once one did.
 */
function overflowInsideLookup(table: TokenTable, buffer: SharedArrayBuffer, tokenHash: string): boolean {
  const header = new Int32Array(buffer, 0, 16);
  let overflowed = false;
  const dive = (): void => {
    try {
      dive();
    } catch {
      // The stack ran out below here: from here up, each level tries a lookup with a little more.
    }
    if (overflowed) return;
    const before = Atomics.load(header, 4);
    try {
      table.lookup(tokenHash);
    } catch {
      overflowed = Atomics.load(header, 4) !== before;
    }
  };
  dive();
  return overflowed;
}

/**
 * For half a second, rewrites and revokes-then-refills 32 slots while a reader on another thread
 * looks them up in a loop (after cutting one lookup short by a stack overflow, with `overflowFirst`),
 * and says how many entries the reader found and how many of them were torn.
 */
async function churnUnderReaderThread({ overflowFirst }: { overflowFirst: boolean }): Promise<{ found: number; torn: number; overflowed: boolean }> {
  const buffer = allocateTableBuffer(64);
  const table = new TokenTable(buffer);
  table.reset(true);
  // Each entry's user and session ids and its scope set all carry the round that wrote them: a torn read mixes rounds.
  const keys = Array.from({ length: 32 }, () => hash('sha256', randomUUID(), 'base64url'));
  const idFor = (round: number, kind: number) => `${String(round % 1e8).padStart(8, '0')}-0000-4000-8000-${String(kind).padStart(12, '0')}`;
  // Filled before the reader starts, so that its first lookups find entries (and spell them).
  for (const [index, tokenHash] of keys.entries()) table.insert({ tokenHash, userId: idFor(0, 1), sessionId: idFor(0, 2 + index), expiresAtMs: NOW + 60_000, scopeSet: 0 }, NOW);
  const stop = new SharedArrayBuffer(4);
  const reader = new Worker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    import('tsx/esm/api')
      .then(({ register }) => { register(); return import(workerData.tableUrl); })
      .then(({ TokenTable }) => {
        const table = new TokenTable(workerData.buffer);
        const header = new Int32Array(workerData.buffer, 0, 16);
        const stop = new Int32Array(workerData.stop);
        let reads = 0, found = 0, torn = 0, overflowed = false;
        // overflowInsideLookup, on this thread.
        const dive = () => {
          try { dive(); } catch {}
          if (overflowed) return;
          const before = Atomics.load(header, 4);
          try { table.lookup(workerData.keys[0]); } catch { overflowed = Atomics.load(header, 4) !== before; }
        };
        if (workerData.overflowFirst) dive();
        parentPort.postMessage({ ready: true });
        while (Atomics.load(stop, 0) === 0) {
          for (const key of workerData.keys) {
            const entry = table.lookup(key);
            reads++;
            if (entry) {
              found++;
              if (entry.userId.slice(0, 8) !== entry.sessionId.slice(0, 8)) torn++;
              if ((Number(entry.userId.slice(0, 8)) & 0xffff) !== entry.scopeSet) torn++;
            }
          }
        }
        parentPort.postMessage({ reads, found, torn, overflowed });
      });`,
    { eval: true, workerData: { buffer, keys, stop, overflowFirst, tableUrl: new URL('../server/cache/table.ts', import.meta.url).href } },
  );
  const messages: Array<{ ready?: boolean; reads?: number; found?: number; torn?: number; overflowed?: boolean }> = [];
  reader.on('message', (message: (typeof messages)[number]) => messages.push(message));
  await until(() => messages.some((message) => message.ready), 'the reader to start');

  const started = Date.now();
  // Odd rounds rewrite each key's slot over the entry it holds; even rounds revoke the entry's
  // session (one for each key) first, so its slot is freed and filled again for another user.
  for (let round = 1; Date.now() - started < 500; round++) {
    keys.forEach((tokenHash, index) => {
      if (round % 2 === 0) table.forget({ sessionIds: [idFor(round - 1, 2 + index)] });
      table.insert({ tokenHash, userId: idFor(round, 1), sessionId: idFor(round, 2 + index), expiresAtMs: NOW + 60_000, scopeSet: round & 0xffff }, NOW);
    });
    if (round % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  Atomics.store(new Int32Array(stop), 0, 1);
  const result = await until(() => messages.find((message) => message.reads !== undefined), "the reader's counts");
  await reader.terminate();
  return { found: result.found ?? 0, torn: result.torn ?? 0, overflowed: result.overflowed ?? false };
}

describe('the token cache worker', () => {
  it('fills through the worker, and a killed worker is replaced with nothing trusted from before', async () => {
    const cache = await startTokenCache({ capacity: 1024, listener: null, startTimeoutMs: 10_000, logger: quiet, now: () => Date.now() });
    try {
      const item = entry({ expiresAtMs: Date.now() + 60_000 });
      cache.fill(item, cache.revocations);
      assert.deepEqual(await until(() => cache.get(item.tokenHash), 'the entry in the table'), found(item));

      const first = cache.worker;
      await first.terminate();
      assert.equal(cache.get(item.tokenHash), undefined);
      await cache.forget({ userId: item.userId });
      await until(() => cache.worker !== first, 'a new worker');
      assert.notEqual(cache.worker, first);
      await until(() => cache.revocations !== 0, 'the revocation counted');
      assert.equal(cache.get(item.tokenHash), undefined);

      const again = entry({ expiresAtMs: Date.now() + 60_000 });
      // Filled again until it holds: a fill sent while the new worker starts is dropped.
      const held = await until(() => cache.get(again.tokenHash) ?? void cache.fill(again, cache.revocations), 'the new worker to fill the table');
      assert.deepEqual(held, found(again));
    } finally {
      await cache.close();
    }
  });

  it('drops a fill that a revocation overtook', async () => {
    const cache = await startTokenCache({ capacity: 1024, listener: null, startTimeoutMs: 10_000, logger: quiet, now: () => Date.now() });
    try {
      const item = entry({ expiresAtMs: Date.now() + 60_000 });
      const before = cache.revocations;
      await cache.forget({ sessionIds: [item.sessionId] });
      cache.fill(item, before);
      await cache.forget({ sessionIds: [randomUUID()] });
      assert.equal(cache.get(item.tokenHash), undefined);
    } finally {
      await cache.close();
    }
  });
});
