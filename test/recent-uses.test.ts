import assert from 'node:assert/strict';
import { hash, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { RecentUses } from '../server/tokens/recent-uses.js';

const NOW = 1_800_000_000_000;
const tokenHash = () => hash('sha256', randomUUID(), 'base64url');

describe("an API token's recorded uses", () => {
  it('are due once a minute per token, whatever other tokens do meanwhile', () => {
    const uses = new RecentUses(60);
    const token = tokenHash();
    assert.equal(uses.due(token, NOW), true);
    assert.equal(uses.due(token, NOW + 59_000), false);
    // Another token never answers for this one.
    assert.equal(uses.due(tokenHash(), NOW + 59_000), true);
    assert.equal(uses.due(token, NOW + 60_000), true);
    assert.equal(uses.due(token, NOW + 61_000), false);
  });

  it('never skip a use the last minute did not record, however many tokens share a set', () => {
    const uses = new RecentUses(60);
    // Hashes alike in the characters that pick the set: twenty tokens in one set of eight ways.
    const crowded = Array.from({ length: 20 }, () => `AAA${tokenHash().slice(3)}`);
    const recordedAt = new Map<string, number>();
    for (let second = 0; second < 300; second += 7) {
      for (const token of crowded) {
        const now = NOW + second * 1000;
        if (uses.due(token, now)) recordedAt.set(token, now);
        else assert.ok(now - (recordedAt.get(token) ?? -Infinity) < 60_000, 'a use went unrecorded for over a minute');
      }
    }
  });
});
