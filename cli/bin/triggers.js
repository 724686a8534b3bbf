#!/usr/bin/env node
// Placeholder until the CLI lands (issue 15): the workspace exists so that npm links the bin.
console.error('triggers: not built yet');
process.exit(1);
