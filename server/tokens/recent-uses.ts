import { base64urlValueAt } from '../cache/table.js';

/*
 * When this node last recorded the use of each API token used lately, for `lastUsedAt`: a fixed
 * array, found by bits of the token's hash, so that a cached `pat_` hit costs a read of one set of it
 * rather than a Map lookup by an id string built for it, and the memory is the same 2 MB however
 * many tokens there are (off the JS heap: nothing for the garbage collector).
 *
 * The array is set-associative: 2^14 sets of 8 ways, a set two cache lines. A way holds 64 more bits
 * of the hash, to tell its token from the others of its set, and the second of its last recording. A
 * token not found takes the way recorded longest ago, so a set holding more than 8 tokens used within
 * a minute costs some of them an extra write now and then, never a missed use. (Two tokens whose
 * hashes agree in those 78 bits would pass for one another: a chance of about 2^-64 for a pair.)
 */

const SET_BITS = 14;
const WAYS = 8;
/** Per set: the ways' first tag words, then their second ones, then their seconds. */
const SET_WORDS = WAYS * 4;
const TAG1 = WAYS;
const SECONDS = WAYS * 2;

function setOf(tokenHash: string): number {
  return (base64urlValueAt(tokenHash, 0) << 8) | (base64urlValueAt(tokenHash, 1) << 2) | (base64urlValueAt(tokenHash, 2) >>> 4);
}

/** 32 bits of the hash from six of its characters at `from` (36 bits, the last four dropped). */
function tagAt(tokenHash: string, from: number): number {
  return (
    ((base64urlValueAt(tokenHash, from) << 26) |
      (base64urlValueAt(tokenHash, from + 1) << 20) |
      (base64urlValueAt(tokenHash, from + 2) << 14) |
      (base64urlValueAt(tokenHash, from + 3) << 8) |
      (base64urlValueAt(tokenHash, from + 4) << 2) |
      (base64urlValueAt(tokenHash, from + 5) >>> 4)) >>>
    0
  );
}

export class RecentUses {
  readonly #words = new Uint32Array(SET_WORDS << SET_BITS);
  readonly #resolutionSeconds: number;

  /** At most one recording per token every `resolutionSeconds`. */
  constructor(resolutionSeconds: number) {
    this.#resolutionSeconds = resolutionSeconds;
  }

  /**
   * Whether a use of the token with this hash (SHA-256, base64url) at `nowMs` is to be recorded:
   * true when this node has not recorded one in the last `resolutionSeconds`, and then it counts as
   * recorded.
   */
  due(tokenHash: string, nowMs: number): boolean {
    const words = this.#words;
    const set = setOf(tokenHash) * SET_WORDS;
    const tag0 = tagAt(tokenHash, 3);
    const tag1 = tagAt(tokenHash, 9);
    // Seconds since the epoch fit 32 unsigned bits until 2106.
    const nowSeconds = Math.floor(nowMs / 1000) >>> 0;
    let way = 0;
    let oldest = 0;
    for (; way < WAYS; way++) {
      if (words[set + way] === tag0 && words[set + TAG1 + way] === tag1) break;
      if ((words[set + SECONDS + way] as number) < (words[set + SECONDS + oldest] as number)) oldest = way;
    }
    if (way < WAYS) {
      if (nowSeconds - (words[set + SECONDS + way] as number) < this.#resolutionSeconds) return false;
    } else {
      way = oldest;
      words[set + way] = tag0;
      words[set + TAG1 + way] = tag1;
    }
    words[set + SECONDS + way] = nowSeconds;
    return true;
  }
}
