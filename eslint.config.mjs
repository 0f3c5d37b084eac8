import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { LAYERS, layerZones } from './layers.mjs';

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
// with the spec schemas dominates that cost: workflow code takes values only from these domain
// modules (types from any), which take values only from each other. A schema is loaded with an
// eager `import()` where a workflow really needs one.
const SCHEMA_FREE_DOMAIN = ['dag', 'input-ref', 'stage-plan'];
const schemaFree = (domainDir) => ({
  group: [`${domainDir}/*`, ...SCHEMA_FREE_DOMAIN.map((name) => `!${domainDir}/${name}`), 'zod'],
  allowTypeImports: true,
  message: `Workflow code imports values only from the zod-free domain modules (${SCHEMA_FREE_DOMAIN.join(', ')}); import types, or load a schema with an eager import().`,
});

// Workflows name their activities' types for proxyActivities, and never load activity code.
const activitiesAsTypes = {
  group: ['../activities', '../activities/*'],
  allowTypeImports: true,
  message: 'Workflow code imports activities as types only (proxyActivities runs them on the worker).',
};

export default tseslint.config(
  { ignores: ['node_modules/', '.mlfleet/', '.tools/', 'coverage/', 'dist/', 'test/histories/', 'test/fixtures/import-cycle/'] },
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
    // The layers: each folder imports only the folders below it (layers.mjs), and no module imports itself back.
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver': undefined,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layerZones(LAYERS) }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', sandboxBans] },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { ...sandboxBans, patterns: [...sandboxBans.patterns, schemaFree('../domain'), activitiesAsTypes] }] },
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
