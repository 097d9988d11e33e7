/*
 * The negative cache: tokens the database refused lately, by the SHA-256 of the whole token, so that
 * one presented again (a replay of a made-up token by many clients, a client looping on a revoked or
 * expired one) is refused from memory. What it remembers stays true of a token: one that named
 * nothing will never name anything (no issued token will ever equal it: selector and verifier are
 * fresh randomness), a revoked or spent one stays revoked or spent, an expired one expired. So it
 * needs no invalidation, and it can only refuse, never grant.
 *
 * It is bounded in entries (the oldest go first) and each entry in time, so a flood of distinct
 * tokens costs a fixed amount of memory; a forgotten entry only costs one more lookup.
 */

/** How many refused tokens each negative cache keeps: about 2 MB of heap when full. */
export const REFUSED_TOKENS_CAPACITY = 10_000;
/** How long a refusal is remembered. */
export const REFUSED_TOKEN_TTL_MS = 5 * 60_000;

/** A negative cache: refusal codes by token hash, bounded in entries and in time. */
export class RefusedTokens<TCode extends string> {
  readonly #entries = new Map<string, { code: TCode; untilMs: number }>();
  readonly #capacity: number;

  constructor(capacity = REFUSED_TOKENS_CAPACITY) {
    this.#capacity = capacity;
  }

  /** How many refusals are held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Notes that the token with this hash was refused with `code`. */
  remember(tokenHash: string, code: TCode, nowMs: number): void {
    // Deleted first so that it moves to the newest end of the Map's order.
    this.#entries.delete(tokenHash);
    this.#entries.set(tokenHash, { code, untilMs: nowMs + REFUSED_TOKEN_TTL_MS });
    if (this.#entries.size <= this.#capacity) return;
    const oldest = this.#entries.keys().next();
    if (!oldest.done) this.#entries.delete(oldest.value);
  }

  /** The refusal remembered for this token hash, if any. */
  recall(tokenHash: string, nowMs: number): TCode | undefined {
    const entry = this.#entries.get(tokenHash);
    if (!entry) return undefined;
    if (entry.untilMs > nowMs) return entry.code;
    this.#entries.delete(tokenHash);
    return undefined;
  }
}
