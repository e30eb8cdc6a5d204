// The start of an ACP session: `initialize` (announcing what this client serves) and `session/new` in
// the working folder, each within a time limit. An agent that dies or answers with an error while
// starting is reported with how it ended and the end of its stderr.
import * as acp from "@agentclientprotocol/sdk";
import type { InitializeResponse } from "@agentclientprotocol/sdk";
import { SWITCHBOARD_VERSION } from "../../protocol/index.js";
import type { AgentExit, AgentProcess } from "./agent-process.js";
import { errText } from "../shared/failures.js";

const { methods } = acp;

/** fs/* and terminal/* are served by client-ops.ts; `_meta.terminal_output` asks for live output. */
export const CLIENT_CAPABILITIES = { fs: { readTextFile: true, writeTextFile: true }, terminal: true, _meta: { terminal_output: true } };

export interface OpenedSession {
  agentInfo: InitializeResponse["agentInfo"];
  sessionId: string;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${Math.round(ms / 1000)} s`)), ms))),
  ]);
}

/** How the agent ended ("exited with code 1"), and the last lines of its stderr. */
export function agentEnd(agent: AgentProcess, exit: AgentExit): { how: string; tail: string } {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return { how, tail: agent.stderr.trim().split("\n").slice(-5).join("\n") };
}

export async function openSession(conn: acp.ClientConnection, agent: AgentProcess, o: { command: string; cwd: string; timeoutMs: number }): Promise<OpenedSession> {
  // An agent that dies while starting: say how, with the end of what it wrote to stderr.
  const died = agent.exited.then((exit) => {
    const { how, tail } = agentEnd(agent, exit);
    throw new Error(`${o.command} ${how} before it started an ACP session${tail ? `:\n${tail}` : ""}`);
  });
  died.catch(() => {});
  const step = <T>(what: string, p: Promise<T>): Promise<T> =>
    withTimeout(p, o.timeoutMs, `the agent (${what})`).catch(async (err: unknown) => {
      // A broken pipe comes before the exit: give the exit a moment to arrive.
      const gone = await Promise.race([agent.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000).unref())]);
      if (gone) return died as Promise<never>;
      throw new Error(`${o.command} answered ${what} with an error (is it an ACP agent, started in ACP mode?): ${errText(err)}`);
    });
  const init: InitializeResponse = await step(
    "initialize",
    conn.agent.request(methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: CLIENT_CAPABILITIES,
      clientInfo: { name: "agent-switchboard", title: "Agent Switchboard", version: SWITCHBOARD_VERSION },
    }),
  );
  const session = await step("session/new", conn.agent.request(methods.agent.session.new, { cwd: o.cwd, mcpServers: [] }));
  return { agentInfo: init.agentInfo, sessionId: session.sessionId };
}
