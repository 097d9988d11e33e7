import { readFile } from 'node:fs/promises';

/** A fenced ```ts or ```tsx block of a Markdown file. */
export interface DocBlock {
  /** The Markdown file, relative to the repository. */
  file: string;
  /** The line of the file on which the block's code starts (1-based). */
  line: number;
  lang: 'ts' | 'tsx';
  code: string;
  /** The names its first line says it is given (`// Given: auth, db (from above)`); empty: it runs as written. */
  given: string[];
}

const OPENING_FENCE = /^```(ts|tsx)\s*$/;
const CLOSING_FENCE = /^```\s*$/;
const GIVEN_LINE = /^\/\/ Given: (.+)$/;

/** `auth (from "Use it"), db` → `['auth', 'db']`: the names, without what is said about them in brackets. */
function givenNames(firstLine: string): string[] {
  const listed = GIVEN_LINE.exec(firstLine)?.[1];
  if (!listed) return [];
  return listed
    .replace(/\([^)]*\)/g, '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
}

/** Every ```ts and ```tsx block of the Markdown files, in order. */
export async function readDocBlocks(files: string[]): Promise<DocBlock[]> {
  const blocks: DocBlock[] = [];
  for (const file of files) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    for (let index = 0; index < lines.length; index++) {
      const lang = OPENING_FENCE.exec(lines[index] ?? '')?.[1];
      if (lang !== 'ts' && lang !== 'tsx') continue;
      const end = lines.findIndex((text, at) => at > index && CLOSING_FENCE.test(text));
      if (end === -1) throw new Error(`${file}:${index + 1}: a code block that is never closed`);
      const code = lines.slice(index + 1, end);
      blocks.push({ file, line: index + 2, lang, code: `${code.join('\n')}\n`, given: givenNames(code[0] ?? '') });
      index = end;
    }
  }
  return blocks;
}
