// Every `switchboard` command, in the order `switchboard --help` lists them. A new command is a file
// in this folder exporting its `spec`, plus one line here.
import type { CommandSpec } from "../context.js";
import { spec as acp } from "./acp.js";
import { spec as approvals } from "./approvals.js";
import { spec as audit } from "./audit.js";
import { spec as broker } from "./broker.js";
import { spec as hook } from "./hook.js";
import { spec as inbox } from "./inbox.js";
import { spec as install } from "./install.js";
import { spec as run } from "./run.js";
import { spec as send } from "./send.js";
import { spec as sessions } from "./sessions.js";
import { spec as status } from "./status.js";
import { spec as streams } from "./streams.js";

export const COMMANDS: readonly CommandSpec[] = [run, acp, broker, status, sessions, send, inbox, approvals, streams, audit, install, hook];
