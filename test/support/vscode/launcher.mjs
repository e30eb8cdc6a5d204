#!/usr/bin/env node
// Executable stand-in for VS Code, for @vscode/test-electron's runTests({ vscodeExecutablePath }).
// It registers tsx (resolved from this repository's node_modules, whatever the cwd) and runs
// ./launcher.ts, which starts VS Code's server + headless Chromium and runs the extension tests.
import { register } from "tsx/esm/api";

register();
await import("./launcher.ts");
