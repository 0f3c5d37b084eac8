import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// Workflow code runs in Temporal's deterministic sandbox and domain/ is imported by it:
// neither may reach Node builtins (or the Temporal packages that wrap them).
const sandboxBans = {
  paths: [
    ...builtinModules.map((name) => ({ name, message: 'Node builtins are not allowed in workflow or domain code.' })),
    ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'].map((name) => ({
      name,
      message: 'Only @temporalio/workflow and @temporalio/common may be imported by workflow or domain code.',
      allowTypeImports: true,
    })),
  ],
  patterns: [{ group: ['node:*'], message: 'Node builtins are not allowed in workflow or domain code.' }],
};

// The workflow sandbox evaluates every module a workflow imports again for each workflow, and zod
// with the spec schemas cost ~12 ms of each: workflow code takes values only from these domain
// modules (types from any), which take values only from each other. A schema is loaded with an
// eager `import()` where a workflow really needs one.
const SCHEMA_FREE_DOMAIN = ['dag', 'input-ref', 'stage-plan'];
const schemaFree = (domainDir) => ({
  group: [`${domainDir}/*`, ...SCHEMA_FREE_DOMAIN.map((name) => `!${domainDir}/${name}`), 'zod'],
  allowTypeImports: true,
  message: `Workflow code imports values only from the zod-free domain modules (${SCHEMA_FREE_DOMAIN.join(', ')}); import types, or load a schema with an eager import().`,
});

export default tseslint.config(
  { ignores: ['node_modules/', '.mlfleet/', '.tools/', 'coverage/', 'dist/', 'test/histories/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', sandboxBans] },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { ...sandboxBans, patterns: [...sandboxBans.patterns, schemaFree('../domain')] }] },
  },
  {
    files: SCHEMA_FREE_DOMAIN.map((name) => `domain/${name}.ts`),
    rules: { 'no-restricted-imports': ['error', { ...sandboxBans, patterns: [...sandboxBans.patterns, schemaFree('.')] }] },
  },
  {
    files: ['**/*.{js,cjs,mjs}'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs', 'jest.config.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['examples/**/*.{js,cjs,mjs}'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
