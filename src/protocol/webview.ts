// The sidebar webview's contract with the extension host. The host holds the truth and sends the full
// state; the webview renders it and sends back user intents. Both directions are checked with these
// schemas (the webview is a trust boundary: it renders agent-supplied text).
import * as v from "valibot";
import { Approval } from "./approvals.js";
import { PolicyView } from "./policy.js";
import { EndpointView, Metadata, UndispatchedItem } from "./schemas.js";
import { StreamView } from "./streams.js";

export const ConnectionPhase = v.picklist(["connecting", "connected", "reconnecting", "disconnected"]);
export type ConnectionPhase = v.InferOutput<typeof ConnectionPhase>;

/** A message addressed to this VS Code window's own endpoint. */
export const WindowMessage = v.object({
  id: v.string(),
  from: v.string(),
  content: v.string(),
  content_type: v.string(),
  metadata: Metadata,
  received_at: v.string(),
  /** Present when a reply can be routed back (the sender's correlation id). */
  correlation_id: v.nullable(v.string()),
  source_endpoint_id: v.nullable(v.string()),
  replied: v.boolean(),
});
export type WindowMessage = v.InferOutput<typeof WindowMessage>;

export const SidebarState = v.object({
  connection: v.object({
    phase: ConnectionPhase,
    reason: v.nullable(v.string()),
    broker_url: v.nullable(v.string()),
    broker_version: v.nullable(v.string()),
  }),
  /** This window's own endpoint, once registered. */
  self: v.nullable(v.object({ endpoint_id: v.string(), session_name: v.string() })),
  approvals: v.array(Approval),
  inbox: v.array(UndispatchedItem),
  sessions: v.array(EndpointView),
  streams: v.array(StreamView),
  messages: v.array(WindowMessage),
  /** ISO time the state was built, so ages render consistently. */
  now: v.string(),
  /** What the broker says the user should hear about (a broken audit chain), shown as a banner. */
  warnings: v.optional(v.array(v.string())),
  /** The approval rules in force (GET /v1/policy for this window's workspace), once fetched. */
  policy: v.optional(v.nullable(PolicyView)),
});
export type SidebarState = v.InferOutput<typeof SidebarState>;

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(200));
const requestId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));

/** Host -> webview. */
export type HostToWebview =
  | { type: "state"; state: SidebarState }
  /** The outcome of an action the webview asked for: shown as a confirmation or an explanation. */
  | { type: "result"; requestId: string; ok: boolean; message: string }
  /** Move keyboard focus to a section (e.g. from a command or a notification's "Show"). */
  | { type: "focus"; section: "approvals" | "inbox" | "sessions" | "streams" | "messages" | "policy"; id?: string };

/** Webview -> host. */
export const WebviewToHost = v.variant("type", [
  v.object({ type: v.literal("ready") }),
  v.object({ type: v.literal("approve"), requestId, approvalId: id }),
  v.object({ type: v.literal("reject"), requestId, approvalId: id, reason: v.optional(v.pipe(v.string(), v.maxLength(2000))) }),
  v.object({ type: v.literal("showDiff"), approvalId: id }),
  /** "Allow similar…": the host proposes a rule from this request and asks for its pattern and scope. */
  v.object({ type: v.literal("allowSimilar"), approvalId: id }),
  /** "Allow for this session…" (the agent offered "always"): a session rule, shown before saving, then approve. */
  v.object({ type: v.literal("allowForSession"), requestId, approvalId: id }),
  /** Without a target, the host asks with a Quick Pick of open sessions. */
  v.object({ type: v.literal("route"), requestId, itemId: id, endpointId: v.optional(id) }),
  v.object({ type: v.literal("dismiss"), requestId, itemId: id }),
  v.object({ type: v.literal("sendTo"), requestId, endpointId: id }),
  v.object({ type: v.literal("openStream"), streamId: id }),
  v.object({ type: v.literal("stopStream"), requestId, streamId: id }),
  v.object({ type: v.literal("reply"), requestId, messageId: id }),
  /** Policy section: remove the rule with this key (protocol/policy.ts ruleKey), open its file, open the user rules, accept a workspace's rules. */
  v.object({ type: v.literal("removeRule"), requestId, key: v.pipe(v.string(), v.minLength(1), v.maxLength(10_000)) }),
  v.object({ type: v.literal("openRuleFile"), key: v.pipe(v.string(), v.minLength(1), v.maxLength(10_000)) }),
  v.object({ type: v.literal("openUserRules") }),
  v.object({ type: v.literal("acceptWorkspaceRules"), root: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)) }),
  v.object({ type: v.literal("command"), command: v.picklist(["reconnect", "showLogs", "newPiSession", "restartBroker"]) }),
  /**
   * The page painted a state for the first time since it loaded: the last known one it kept
   * (`live: false`) or one the host sent while connected (`live: true`). `at` is the page's
   * Date.now() after that frame; the host logs the time since activation (and the time-to-usable
   * bench reads it).
   */
  v.object({
    type: v.literal("painted"),
    live: v.boolean(),
    at: v.pipe(v.number(), v.finite()),
    /** Date.now() when the page's script began and when its load event fired (if it has). */
    script: v.optional(v.pipe(v.number(), v.finite())),
    loaded: v.optional(v.pipe(v.number(), v.finite())),
  }),
]);
export type WebviewToHost = v.InferOutput<typeof WebviewToHost>;
