// Errors raised by BrokerClient in addition to those of errors.ts (BrokerError, DiscoveryError,
// BrokerUnreachableError).

/** The broker does not offer a capability a call needs (e.g. a MASONS broker has no observer feed). */
export class CapabilityMissingError extends Error {
  constructor(
    readonly capability: string,
    what: string,
    brokerUrl: string | undefined,
  ) {
    super(
      `${what} needs the broker capability "${capability}", which the broker${brokerUrl ? ` at ${brokerUrl}` : ""} does not offer ` +
        `(it may be a MASONS runtime broker or an older Switchboard broker).`,
    );
    this.name = "CapabilityMissingError";
  }
}

/** The broker speaks another major version of the protocol; retrying cannot help. */
export class ProtocolMismatchError extends Error {
  constructor(
    readonly brokerUrl: string,
    readonly serverProtocolVersion: string | undefined,
    readonly clientProtocolVersion: string,
  ) {
    const major = clientProtocolVersion.split(".")[0];
    super(
      `The broker at ${brokerUrl} speaks protocol ${serverProtocolVersion ?? "(unknown)"}; this client needs ${major}.x. ` +
        `Update Agent Switchboard (or the agent integration) so that both sides match, or stop that broker so that a matching one can start.`,
    );
    this.name = "ProtocolMismatchError";
  }
}

/** The client was closed; no more calls. */
export class ClientClosedError extends Error {
  constructor(what = "This BrokerClient") {
    super(`${what} is closed.`);
    this.name = "ClientClosedError";
  }
}

/** A call needs a connection and the client is not connected (and did not get connected in time). */
export class NotConnectedError extends Error {
  constructor(
    readonly phase: string,
    detail?: string,
  ) {
    super(`The client is not connected to the broker (phase ${phase})${detail ? `: ${detail}` : ""}.`);
    this.name = "NotConnectedError";
  }
}

/** Another BrokerClient in this process already holds a stream for this plugin pid. */
export class StreamInUseError extends Error {
  constructor(
    readonly pluginPid: number,
    target: string,
  ) {
    super(
      `Another BrokerClient in this process is already connected as plugin pid ${pluginPid} to ${target}; ` +
        `the broker allows one stream per pid. Close that client first or give this one another pluginPid.`,
    );
    this.name = "StreamInUseError";
  }
}
