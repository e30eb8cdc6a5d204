// Where the broker keeps its state: $SWITCHBOARD_HOME, else the platform's per-user data folder.
import envPaths from "env-paths";
import { join } from "node:path";

export function stateHome(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.SWITCHBOARD_HOME?.trim();
  return override ? override : envPaths("agent-switchboard", { suffix: "" }).data;
}

export interface BrokerPaths {
  home: string;
  brokerDir: string;
  discoveryFile: string;
  lockFile: string;
  /** Held (flock) by the running broker for its whole life: one writer per state folder. */
  stateLockFile: string;
  journalDir: string;
  logDir: string;
  logFile: string;
  /** The broker's Unix socket (beside the loopback port; only this user can reach it). */
  socketFile: string;
}

export function brokerPaths(home: string = stateHome()): BrokerPaths {
  const brokerDir = join(home, "broker");
  const logDir = join(brokerDir, "log");
  return {
    home,
    brokerDir,
    discoveryFile: join(brokerDir, "discovery.json"),
    lockFile: join(brokerDir, "discovery.json.lock"),
    stateLockFile: join(brokerDir, "broker.lock"),
    journalDir: join(brokerDir, "journal"),
    logDir,
    logFile: join(logDir, "broker.log"),
    socketFile: join(brokerDir, "broker.sock"),
  };
}
