import { resolve } from 'node:path';

/** The repository root: tools, examples and the default data folder are found from here. */
export const projectRoot = resolve(__dirname, '..');
