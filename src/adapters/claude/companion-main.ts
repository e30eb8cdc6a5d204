// dist/claude-companion.js: started detached by the first hook of a Claude Code session (see companion.ts).
import { companionMain } from "./companion.js";

companionMain(process.argv.slice(2));
