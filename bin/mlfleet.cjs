#!/usr/bin/env node
// The `mlfleet` command runs the TypeScript sources directly through tsx, so a clone needs no build step.
require('tsx/cjs');
require('../cli/main.ts');
