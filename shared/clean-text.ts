/*
 * Text a client sends is refused when it holds what the kit cannot store or send back faithfully:
 * NUL (PostgreSQL's text and jsonb cannot hold it, so it would fail as a database error after the
 * work before it was spent) and a lone UTF-16 surrogate (it has no UTF-8 form: stored, it turns into
 * U+FFFD, so two different passwords that differ only there would hash alike).
 */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` holds no NUL and no lone surrogate. */
export function isCleanText(text: string): boolean {
  return !UNSTORABLE.test(text);
}
