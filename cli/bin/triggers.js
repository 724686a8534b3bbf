#!/usr/bin/env node
// The `triggers` command: the compiled CLI (cli/dist, built by `tsc -b cli`, which the root
// postinstall runs). It exits with main's code at once, rather than waiting for idle sockets
// of a cut long poll to close (stdout and stderr writes are synchronous on pipes and files).
import { main } from '../dist/main.js';

process.exit(await main(process.argv));
