/*
 * The token table: a fixed-size open-addressing hash table in a SharedArrayBuffer, so that every
 * thread of the process reads the same entries and a million of them cost the garbage collector
 * nothing. One thread writes (the cache worker); any number read, without locks.
 *
 * Each slot carries a sequence number: the writer makes it odd before it touches the slot and even
 * again after. A reader notes it, reads, and reads it again; a change means the read may be torn, and
 * the reader tries again. Every access to a slot is an `Atomics` one: plain typed-array accesses are
 * not ordered against the sequence number, and a weakly ordered CPU (ARM) would reorder them. An
 * `Atomics` access costs several times a plain one, so a slot is sixteen 32-bit words, read a word
 * at a time, never a byte. An entry is keyed by the SHA-256 of the whole token, so finding it is also
 * proof of the secret.
 *
 * Slot layout (64 bytes, one cache line: a lookup in a table too big for the CPU's caches costs one
 * miss from memory, or two when the probe goes on to the next slot):
 *   word 0      sequence
 *   word 1      state (bits 0-1: EMPTY, LIVE or DELETED; a deleted slot keeps probe chains intact),
 *               the expiry's high bits (bits 2-15) and scope set (bits 16-31: 0 for a session's
 *               token, else an API token's interned scopes, scope-sets.ts)
 *   word 2      the expiry's low 32 bits: milliseconds since the epoch in 46 bits, to the year 4199
 *   word 3      the next slot of the same session chain, plus one (0 ends it); the writer's alone
 *   words 4-7   the first 128 bits of the token hash
 *   words 8-11  user id (a UUID, its bytes in order, four to a word, the first the most significant)
 *   words 12-15 session id (a UUID; an API token's own id)
 * Header (64 bytes): word 0 = trusted flag, word 1 = revocation count, word 2 = slot count.
 *
 * After the slots, the session heads: a revocation names sessions, and the table is keyed by token,
 * so every live slot is also on a chain of the slots whose session ids hash to the same head (the
 * head holds its first slot, plus one). Forgetting a session walks its chain, a few slots, instead of
 * the whole table: at the default capacity a pass was 150,000 slots and several milliseconds, and a
 * storm of revocations, heard by every node, queued behind those passes for seconds.
 *
 * The table has 1.47 times as many slots as its capacity, so that it is at most 68 % full when it
 * holds as many entries as it was sized for: a lookup then finds its entry in its home slot or the
 * next one, where a table sized to a power of two just above the capacity would probe ten slots.
 * With a head for every four slots, that is 95.6 bytes per entry of capacity.
 */

import { IdSet, mixId } from './id-set.js';

const HEADER_WORDS = 16;
const SLOT_WORDS = 16;
const SEQUENCE = 0;
const STATE_AND_SCOPE = 1;
const EXPIRES_LOW = 2;
const NEXT_IN_SESSION = 3;
const KEY = 4;
const USER = 8;
const SESSION = 12;
/** Base64url characters of the token hash the key is made of: 22 × 6 bits, of which 128 are kept. */
const KEY_CHARACTERS = 22;
const EMPTY = 0;
const LIVE = 1;
const DELETED = 2;
const STATE_MASK = 0x3;
const EXPIRES_HIGH_SHIFT = 2;
const EXPIRES_HIGH_MASK = 0x3fff;
/** The latest expiry the 46 bits hold; a later one is stored as this (earlier: never a longer life). */
const MAX_EXPIRES_MS = 2 ** 46 - 1;
const TRUSTED_WORD = 0;
const REVOCATIONS_WORD = 1;
const SLOT_COUNT_WORD = 2;
/** An entry lives in one of this many slots from its home slot; the rest of a full window is evicted. */
const PROBE_WINDOW = 16;
/** Slots per entry of capacity: at most 68 % full, and with the heads under 96 bytes per entry. */
const SLOTS_PER_ENTRY = 1.47;
/** Slots per session head: chains of about three slots in a full table. */
const SLOTS_PER_HEAD = 4;
/** A reader that keeps meeting a slot mid-write gives up and lets the database answer. */
const MAX_RETRIES = 64;
/**
 * Entries a reader remembers, each under its slot's index modulo this (a power of two), so that a
 * token checked again while its slot is unchanged gets the entry it got before, without its ids
 * spelled again: what a hit costs most after the hash. 4096 entries are about 1 MB of the heap.
 */
const RECENT_HITS = 4096;

/** What the table knows of a token. */
export interface TableEntry {
  /** SHA-256 of the whole token, base64url (43 characters). */
  tokenHash: string;
  userId: string;
  sessionId: string;
  expiresAtMs: number;
  /** The interned scopes of an API token (scope-sets.ts); 0 (SESSION_SCOPES) for a session's token. */
  scopeSet: number;
}

const BASE64URL_VALUES = new Uint8Array(128);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').forEach((char, value) => {
  BASE64URL_VALUES[char.charCodeAt(0)] = value;
});
const HEX_DIGIT_CODES = Uint8Array.from('0123456789abcdef', (digit) => digit.charCodeAt(0));
const DASH = 0x2d;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The value of the base64url character at `index` of a token hash (0 for any other character). */
export function base64urlValueAt(tokenHash: string, index: number): number {
  return BASE64URL_VALUES[tokenHash.charCodeAt(index) & 127] as number;
}

/**
 * The four key words of a token hash: its first 22 characters decoded, 128 of their 132 bits.
 * Written into `into`, so that a lookup allocates nothing for them.
 */
function keyWordsOf(tokenHash: string, into: Int32Array): void {
  const v5 = base64urlValueAt(tokenHash, 5);
  const v10 = base64urlValueAt(tokenHash, 10);
  into[0] = (base64urlValueAt(tokenHash, 0) << 26) | (base64urlValueAt(tokenHash, 1) << 20) | (base64urlValueAt(tokenHash, 2) << 14) | (base64urlValueAt(tokenHash, 3) << 8) | (base64urlValueAt(tokenHash, 4) << 2) | (v5 >>> 4);
  into[1] = ((v5 & 15) << 28) | (base64urlValueAt(tokenHash, 6) << 22) | (base64urlValueAt(tokenHash, 7) << 16) | (base64urlValueAt(tokenHash, 8) << 10) | (base64urlValueAt(tokenHash, 9) << 4) | (v10 >>> 2);
  into[2] = ((v10 & 3) << 30) | (base64urlValueAt(tokenHash, 11) << 24) | (base64urlValueAt(tokenHash, 12) << 18) | (base64urlValueAt(tokenHash, 13) << 12) | (base64urlValueAt(tokenHash, 14) << 6) | base64urlValueAt(tokenHash, 15);
  into[3] = (base64urlValueAt(tokenHash, 16) << 26) | (base64urlValueAt(tokenHash, 17) << 20) | (base64urlValueAt(tokenHash, 18) << 14) | (base64urlValueAt(tokenHash, 19) << 8) | (base64urlValueAt(tokenHash, 20) << 2) | (base64urlValueAt(tokenHash, 21) >>> 4);
}

/** The two hex digits of the byte at `shift` of `word`, as character codes. */
function high(word: number, shift: number): number {
  return HEX_DIGIT_CODES[(word >>> (shift + 4)) & 15] as number;
}
function low(word: number, shift: number): number {
  return HEX_DIGIT_CODES[(word >>> shift) & 15] as number;
}

/**
 * The UUID in the four words at `at`, spelled in one call: a string built by concatenation costs
 * several times more, and the id strings are what a hit spends most on after the hash.
 */
function idAt(int32: Int32Array, at: number): string {
  const w0 = Atomics.load(int32, at);
  const w1 = Atomics.load(int32, at + 1);
  const w2 = Atomics.load(int32, at + 2);
  const w3 = Atomics.load(int32, at + 3);
  return String.fromCharCode(
    high(w0, 24), low(w0, 24), high(w0, 16), low(w0, 16), high(w0, 8), low(w0, 8), high(w0, 0), low(w0, 0), DASH,
    high(w1, 24), low(w1, 24), high(w1, 16), low(w1, 16), DASH,
    high(w1, 8), low(w1, 8), high(w1, 0), low(w1, 0), DASH,
    high(w2, 24), low(w2, 24), high(w2, 16), low(w2, 16), DASH,
    high(w2, 8), low(w2, 8), high(w2, 0), low(w2, 0), high(w3, 24), low(w3, 24), high(w3, 16), low(w3, 16), high(w3, 8), low(w3, 8), high(w3, 0), low(w3, 0),
  );
}

/** The four words of a UUID the kit can store, or null. */
function idWordsOf(id: string): Int32Array | null {
  if (!UUID.test(id)) return null;
  const hex = id.replaceAll('-', '');
  return Int32Array.from({ length: 4 }, (_, i) => Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) | 0);
}

/** How many slots a table of `capacity` entries has: a full probe window at least. */
function slotsFor(capacity: number): number {
  return capacity <= PROBE_WINDOW ? PROBE_WINDOW : Math.ceil(capacity * SLOTS_PER_ENTRY);
}

function headsFor(slotCount: number): number {
  return Math.ceil(slotCount / SLOTS_PER_HEAD);
}

/** The shared memory for a table of at least `capacity` entries. */
export function allocateTableBuffer(capacity: number): SharedArrayBuffer {
  const slotCount = slotsFor(capacity);
  const buffer = new SharedArrayBuffer((HEADER_WORDS + slotCount * SLOT_WORDS + headsFor(slotCount)) * 4);
  new Int32Array(buffer)[SLOT_COUNT_WORD] = slotCount;
  return buffer;
}

/** Whether the kit can keep this id in the table (it stores the kit's own UUIDs). */
export function isStorableId(id: string): boolean {
  return UUID.test(id);
}

export class TokenTable {
  readonly #int32: Int32Array;
  /** Maps 32 bits of a key onto the slots (a multiply, not a mask: the count is no power of two). */
  readonly #homeScale: number;
  /** The word of the first session head, and how 32 mixed bits of a session id map onto the heads. */
  readonly #headsStart: number;
  readonly #headCount: number;
  readonly #headScale: number;
  readonly #key = new Int32Array(4);
  /*
   * The entries this reader last read, by slot: which slot (its first word) and its sequence number
   * then. A slot's sequence changes with every write of it, so an equal one means the slot still holds
   * what the entry was read from. (It would come round again only after 2^31 writes of one slot.)
   */
  readonly #recentBases = new Int32Array(RECENT_HITS);
  readonly #recentSequences = new Int32Array(RECENT_HITS);
  readonly #recentEntries: Array<Readonly<TableEntry> | undefined> = new Array<undefined>(RECENT_HITS).fill(undefined);
  readonly slotCount: number;

  constructor(buffer: SharedArrayBuffer) {
    this.#int32 = new Int32Array(buffer);
    this.slotCount = this.#int32[SLOT_COUNT_WORD] as number;
    this.#homeScale = this.slotCount / 2 ** 32;
    this.#headsStart = HEADER_WORDS + this.slotCount * SLOT_WORDS;
    this.#headCount = this.#int32.length - this.#headsStart;
    this.#headScale = this.#headCount / 2 ** 32;
  }

  /** False while revocations from other nodes may be going unheard: then nothing here counts. */
  get trusted(): boolean {
    return Atomics.load(this.#int32, TRUSTED_WORD) === 1;
  }

  /** How many revocations (and flushes) the table has applied; see TokenCache.revocations. */
  get revocations(): number {
    return Atomics.load(this.#int32, REVOCATIONS_WORD);
  }

  /** The first word of the slot `probe` places after the home slot of the key in `#key`. */
  #base(home: number, probe: number): number {
    const slot = home + probe;
    return HEADER_WORDS + (slot >= this.slotCount ? slot - this.slotCount : slot) * SLOT_WORDS;
  }

  #homeOf(key: Int32Array): number {
    return Math.floor(((key[0] as number) >>> 0) * this.#homeScale);
  }

  #keyMatches(base: number, key: Int32Array): boolean {
    const int32 = this.#int32;
    return (
      Atomics.load(int32, base + KEY) === key[0] &&
      Atomics.load(int32, base + KEY + 1) === key[1] &&
      Atomics.load(int32, base + KEY + 2) === key[2] &&
      Atomics.load(int32, base + KEY + 3) === key[3]
    );
  }

  #state(base: number): number {
    return Atomics.load(this.#int32, base + STATE_AND_SCOPE) & STATE_MASK;
  }

  /** The expiry of the slot at `base`, whose state word reads `stateAndScope`. */
  #expiresAt(base: number, stateAndScope: number): number {
    return ((stateAndScope >>> EXPIRES_HIGH_SHIFT) & EXPIRES_HIGH_MASK) * 2 ** 32 + (Atomics.load(this.#int32, base + EXPIRES_LOW) >>> 0);
  }

  /**
   * The entry for a token hash, or undefined; never waits, never allocates on a miss, nor on a hit
   * of a slot this reader read last time unchanged (the entry it got then: shared, so read-only by its
   * type; freezing it cost more than the rest of a hit).
   */
  lookup(tokenHash: string): Readonly<TableEntry> | undefined {
    const int32 = this.#int32;
    const key = this.#key;
    keyWordsOf(tokenHash, key);
    const home = this.#homeOf(key);
    for (let probe = 0; probe < PROBE_WINDOW; probe++) {
      const base = this.#base(home, probe);
      for (let attempt = 0; ; attempt++) {
        if (attempt === MAX_RETRIES) return undefined;
        const before = Atomics.load(int32, base + SEQUENCE);
        if (before & 1) continue;
        const stateAndScope = Atomics.load(int32, base + STATE_AND_SCOPE);
        const state = stateAndScope & STATE_MASK;
        const recent = (base >>> 4) & (RECENT_HITS - 1);
        let found: Readonly<TableEntry> | undefined;
        let fresh = false;
        if (state === LIVE && this.#keyMatches(base, key)) {
          if (this.#recentBases[recent] === base && this.#recentSequences[recent] === before) {
            found = this.#recentEntries[recent];
          } else {
            fresh = true;
            found = {
              tokenHash,
              expiresAtMs: this.#expiresAt(base, stateAndScope),
              scopeSet: stateAndScope >>> 16,
              userId: idAt(int32, base + USER),
              sessionId: idAt(int32, base + SESSION),
            };
          }
        }
        if (Atomics.load(int32, base + SEQUENCE) !== before) continue;
        if (fresh) {
          // Only an entry read whole is remembered.
          this.#recentBases[recent] = base;
          this.#recentSequences[recent] = before;
          this.#recentEntries[recent] = found;
        }
        if (found) return found;
        if (state === EMPTY) return undefined;
        break;
      }
    }
    return undefined;
  }

  // Everything below writes, and runs on the one writing thread only. The session heads and chain
  // links are this thread's alone (no reader looks at them), so they take plain accesses.

  #write(base: number, fill: () => void): void {
    Atomics.add(this.#int32, base + SEQUENCE, 1);
    fill();
    Atomics.add(this.#int32, base + SEQUENCE, 1);
  }

  #writeWords(at: number, words: Int32Array): void {
    for (let i = 0; i < words.length; i++) Atomics.store(this.#int32, at + i, words[i] as number);
  }

  #setState(base: number, state: number): void {
    const rest = Atomics.load(this.#int32, base + STATE_AND_SCOPE) & ~STATE_MASK;
    Atomics.store(this.#int32, base + STATE_AND_SCOPE, rest | state);
  }

  /** The word of the head of the chain for the session id in the four words of `words` at `at`. */
  #headOf(words: Int32Array, at: number): number {
    return this.#headsStart + Math.floor(mixId(words, at) * this.#headScale);
  }

  /** The head of the chain the slot at `base` is on, by the session id it holds. */
  #headOfSlot(base: number): number {
    return this.#headOf(this.#int32, base + SESSION);
  }

  /** Puts the live slot at `base` first on its session's chain. */
  #link(base: number): void {
    const head = this.#headOfSlot(base);
    this.#int32[base + NEXT_IN_SESSION] = this.#int32[head] as number;
    this.#int32[head] = (base - HEADER_WORDS) / SLOT_WORDS + 1;
  }

  /** Takes the slot at `base` off its session's chain (before its session id changes). */
  #unlink(base: number): void {
    const int32 = this.#int32;
    // The word that points at the current slot: the head, then each slot's link.
    let pointer = this.#headOfSlot(base);
    for (let next = int32[pointer] as number; next !== 0; next = int32[pointer] as number) {
      const current = this.#slotBase(next - 1);
      if (current === base) {
        int32[pointer] = int32[base + NEXT_IN_SESSION] as number;
        return;
      }
      pointer = current + NEXT_IN_SESSION;
    }
  }

  #sessionMatches(base: number, session: Int32Array): boolean {
    return this.#idMatches(base + SESSION, session);
  }

  /** Stores an entry (replacing one with the same key); when its window is full, the soonest to expire goes. */
  insert(entry: TableEntry, nowMs: number): boolean {
    const userWords = idWordsOf(entry.userId);
    const sessionWords = idWordsOf(entry.sessionId);
    if (!userWords || !sessionWords || entry.tokenHash.length < KEY_CHARACTERS) return false;
    const int32 = this.#int32;
    const key = new Int32Array(4);
    keyWordsOf(entry.tokenHash, key);
    const home = this.#homeOf(key);
    let target = -1;
    let soonest = Infinity;
    for (let probe = 0; probe < PROBE_WINDOW; probe++) {
      const base = this.#base(home, probe);
      const stateAndScope = Atomics.load(int32, base + STATE_AND_SCOPE);
      const state = stateAndScope & STATE_MASK;
      const expires = this.#expiresAt(base, stateAndScope);
      if (state === LIVE && this.#keyMatches(base, key)) {
        target = base;
        break;
      }
      const free = state !== LIVE || expires <= nowMs;
      if (free && soonest > -Infinity) {
        target = base;
        soonest = -Infinity;
      } else if (!free && expires < soonest) {
        target = base;
        soonest = expires;
      }
    }
    // A slot keeps its place on its chain only while it holds the same session.
    const relink = this.#state(target) !== LIVE || !this.#sessionMatches(target, sessionWords);
    if (relink && this.#state(target) === LIVE) this.#unlink(target);
    const expiresAtMs = Math.min(entry.expiresAtMs, MAX_EXPIRES_MS);
    const expiresHigh = Math.floor(expiresAtMs / 2 ** 32) & EXPIRES_HIGH_MASK;
    this.#write(target, () => {
      Atomics.store(int32, target + STATE_AND_SCOPE, ((entry.scopeSet & 0xffff) << 16) | (expiresHigh << EXPIRES_HIGH_SHIFT) | LIVE);
      Atomics.store(int32, target + EXPIRES_LOW, expiresAtMs >>> 0);
      this.#writeWords(target + KEY, key);
      this.#writeWords(target + USER, userWords);
      this.#writeWords(target + SESSION, sessionWords);
    });
    if (relink) this.#link(target);
    return true;
  }

  #idMatches(at: number, id: Int32Array): boolean {
    const int32 = this.#int32;
    return (
      Atomics.load(int32, at) === id[0] && Atomics.load(int32, at + 1) === id[1] && Atomics.load(int32, at + 2) === id[2] && Atomics.load(int32, at + 3) === id[3]
    );
  }

  #slotBase(slot: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS;
  }

  /** Marks the live slot at `base` deleted; the caller takes it off its chain. */
  #delete(base: number): void {
    this.#write(base, () => this.#setState(base, DELETED));
  }

  /**
   * A pass over the whole table: deletes the live entries that match, then takes them off their
   * chains, each chain walked once. Taking each off as it goes walked its chain from the head every
   * time: quadratic in a chain's length, and one session refreshed a hundred times a second holds
   * tens of thousands of live tokens (a sweep of such a chain blocked this thread for seconds, with
   * other nodes' revocations waiting behind it).
   */
  #deleteWhere(matches: (base: number) => boolean): number {
    const touchedHeads = new Set<number>();
    let deleted = 0;
    for (let slot = 0; slot < this.slotCount; slot++) {
      const base = this.#slotBase(slot);
      if (this.#state(base) !== LIVE || !matches(base)) continue;
      touchedHeads.add(this.#headOfSlot(base));
      this.#delete(base);
      deleted++;
    }
    for (const head of touchedHeads) this.#dropDeleted(head);
    return deleted;
  }

  /** Takes the slots that are no longer live off the chain at `head`: one walk, however many they are. */
  #dropDeleted(head: number): void {
    const int32 = this.#int32;
    let pointer = head;
    for (let next = int32[pointer] as number; next !== 0; next = int32[pointer] as number) {
      const base = this.#slotBase(next - 1);
      if (this.#state(base) === LIVE) pointer = base + NEXT_IN_SESSION;
      else int32[pointer] = int32[base + NEXT_IN_SESSION] as number;
    }
  }

  /** Removes every entry of these sessions (and API tokens, by their ids): a walk of their chains. */
  forgetSessions(sessionIds: readonly string[]): number {
    Atomics.add(this.#int32, REVOCATIONS_WORD, 1);
    const int32 = this.#int32;
    let deleted = 0;
    for (const id of sessionIds) {
      const session = idWordsOf(id);
      if (!session) continue;
      let pointer = this.#headOf(session, 0);
      for (let next = int32[pointer] as number; next !== 0; next = int32[pointer] as number) {
        const base = this.#slotBase(next - 1);
        if (this.#sessionMatches(base, session)) {
          int32[pointer] = int32[base + NEXT_IN_SESSION] as number;
          this.#delete(base);
          deleted++;
        } else {
          pointer = base + NEXT_IN_SESSION;
        }
      }
    }
    return deleted;
  }

  /** Removes every entry of these users: one pass over the table, however many they are. */
  forgetUsers(userIds: readonly string[]): number {
    Atomics.add(this.#int32, REVOCATIONS_WORD, 1);
    const users = new IdSet(userIds.map((id) => idWordsOf(id)).filter((id) => id !== null));
    return this.#deleteWhere((base) => users.has(this.#int32, base + USER));
  }

  /** Removes every entry of these sessions, or of this user; counts as one revocation. */
  forget(revocation: { sessionIds: string[] } | { userId: string }): number {
    return 'userId' in revocation ? this.forgetUsers([revocation.userId]) : this.forgetSessions(revocation.sessionIds);
  }

  /** The scope-set numbers (scope-sets.ts) some entry holds, whatever its expiry; 0 left out. */
  scopeSetsInUse(): number[] {
    const inUse = new Set<number>();
    for (let slot = 0; slot < this.slotCount; slot++) {
      const stateAndScope = Atomics.load(this.#int32, this.#slotBase(slot) + STATE_AND_SCOPE);
      if ((stateAndScope & STATE_MASK) !== LIVE) continue;
      const scopeSet = stateAndScope >>> 16;
      if (scopeSet !== 0) inUse.add(scopeSet);
    }
    return [...inUse];
  }

  /** Removes the entries whose tokens have expired. */
  sweep(nowMs: number): number {
    return this.#deleteWhere((base) => this.#expiresAt(base, Atomics.load(this.#int32, base + STATE_AND_SCOPE)) <= nowMs);
  }

  /** Empties the table and says whether it may be trusted from now on. */
  reset(trusted: boolean): void {
    Atomics.store(this.#int32, TRUSTED_WORD, 0);
    Atomics.add(this.#int32, REVOCATIONS_WORD, 1);
    for (let slot = 0; slot < this.slotCount; slot++) {
      const base = this.#slotBase(slot);
      if (this.#state(base) === EMPTY) continue;
      this.#write(base, () => this.#setState(base, EMPTY));
    }
    this.#int32.fill(0, this.#headsStart, this.#headsStart + this.#headCount);
    Atomics.store(this.#int32, TRUSTED_WORD, trusted ? 1 : 0);
  }
}
