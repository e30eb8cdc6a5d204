// The broker's HTTP front: one handler per route of ROUTES (src/protocol/routes.ts), keyed by route name,
// each a small function from a checked request to a JSON answer. The listeners and their gate (Host,
// Origin, token, body limits) are listeners.ts, WebSocket paths socket-upgrades.ts, the table route-table.ts.
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import {
  DismissRequest,
  PROTOCOL_MAJOR,
  PROTOCOL_VERSION,
  ProtocolError,
  ReattachRequest,
  SWITCHBOARD_VERSION,
  TaskHintRequest,
  ApprovalState,
  MAX_CHANNEL,
  parseWith,
  protocolMajor,
  serverCapabilities,
  type BrokerWarning,
} from "../protocol/index.js";
import type { ApprovalDesk } from "./approvals.js";
import type { PolicyDesk } from "./policy-desk.js";
import type { PolicyChanges } from "./policy-changes.js";
import type { AuditLog } from "./audit.js";
import type { Broker } from "./broker.js";
import { REPLAY_PAGE_BYTES, REPLAY_PAGE_MAX, type StreamHub } from "./streams.js";
import type { Limits } from "./limits.js";
import type { Logger } from "./log.js";
import { bearerChecker } from "./auth.js";
import type { AdmissionLimits } from "./admission.js";
import { JsonParts, JsonText } from "./http-answers.js";
import { chunked, stringifySliced } from "./slices.js";
import { Listeners } from "./listeners.js";
import { check, checkPid, intParam, optionalPidHeader, pidHeader } from "./request-input.js";
import { RouteTable, type Route, type RouteHandlers } from "./route-table.js";
import { SocketUpgrades } from "./socket-upgrades.js";

export { MAX_BODY_BYTES, MAX_JSON_DEPTH } from "./request-input.js";

/** /health's `version`. Not plain semver on purpose: the MASONS SDK kills a broker whose semver `version` is below its own. */
export const HEALTH_VERSION = `agent-switchboard/${SWITCHBOARD_VERSION}`;

export interface ServerOptions {
  token: string;
  broker: Broker;
  approvals: ApprovalDesk;
  streams: StreamHub;
  audit: AuditLog;
  log: Logger;
  /** The approval policy (section 11 of docs/protocol.md). */
  policy?: PolicyDesk;
  /** Announces changes of the rules in force; its revision is given with GET /v1/policy. */
  policyChanges?: PolicyChanges;
  /** The storage error while the state folder takes no writes (see journal.ts), else undefined. */
  storageFailure?: () => unknown;
  /** Limits on connections that have not shown the token yet (per listener). */
  admission?: Partial<AdmissionLimits>;
  limits?: Limits;
}

export class BrokerServer {
  /** The loopback TCP listener (MASONS clients, and any client without the socket). */
  readonly http: Server;
  private readonly listeners: Listeners;
  private readonly routes: Route[];
  /** The constant fields of /v1/initialize's answer, as JSON without the closing brace. */
  private readonly initializeHead = JSON.stringify({
    server_version: SWITCHBOARD_VERSION,
    server_protocol_version: PROTOCOL_VERSION,
    server_capabilities: serverCapabilities(),
    network_presence: "online",
  }).slice(0, -1);
  private readonly healthAnswer = new JsonText(
    JSON.stringify({ ok: true, version: HEALTH_VERSION, protocol_version: PROTOCOL_VERSION, capabilities: serverCapabilities(), switchboard_version: SWITCHBOARD_VERSION }),
  );

  constructor(private readonly opts: ServerOptions) {
    const table = new RouteTable(this.handlers());
    this.routes = table.routes;
    this.listeners = new Listeners({
      routes: table,
      upgrades: new SocketUpgrades({ broker: opts.broker, streams: opts.streams, log: opts.log, limits: opts.limits }),
      authorized: bearerChecker(opts.token),
      log: opts.log,
      storageFailure: opts.storageFailure,
      admission: opts.admission,
    });
    this.http = this.listeners.http;
  }

  /** Unauthenticated connections held now, per listener (TCP first). */
  get admissionCounts() {
    return this.listeners.admissionCounts;
  }

  /** Also listens on a Unix socket at `path` in the state folder (see listeners.ts); returns whether it listens. */
  listenSocket(path: string): Promise<boolean> {
    return this.listeners.listenSocket(path);
  }

  listen(port = 0): Promise<number> {
    return this.listeners.listen(port);
  }

  close(): Promise<void> {
    return this.listeners.close();
  }

  /** What the user should hear about (in /v1/initialize, so `switchboard status` and every window see it). */
  private warnings(): BrokerWarning[] {
    const audit = this.opts.audit.chainWarning;
    return audit ? [{ code: "audit_chain_broken", message: audit }] : [];
  }

  /** The handler of every route in ROUTES (src/protocol/routes.ts); the body arrives checked against the route's schema. */
  private handlers(): RouteHandlers {
    const b = this.opts.broker;
    const approvals = this.opts.approvals;
    const streams = this.opts.streams;
    const policyDesk = () => {
      if (!this.opts.policy) throw new ProtocolError("not_found", "This broker has no approval policy.");
      return this.opts.policy;
    };
    return {
      // The same answer every time: serialized once.
      health: () => this.healthAnswer,
      initialize: ({ body }) => {
        const major = protocolMajor(body.client_protocol_version);
        if (major !== PROTOCOL_MAJOR)
          throw new ProtocolError(
            "protocol_version_mismatch",
            `This broker speaks protocol ${PROTOCOL_VERSION}; the client asked for ${body.client_protocol_version}. Update the client or the broker so that their major versions match.`,
            { server_protocol_version: PROTOCOL_VERSION },
          );
        // The constant part is serialized once; only the session id, feed epoch and warnings vary.
        return new JsonText(`${this.initializeHead},"session_id":"${randomUUID()}","feed_epoch":${JSON.stringify(b.feed.epoch)},"warnings":${JSON.stringify(this.warnings())}}`);
      },
      register: ({ body }) => b.register(body),
      heartbeat: ({ params }) => {
        b.heartbeat(params[0]!);
        return { ok: true };
      },
      taskHint: async ({ params, body }) => {
        const pid = checkPid(body);
        const parsed = parseWith(TaskHintRequest, body);
        if (!parsed.ok) throw new ProtocolError("task_hint_invalid", `task_hint must be a string: ${parsed.message}`);
        await b.taskHint(params[0]!, pid, parsed.value.task_hint);
        return { ok: true };
      },
      reattach: ({ params, body }) => {
        const pid = checkPid(body);
        check(ReattachRequest, body, "plugin_pid_invalid");
        return b.reattach(params[0]!, pid);
      },
      unregister: async ({ params, req }) => {
        await b.unregister(params[0]!, optionalPidHeader(req));
        return { ok: true };
      },
      endpoints: () => ({ endpoints: b.listEndpoints() }),
      send: ({ body }) => b.send(body),
      ingress: ({ body }) => b.ingress(body),
      undispatched: ({ req }) => {
        pidHeader(req);
        return { items: b.listUndispatched() };
      },
      dismiss: async ({ params, body, url }) => {
        const req = check(DismissRequest, body, "bad_request");
        await b.dismiss(params[0]!, req.reason ?? url.searchParams.get("reason") ?? undefined);
        return { ok: true };
      },
      dispatch: ({ body }) => b.dispatch(body.undispatched_id, body.target_endpoint_id),

      requestApproval: ({ body }) => approvals.request(body),
      approvals: ({ url }) => {
        const state = url.searchParams.get("state");
        if (state !== null && !parseWith(ApprovalState, state).ok) throw new ProtocolError("bad_request", "state must be one of pending, approved, rejected, expired, cancelled.");
        // Every one asked for, as previews: written a slice at a time, however many are pending.
        return new JsonParts(chunked(stringifySliced({ approvals: approvals.list((state ?? undefined) as ApprovalState | undefined) })));
      },
      approvalHistory: ({ url }) => ({ approvals: approvals.history(intParam(url, "limit", 100, 1, 500)) }),
      approval: ({ params, url }) => approvals.wait(params[0]!, intParam(url, "wait_ms", 0, 0, 60_000)),
      decide: ({ params, body }) => approvals.decide(params[0]!, body),
      withdrawApproval: ({ params, req }) => approvals.withdraw(params[0]!, optionalPidHeader(req)),
      audit: async ({ url }) => {
        const page = await this.opts.audit.readPage(intParam(url, "from", 0, 0, Number.MAX_SAFE_INTEGER), intParam(url, "limit", 1000, 1, 5000));
        if (!page) throw new ProtocolError("bad_request", "from must be 0 or the next of an earlier page of the audit log.");
        return { ...page, head: this.opts.audit.headHash, ...(this.opts.audit.chainBreak ? { broken: this.opts.audit.chainBreak } : {}) };
      },

      // the approval policy; saving a rule (or accepting a workspace file, or turning on the read-only
      // set) decides the pending requests it now allows or denies, at once
      policy: ({ url }) => ({ ...policyDesk().view(url.searchParams.getAll("root")), ...(this.opts.policyChanges ? { revision: this.opts.policyChanges.revision } : {}) }),
      addRule: async ({ body }) => ({ rule: await policyDesk().add(body), decided: await approvals.applyPolicy() }),
      removeRule: async ({ params, url }) => {
        const q = url.searchParams;
        return { removed: await policyDesk().remove(params[0]!, { scope: q.get("scope"), endpoint_id: q.get("endpoint_id"), root: q.get("root") }) };
      },
      checkPolicy: ({ body }) => policyDesk().check(body),
      previewRule: ({ body }) => policyDesk().preview(body, approvals.history(100), approvals.pending()),
      proposeRule: async ({ params }) => {
        const rule = policyDesk().propose(approvals.get(params[0]!));
        return { rule, preview: await policyDesk().preview({ rule }, approvals.history(100), approvals.pending()) };
      },
      acceptWorkspaceRules: async ({ body }) => ({ workspace: await policyDesk().accept(body.root, body.sha256), decided: await approvals.applyPolicy() }),
      builtinRules: async ({ body }) => ({ builtin: await policyDesk().setBuiltin(body), decided: await approvals.applyPolicy() }),

      startStream: ({ body }) => streams.start(body),
      streams: () => ({ streams: streams.list() }),
      replayStream: ({ params, url }) => {
        const channel = url.searchParams.has("channel") ? intParam(url, "channel", 1, 1, MAX_CHANNEL) : undefined;
        return streams.replay(params[0]!, channel, intParam(url, "from_seq", 1, 1, Number.MAX_SAFE_INTEGER), intParam(url, "max_bytes", REPLAY_PAGE_BYTES, 1, REPLAY_PAGE_MAX));
      },
      appendChunks: ({ params, body, req }) => streams.append(params[0]!, body.chunks, optionalPidHeader(req)),
      completeStream: ({ params, body, req }) => streams.complete(params[0]!, body, optionalPidHeader(req)),
      abortStream: ({ params, body, req }) => streams.abort(params[0]!, body, optionalPidHeader(req)),
      cancelStream: ({ params, body }) => streams.cancel(params[0]!, body.reason),
    };
  }
}
