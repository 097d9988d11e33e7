import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemRandom } from '../server/deps.js';
import { generateTokenParts, generateVerifier } from '../server/tokens/secrets.js';

/*
 * The system's randomness is drawn from the operating system 4 KiB at a time and handed out in
 * pieces (deps.ts). What a token relies on: no two draws share a byte of the pool, whatever their
 * sizes and wherever a refill falls, and a draw is the caller's own copy, which nothing later
 * changes and whose changes reach nothing later.
 */

const POOL_BYTES = 4096;

describe('the pooled system randomness', () => {
  it('hands no byte out twice: draws of sizes that straddle every refill never repeat, nor overlap the one before', () => {
    const sizes = [16, 7, 32, 48, 33, 1, 44];
    const seen = new Set<string>();
    let previous = Buffer.alloc(0);
    // Twenty pools' worth, each refill landing at another offset of a draw.
    for (let draw = 0, drawn = 0; drawn < 20 * POOL_BYTES; draw++) {
      const size = sizes[draw % sizes.length] as number;
      const bytes = Buffer.from(systemRandom(size));
      assert.equal(bytes.length, size);
      drawn += size;
      if (size < 16) continue;
      assert.ok(!seen.has(bytes.toString('hex')), `a ${size}-byte draw came out twice`);
      seen.add(bytes.toString('hex'));
      // A draw that began inside the one before would find its head there.
      assert.equal(previous.indexOf(bytes.subarray(0, 8)), -1, 'a draw overlaps the one before it');
      previous = bytes;
    }
  });

  it("a draw is the caller's: writing into it changes no later draw, and no later draw changes it", () => {
    const first = systemRandom(32);
    const kept = Buffer.from(first);
    const second = systemRandom(32);
    const secondKept = Buffer.from(second);
    first.fill(0xff);
    // Enough draws to refill the pool twice over under the first two.
    for (let draw = 0; draw < (2 * POOL_BYTES) / 32; draw++) assert.ok(!Buffer.from(systemRandom(32)).equals(Buffer.alloc(32, 0xff)));
    assert.deepEqual(Buffer.from(second), secondKept, 'a later refill wrote into a draw handed out before it');
    assert.notDeepEqual(kept, Buffer.alloc(32, 0xff));
  });

  it('draws larger than the pool come whole, and so do draws the size of it', () => {
    for (const size of [POOL_BYTES, POOL_BYTES + 1, 3 * POOL_BYTES]) {
      const bytes = Buffer.from(systemRandom(size));
      assert.equal(bytes.length, size);
      // 4 KiB of zeros (an unfilled pool) would be 0 distinct values; random bytes take nearly all 256.
      assert.ok(new Set(bytes).size > 200, `${size} bytes with ${new Set(bytes).size} distinct values`);
    }
  });

  it("tokens made one after the other share no selector and no verifier, and a rotation's verifier none of theirs", () => {
    const selectors = new Set<string>();
    const verifiers = new Set<string>();
    for (let token = 0; token < 2000; token++) {
      const { selector, verifier } = generateTokenParts(systemRandom);
      const successor = generateVerifier(systemRandom);
      assert.ok(!selectors.has(selector) && !verifiers.has(verifier) && !verifiers.has(successor));
      assert.ok(!verifier.startsWith(selector) && !successor.startsWith(verifier.slice(0, 16)));
      selectors.add(selector);
      verifiers.add(verifier);
      verifiers.add(successor);
    }
  });
});
