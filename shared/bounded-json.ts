import { isCleanText } from './clean-text.js';

/** A JSON value as the kit stores it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** How large a free-form JSON input may be. */
export interface JsonLimits {
  /** Characters of its JSON text. */
  maxLength: number;
  /** Values in it (objects, arrays and primitives alike). */
  maxNodes: number;
  /** Objects and arrays nested in one another. */
  maxDepth: number;
  /** Characters of any one key. */
  maxKeyLength: number;
}

/*
 * Keys that superjson refuses to serialise (they are how prototypes get polluted): stored, they would
 * make every answer that carries the value fail.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Why `value` is not a JSON object within `limits`, or null when it is. The walk visits each value
 * once, holds no recursion, and stops at the first limit passed: its cost is bounded by `maxNodes`
 * whatever it is given, even a graph whose paths multiply (an object whose keys all point at one
 * child), and its length count is exact (`JSON.stringify(value).length`).
 */
export function findJsonProblem(value: unknown, limits: JsonLimits): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  let nodes = 0;
  let length = 0;
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (++nodes > limits.maxNodes) return 'too many values';
    const item = next.value;
    switch (typeof item) {
      case 'string':
        if (!isCleanText(item)) return 'text holds NUL or a lone surrogate';
        length += JSON.stringify(item).length;
        break;
      case 'number':
        if (!Number.isFinite(item)) return 'not a finite number';
        length += String(item).length;
        break;
      case 'boolean':
        length += item ? 4 : 5;
        break;
      case 'object': {
        if (item === null) {
          length += 4;
          break;
        }
        if (next.depth > limits.maxDepth) return 'nested too deep';
        if (Array.isArray(item)) {
          length += 2 + Math.max(0, item.length - 1);
          for (const element of item) pending.push({ value: element, depth: next.depth + 1 });
          break;
        }
        if (!isPlainObject(item)) return 'not plain JSON';
        const keys = Object.keys(item);
        length += 2 + Math.max(0, keys.length - 1);
        for (const key of keys) {
          if (FORBIDDEN_KEYS.has(key)) return `the key ${key} is not allowed`;
          if (key.length > limits.maxKeyLength) return 'a key is too long';
          if (!isCleanText(key)) return 'text holds NUL or a lone surrogate';
          length += JSON.stringify(key).length + 1;
          pending.push({ value: item[key], depth: next.depth + 1 });
        }
        break;
      }
      default:
        return 'not JSON';
    }
    if (length > limits.maxLength) return 'too large';
  }
  return null;
}

/**
 * `value` without the keys superjson will not serialise, at any depth: what an account stored
 * before those keys were refused is still sent back (and the account can still sign in), less them.
 * Returns `value` itself when it holds none, so the common case copies nothing.
 */
export function withoutForbiddenKeys<T>(value: T): T {
  return strip(value) as T;
}

function strip(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const elements = value.map(strip);
    return elements.every((element, index) => element === value[index]) ? value : elements;
  }
  let changed = false;
  const kept: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const sendable = strip(child);
    if (FORBIDDEN_KEYS.has(key)) {
      changed = true;
      continue;
    }
    if (sendable !== child) changed = true;
    // A plain assignment is safe: `__proto__`, the one key it would treat specially, was skipped.
    kept[key] = sendable;
  }
  return changed ? kept : value;
}
