// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'db/migrations/', '.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's it() and describe() return promises that the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['it', 'describe', 'test'] }] },
      ],
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-expect-error': 'allow-with-description' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'max-params': ['error', 3],
    },
  },
  {
    // What the browser bundles must not reach the server's code: only types may cross.
    files: ['client/**/*.ts', 'client/**/*.tsx', 'shared/**/*.ts'],
    ignores: ['client/node/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../server/**', '../../server/**', '../db/**', '../../db/**', 'node:*'], message: 'client/ and shared/ run in the browser', allowTypeImports: true }] },
      ],
    },
  },
  // The arrows between the parts that must never exist (docs/architecture.md draws the others).
  {
    files: ['shared/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../**', 'node:*'], message: 'shared/ is imported by both sides and imports nothing but itself' }] },
      ],
    },
  },
  {
    files: ['db/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../server/**', '../client/**', '../reference-server/**'], message: 'db/ is the storage the server builds on; it knows nothing of the server' }] },
      ],
    },
  },
  {
    files: ['server/cache/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../procedures/**', '../middleware/**', '../trpc.js', '../auth-router.js'], message: 'the token cache sits below the procedures and the middleware that call it' }] },
      ],
    },
  },
  {
    files: ['server/**/*.ts', 'db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/client/**', '**/reference-server/**', '**/examples/**', '**/cli/**'], message: 'the published server and db never reach the client, the reference server, the examples or the CLI' }] },
      ],
    },
  },
  {
    files: ['scripts/*.mjs', 'eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
