/*
 * The token table: a fixed-size open-addressing hash table in a SharedArrayBuffer, so that every
 * thread of the process reads the same entries and a million of them cost the garbage collector
 * nothing. One thread writes (the cache worker); any number read, without locks.
 *
 * A slot's words are written only while no reader can be reading them, so a reader reads them with
 * plain accesses (an `Atomics` access costs several times a plain one, and a hit read sixteen):
 *   - the writer fills a slot that is not live, then makes it live with one `Atomics.store` of its
 *     state word; a reader's `Atomics.load` of that word then makes every word written before it
 *     visible to the reader's plain reads that follow (the memory model's synchronizes-with);
 *   - a live slot's words never change: to delete or rewrite it, the writer first retires it (one
 *     store of its state, after which no new lookup finds it), and writes its words again only after
 *     a grace period: every reader that was in a lookup when it retired the slot has left it.
 * A reader says so on a word of its own in the header, odd while it is in a lookup and even once
 * out, two stores a lookup; the writer waits for each odd word it sees to change. A lookup takes a
 * microsecond (or a garbage collection's pause, when one starts inside it), so that is the wait, and
 * it comes only when a slot that was live is written again.
 * An entry is keyed by the SHA-256 of the whole token, so finding it is also proof of the secret.
 *
 * Slot layout (64 bytes, one cache line: a lookup in a table too big for the CPU's caches costs one
 * miss from memory, or two when the probe goes on to the next slot):
 *   word 0      generation: counts the slot's fills, so a reader knows an entry it read before
 *   word 1      state (bits 0-1: EMPTY, LIVE, RETIRED, or DELETED once its grace is over; a deleted
 *               slot keeps probe chains intact), the expiry's high bits (bits 2-15) and scope set
 *               (bits 16-31: 0 for a session's token, else an API token's interned scopes, scope-sets.ts)
 *   word 2      the expiry's low 32 bits: milliseconds since the epoch in 46 bits, to the year 4199
 *   word 3      the next slot of the same session chain, plus one (0 ends it); the writer's alone
 *   words 4-7   the first 128 bits of the token hash
 *   words 8-11  user id (a UUID, its bytes in order, four to a word, the first the most significant)
 *   words 12-15 session id (a UUID; an API token's own id)
 * Header (64 bytes): word 0 = trusted flag, word 1 = revocation count, word 2 = slot count, word 3 =
 * readers so far, words 4-15 = each reader's lookup word.
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
const GENERATION = 0;
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
/** Deleted, its words still as a reader in a lookup may be reading them. */
const RETIRED = 3;
/** Deleted, its grace period over: free to write. */
const DELETED = 2;
const STATE_MASK = 0x3;
const EXPIRES_HIGH_SHIFT = 2;
const EXPIRES_HIGH_MASK = 0x3fff;
/** The latest expiry the 46 bits hold; a later one is stored as this (earlier: never a longer life). */
const MAX_EXPIRES_MS = 2 ** 46 - 1;
const TRUSTED_WORD = 0;
const REVOCATIONS_WORD = 1;
const SLOT_COUNT_WORD = 2;
const READER_COUNT_WORD = 3;
const FIRST_READER_WORD = 4;
const MAX_READERS = HEADER_WORDS - FIRST_READER_WORD;
/**
 * The longest the writer waits for a reader to leave its lookup (it takes a microsecond; only a
 * thread stopped in the middle of one would hold it up so long). The write is then left undone: an
 * entry not cached costs a database lookup, an entry rewritten under a reader could be read torn.
 */
const MAX_GRACE_WAIT_MS = 50;
/** An entry lives in one of this many slots from its home slot; the rest of a full window is evicted. */
const PROBE_WINDOW = 16;
/** Slots per entry of capacity: at most 68 % full, and with the heads under 96 bytes per entry. */
const SLOTS_PER_ENTRY = 1.47;
/** Slots per session head: chains of about three slots in a full table. */
const SLOTS_PER_HEAD = 4;
/** Bits of the sieve a pass over the table for some users tries each live slot's user id against first. */
const SIEVE_BITS = 65_536;
/**
 * Entries a reader remembers, each under its slot's index modulo this (a power of two), so that a
 * token checked again while its slot holds the same fill gets the entry it got before, without its
 * ids spelled again: what a hit costs most after the hash. 4096 entries are about 1 MB of the heap.
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

/** What a lookup finds: the entry, its expiry also as the `Date` an authorization carries. */
export interface FoundEntry extends TableEntry {
  /**
   * Made once per fill a reader reads, like the id strings: a `Date` costs a hit more than the rest
   * of its answer, and a reader hands the same entry back while its slot holds the same fill (so this
   * one `Date` is every such check's: read, never set; the expiry that counts is `expiresAtMs`).
   */
  expiresAt: Date;
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
  const w0 = int32[at] as number;
  const w1 = int32[at + 1] as number;
  const w2 = int32[at + 2] as number;
  const w3 = int32[at + 3] as number;
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
  /** This reader's lookup word (claimed at its first lookup; -1 before), and its lookups so far. */
  #readerWord = -1;
  #lookups = 0;
  /** The writer's: slots retired and not yet past their grace period. */
  readonly #retired: number[] = [];
  /** The writer's: whether readers may be reading slots it has not retired itself (it is new, or reset the table). */
  #graceOwed = true;
  /*
   * The entries this reader last read, by slot: which slot (its first word) and its generation then.
   * A slot's generation changes with every fill, so an equal one means the slot still holds what the
   * entry was read from. (It would come round again only after 2^32 fills of one slot.)
   */
  readonly #recentBases = new Int32Array(RECENT_HITS);
  readonly #recentGenerations = new Int32Array(RECENT_HITS);
  readonly #recentEntries: Array<Readonly<FoundEntry> | undefined> = new Array<undefined>(RECENT_HITS).fill(undefined);
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
    return this.#idMatches(base + KEY, key);
  }

  /** Whether the four words at `at` are those of `id`. */
  #idMatches(at: number, id: Int32Array): boolean {
    const int32 = this.#int32;
    return int32[at] === id[0] && int32[at + 1] === id[1] && int32[at + 2] === id[2] && int32[at + 3] === id[3];
  }

  /** The state of the slot at `base`: read by the writer, whose own stores these are. */
  #state(base: number): number {
    return (this.#int32[base + STATE_AND_SCOPE] as number) & STATE_MASK;
  }

  /** The expiry of the slot at `base`, whose state word reads `stateAndScope`. */
  #expiresAt(base: number, stateAndScope: number): number {
    return ((stateAndScope >>> EXPIRES_HIGH_SHIFT) & EXPIRES_HIGH_MASK) * 2 ** 32 + ((this.#int32[base + EXPIRES_LOW] as number) >>> 0);
  }

  /** Claims this reader's lookup word in the header. */
  #claimReaderWord(): number {
    const reader = Atomics.add(this.#int32, READER_COUNT_WORD, 1);
    if (reader >= MAX_READERS) throw new Error(`the token table is read by at most ${MAX_READERS} table objects`);
    this.#readerWord = FIRST_READER_WORD + reader;
    return this.#readerWord;
  }

  /**
   * The entry for a token hash, or undefined; never waits, never allocates on a miss, nor on a hit
   * of a slot this reader read last time with the same fill (the entry it got then: shared, so
   * read-only by its type; freezing it cost more than the rest of a hit).
   */
  lookup(tokenHash: string): Readonly<FoundEntry> | undefined {
    const int32 = this.#int32;
    const key = this.#key;
    keyWordsOf(tokenHash, key);
    const home = this.#homeOf(key);
    const readerWord = this.#readerWord >= 0 ? this.#readerWord : this.#claimReaderWord();
    // Odd while in this lookup, so no slot retired from now on is written again until it is over;
    // each lookup's odd value is new, so one that ended by throwing (a stack that ran out) and left
    // it odd is never taken for the next, and the next one's value tells the writer it is over.
    const turn = (this.#lookups = (this.#lookups + 1) | 0) << 1;
    Atomics.store(int32, readerWord, turn | 1);
    try {
      for (let probe = 0; probe < PROBE_WINDOW; probe++) {
        const base = this.#base(home, probe);
        const stateAndScope = Atomics.load(int32, base + STATE_AND_SCOPE);
        const state = stateAndScope & STATE_MASK;
        if (state === LIVE && this.#keyMatches(base, key)) return this.#entryAt(base, stateAndScope, tokenHash);
        if (state === EMPTY) return undefined;
      }
      return undefined;
    } finally {
      Atomics.store(int32, readerWord, (turn + 2) | 0);
    }
  }

  /** The entry in the live slot at `base`: the one this reader got last time, while the slot holds the same fill. */
  #entryAt(base: number, stateAndScope: number, tokenHash: string): Readonly<FoundEntry> {
    const int32 = this.#int32;
    const generation = int32[base + GENERATION] as number;
    const recent = (base >>> 4) & (RECENT_HITS - 1);
    if (this.#recentBases[recent] === base && this.#recentGenerations[recent] === generation) return this.#recentEntries[recent] as Readonly<FoundEntry>;
    const expiresAtMs = this.#expiresAt(base, stateAndScope);
    const entry: FoundEntry = {
      tokenHash,
      expiresAtMs,
      expiresAt: new Date(expiresAtMs),
      scopeSet: stateAndScope >>> 16,
      userId: idAt(int32, base + USER),
      sessionId: idAt(int32, base + SESSION),
    };
    this.#recentBases[recent] = base;
    this.#recentGenerations[recent] = generation;
    this.#recentEntries[recent] = entry;
    return entry;
  }

  // Everything below writes, and runs on the one writing thread only. Only the state words are
  // stored with `Atomics` (readers load them so); a slot's other words are written while it is not
  // live and past its grace, and the session heads and chain links are this thread's alone.

  /** Writes the words of a slot no reader can be reading. */
  #writeWords(at: number, words: Int32Array): void {
    for (let i = 0; i < words.length; i++) this.#int32[at + i] = words[i] as number;
  }

  #setState(base: number, state: number): void {
    const rest = (this.#int32[base + STATE_AND_SCOPE] as number) & ~STATE_MASK;
    Atomics.store(this.#int32, base + STATE_AND_SCOPE, rest | state);
  }

  /** Takes the live slot at `base` out of every lookup from now on; its words stay as they are. */
  #retire(base: number): void {
    this.#setState(base, RETIRED);
  }

  /**
   * Waits until every reader that was in a lookup when this was called has left it; false if one
   * takes longer than MAX_GRACE_WAIT_MS.
   */
  #awaitGrace(): boolean {
    const int32 = this.#int32;
    const readers = Math.min(Atomics.load(int32, READER_COUNT_WORD), MAX_READERS);
    let deadline = 0;
    for (let reader = 0; reader < readers; reader++) {
      const word = FIRST_READER_WORD + reader;
      const seen = Atomics.load(int32, word);
      if ((seen & 1) === 0) continue;
      for (let spin = 1; Atomics.load(int32, word) === seen; spin++) {
        if ((spin & 1023) !== 0) continue;
        const now = Date.now();
        if (deadline === 0) deadline = now + MAX_GRACE_WAIT_MS;
        else if (now > deadline) return false;
      }
    }
    return true;
  }

  /** Frees the slots retired so far, once no reader can be reading them; false if a reader held on. */
  #reclaim(): boolean {
    if (this.#retired.length === 0 && !this.#graceOwed) return true;
    if (!this.#awaitGrace()) return false;
    for (const base of this.#retired) if (this.#state(base) === RETIRED) this.#setState(base, DELETED);
    this.#retired.length = 0;
    this.#graceOwed = false;
    return true;
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

  /**
   * Stores an entry (replacing one with the same key); when its window is full, the soonest to
   * expire goes. False when it stored nothing: an id it cannot store, or a reader that held on.
   */
  insert(entry: TableEntry, nowMs: number): boolean {
    const userWords = idWordsOf(entry.userId);
    const sessionWords = idWordsOf(entry.sessionId);
    if (!userWords || !sessionWords || entry.tokenHash.length < KEY_CHARACTERS) return false;
    // From here no slot is retired: each one the probe meets is live, deleted or empty.
    if (!this.#reclaim()) return false;
    const int32 = this.#int32;
    const key = new Int32Array(4);
    keyWordsOf(entry.tokenHash, key);
    const home = this.#homeOf(key);
    let target = -1;
    let soonest = Infinity;
    for (let probe = 0; probe < PROBE_WINDOW; probe++) {
      const base = this.#base(home, probe);
      const stateAndScope = int32[base + STATE_AND_SCOPE] as number;
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
    const wasLive = this.#state(target) === LIVE;
    // A slot keeps its place on its chain only while it holds the same session.
    const sameSession = wasLive && this.#sessionMatches(target, sessionWords);
    if (wasLive) {
      if (!sameSession) this.#unlink(target);
      this.#retire(target);
      if (!this.#awaitGrace()) {
        if (sameSession) this.#unlink(target);
        this.#retired.push(target);
        return false;
      }
    }
    const expiresAtMs = Math.min(entry.expiresAtMs, MAX_EXPIRES_MS);
    const expiresHigh = Math.floor(expiresAtMs / 2 ** 32) & EXPIRES_HIGH_MASK;
    int32[target + GENERATION] = ((int32[target + GENERATION] as number) + 1) | 0;
    int32[target + EXPIRES_LOW] = expiresAtMs >>> 0;
    this.#writeWords(target + KEY, key);
    this.#writeWords(target + USER, userWords);
    this.#writeWords(target + SESSION, sessionWords);
    // The store that makes the words above visible to whoever loads it.
    Atomics.store(int32, target + STATE_AND_SCOPE, ((entry.scopeSet & 0xffff) << 16) | (expiresHigh << EXPIRES_HIGH_SHIFT) | LIVE);
    if (!sameSession) this.#link(target);
    return true;
  }

  #slotBase(slot: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS;
  }

  /** Deletes the live slot at `base` (its words are freed at the next fill); the caller takes it off its chain. */
  #delete(base: number): void {
    this.#retire(base);
    this.#retired.push(base);
  }

  /**
   * A pass over the whole table: deletes the live entries that match, then takes them off their
   * chains, each chain walked once. Taking each off as it goes walked its chain from the head every
   * time: quadratic in a chain's length, and one session refreshed a hundred times a second holds
   * tens of thousands of live tokens (a sweep of such a chain blocked this thread for seconds, with
   * other nodes' revocations waiting behind it).
   */
  #deleteWhere(matches: (base: number) => boolean): number {
    const int32 = this.#int32;
    const touchedHeads = new Set<number>();
    let deleted = 0;
    // Every node makes this pass for every user signed out anywhere: the state word read in line.
    const end = this.#slotBase(this.slotCount);
    for (let base = HEADER_WORDS; base < end; base += SLOT_WORDS) {
      if (((int32[base + STATE_AND_SCOPE] as number) & STATE_MASK) !== LIVE || !matches(base)) continue;
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

  /**
   * Removes every entry of these users: one pass over the table, however many they are. A live slot
   * is first sifted by 16 bits of its user id's last word (random in any UUID the kit makes), one
   * read of a bit; only the few that pass are hashed and looked up in the set: in a full table the
   * lookup for every live slot was most of the pass.
   */
  forgetUsers(userIds: readonly string[]): number {
    const int32 = this.#int32;
    Atomics.add(int32, REVOCATIONS_WORD, 1);
    const ids = userIds.map((id) => idWordsOf(id)).filter((id) => id !== null);
    const users = new IdSet(ids);
    const sieve = new Uint8Array(SIEVE_BITS / 8);
    for (const id of ids) {
      const bit = (id[3] as number) & (SIEVE_BITS - 1);
      sieve[bit >>> 3] = (sieve[bit >>> 3] as number) | (1 << (bit & 7));
    }
    return this.#deleteWhere((base) => {
      const bit = (int32[base + USER + 3] as number) & (SIEVE_BITS - 1);
      return ((sieve[bit >>> 3] as number) & (1 << (bit & 7))) !== 0 && users.has(int32, base + USER);
    });
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
      if (this.#state(base) !== EMPTY) this.#setState(base, EMPTY);
    }
    this.#int32.fill(0, this.#headsStart, this.#headsStart + this.#headCount);
    // Readers may still be reading the slots just emptied, and the next writer must not fill them
    // under those readers' eyes (this one, or the worker started after it with a table of its own).
    this.#retired.length = 0;
    this.#graceOwed = true;
    Atomics.store(this.#int32, TRUSTED_WORD, trusted ? 1 : 0);
  }
}
