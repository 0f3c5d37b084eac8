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
