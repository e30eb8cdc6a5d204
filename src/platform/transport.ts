// Which way a client reaches the broker: its Unix socket in the state folder when the discovery record
// names one and it is there (other users cannot reach it, so they cannot crowd it out), else the
// loopback TCP port. Requests carry the TCP address as their Host either way.
import { lstatSync } from "node:fs";
import { connect, type Socket } from "node:net";

export interface BrokerAddress {
  ipcUrl: string;
  ipcSocket?: string | undefined;
}

/** The socket path to use, or undefined for TCP (no socket named, not there, or not a socket). */
export function localSocket(address: BrokerAddress): string | undefined {
  if (!address.ipcSocket || process.platform === "win32") return undefined;
  try {
    return lstatSync(address.ipcSocket).isSocket() ? address.ipcSocket : undefined;
  } catch {
    return undefined;
  }
}

/** WebSocket client options that connect over the socket when there is one (ws ignores `socketPath` for ws: URLs). */
export function wsTransport(address: BrokerAddress): { createConnection?: () => Socket } {
  const path = localSocket(address);
  return path ? { createConnection: () => connect({ path }) } : {};
}
