import { z } from 'zod';

/*
 * The pieces the parts' option schemas are built from. Each part declares its options once, as a
 * schema with a doc comment and `@default` on every key; the option types are inferred from it.
 */

export const positiveSeconds = z.number().int().positive();

/** A function option; its signature is the one `z.custom<F>` names, checked by the type checker. */
export function functionOption<F extends (...args: never[]) => unknown>() {
  return z.custom<F>((value) => typeof value === 'function', 'expected a function');
}
