// The approval policy in VS Code: "Allow similar…" on an approval card (a proposed rule, what it would
// have matched, the scope), the rules in force (remove one, open its file) and accepting a workspace's
// rules file exactly as shown. The broker holds the rules (docs/protocol.md section 11); this is UI.
import * as vscode from "vscode";
import { BrokerError } from "../client/index.js";
import { ROUTES, ruleKey, type Approval, type PolicyView, type Rule, type RuleView } from "../protocol/index.js";
import type { BrokerLink } from "./broker-link.js";
import { log } from "./log.js";

type Scope = "session" | "workspace" | "user";

export class PolicyUi implements vscode.Disposable {
  private view: PolicyView | undefined;
  /** A fetch is under way; `again`: something changed since it started, so fetch once more after it. */
  private fetching = false;
  private again = false;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly sb: BrokerLink) {
    // The broker announces every change of the rules in force on the feed (policy_changed, also for
    // hand edits of the rules files), so the section follows at once without polling.
    this.subscriptions.push(
      sb.onDidConnect(() => this.refresh()),
      sb.onPolicyChanged(() => this.refresh()),
    );
  }

  /** Fetches the rules in force (for this window's workspace too) for the sidebar's Policy section. */
  refresh(): void {
    // One fetch at a time, so a slow answer never replaces a newer one; a burst of changes is one more fetch.
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    this.again = false;
    void (async () => {
      const api = await this.sb.api("policy_v1");
      const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
      this.view = await api.route(ROUTES.policy, { query: roots.length ? { root: roots[0]! } : {} });
      this.sb.setPolicy(this.view);
    })()
      .catch((err: Error) => log().warn(`could not fetch the approval rules: ${err.message}`))
      .finally(() => {
        this.fetching = false;
        if (this.again) this.refresh();
      });
  }

  private byKey(key: string): RuleView {
    const r = this.view?.rules.find((x) => ruleKey(x) === key);
    if (!r) throw new Error("That rule is no longer in force.");
    return r;
  }

  /** The file a rule is defined in, if it has one. */
  private fileOf(r: RuleView): string | undefined {
    return r.scope === "user" ? this.view?.user_file : r.scope === "workspace" ? r.where.replace(/^workspace rules \((.*)\)$/, "$1") : undefined;
  }

  /** The sidebar's Remove: returns the confirmation sentence. */
  async removeByKey(key: string): Promise<string> {
    const r = this.byKey(key);
    await this.remove(r, this.fileOf(r));
    this.refresh();
    return `Removed rule ${r.rule.id} (${r.where}).`;
  }

  private async remove(r: RuleView, file: string | undefined): Promise<void> {
    const api = await this.sb.api("policy_v1");
    const query: Record<string, string> = { scope: r.scope };
    if (r.endpoint_id) query.endpoint_id = r.endpoint_id;
    if (r.scope === "workspace" && file) query.root = file.replace(/[\\/]\.switchboard[\\/]policy\.json$/, "");
    await explain(api.route(ROUTES.removeRule, { params: [r.rule.id], query }));
  }

  async openFileByKey(key: string): Promise<void> {
    const file = this.fileOf(this.byKey(key));
    if (!file) throw new Error("This rule is not kept in a file.");
    await vscode.window.showTextDocument(vscode.Uri.file(file));
  }

  /** Opens the user rules file (created with no rules when there is none yet). */
  async openUserRules(): Promise<void> {
    const file = this.view?.user_file;
    if (!file) throw new Error("The approval rules are not known yet: not connected to the broker.");
    const uri = vscode.Uri.file(file);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode('{\n  "rules": []\n}\n'));
    }
    await vscode.window.showTextDocument(uri);
  }

  /** The sidebar's "Review and accept…" for a workspace's rules file. */
  async acceptByRoot(root: string): Promise<void> {
    const w = this.view?.workspaces.find((x) => x.root === root);
    if (!w?.sha256) throw new Error("That workspace has no rules file waiting to be accepted.");
    await this.acceptWorkspace(w.root, w.file, w.sha256);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }

  /** "Allow similar…": returns the confirmation sentence, or undefined if the person cancelled. */
  async allowSimilar(approvalId: string): Promise<string | undefined> {
    const api = await this.sb.api("policy_v1");
    const a = (this.sb.state().approvals as Approval[]).find((x) => x.approval_id === approvalId);
    const proposal = await explain(api.route(ROUTES.proposeRule, { params: [approvalId] }));
    const isEdit = proposal.rule.edit !== undefined;
    const pattern = await vscode.window.showInputBox({
      title: `Allow similar: ${isEdit ? "files (glob relative to the workspace)" : "commands (words; a last * takes any arguments, * inside a word matches within it)"}`,
      value: isEdit ? proposal.rule.edit : proposal.rule.command,
      prompt: a ? `From: ${a.command ?? a.summary}` : undefined,
      validateInput: (v) => (v.trim() ? undefined : "A rule needs a pattern."),
    });
    if (pattern === undefined) return undefined;
    const rule: Rule = { id: slug(`allow-${pattern}`), decision: "allow", ...(isEdit ? { edit: pattern.trim() } : { command: pattern.trim() }) };
    const preview = await explain(api.route(ROUTES.previewRule, { body: { rule } }));
    const matched = `Would decide ${preview.pending.length} pending request${preview.pending.length === 1 ? "" : "s"} now; would have matched ${preview.decided.length} of the recent ones.`;
    const examples = [...preview.pending, ...preview.decided]
      .slice(0, 4)
      .map((x) => x.summary)
      .join(" · ");
    const endpoint = a ? this.sb.state().sessions.find((s) => s.endpoint_id === a.endpoint_id) : undefined;
    const root =
      endpoint && typeof endpoint.workspace === "object" && endpoint.workspace ? endpoint.workspace.root : typeof endpoint?.workspace === "string" ? endpoint.workspace : undefined;
    const scopes: (vscode.QuickPickItem & { scope: Scope })[] = [
      { scope: "session", label: "This session", description: a?.session, detail: `${matched} Ends with the session.` },
      ...(root ? [{ scope: "workspace" as const, label: "This workspace", description: root, detail: `${matched} Saved in .switchboard/policy.json.` }] : []),
      { scope: "user", label: "All my sessions", description: "user rules", detail: matched },
    ];
    const picked = await vscode.window.showQuickPick(scopes, {
      title: `Allow \`${pattern.trim()}\` for…`,
      placeHolder: examples ? `Matches: ${examples}` : "It matches no recent request",
      matchOnDetail: true,
    });
    if (!picked) return undefined;
    const saved = await explain(
      api.route(ROUTES.addRule, {
        body: { scope: picked.scope, rule, ...(a && picked.scope !== "user" ? { endpoint_id: a.endpoint_id } : {}), ...(picked.scope === "workspace" && root ? { root } : {}) },
      }),
    );
    log().info(`saved rule ${rule.id} (${saved.rule.where}); it decided ${saved.decided.length} pending request(s)`);
    this.refresh();
    return `Saved rule ${rule.id} (${saved.rule.where}); it decided ${saved.decided.length} pending request${saved.decided.length === 1 ? "" : "s"}.`;
  }

  /**
   * "Allow for this session…" on a request whose agent offered "always": the generalised rule (our own
   * generaliser, the same as Allow similar's) shown before saving, kept as a session rule in the
   * broker, which decides this request and the next matching ones. The agent is answered "once".
   */
  async allowForSession(approvalId: string): Promise<string | undefined> {
    const api = await this.sb.api("policy_v1");
    const a = (this.sb.state().approvals as Approval[]).find((x) => x.approval_id === approvalId);
    if (!a) throw new Error("This request is no longer waiting.");
    const proposal = await explain(api.route(ROUTES.proposeRule, { params: [approvalId] }));
    const pattern = proposal.rule.edit !== undefined ? `edit ${proposal.rule.edit}` : (proposal.rule.command ?? "");
    const preview = await explain(api.route(ROUTES.previewRule, { body: { rule: proposal.rule, endpoint_id: a.endpoint_id } }));
    const others = preview.pending.filter((p) => p.approval_id !== approvalId).length;
    const choice = await vscode.window.showInformationMessage(
      `Allow \`${pattern}\` for the rest of session ${a.session}?`,
      {
        modal: true,
        detail: `Switchboard keeps this as a session rule (it ends with the session); the agent is answered "allow once" each time, so every request still goes through your rules.${others ? ` It also decides ${others} other waiting request${others === 1 ? "" : "s"} now.` : ""}`,
      },
      "Allow for This Session",
    );
    if (choice !== "Allow for This Session") return undefined;
    const saved = await explain(api.route(ROUTES.addRule, { body: { scope: "session", rule: proposal.rule, endpoint_id: a.endpoint_id } }));
    this.refresh();
    // The rule decides the request itself; if it does not match it (a guard asks), approve it as asked.
    const now = await api.approval(approvalId);
    if (now.state === "pending") await explain(api.decide(approvalId, { decision: "approve", decided_by: `${this.sb.sessionName} (allow for this session)` }));
    log().info(`saved session rule ${proposal.rule.id} (${saved.rule.where}); it decided ${saved.decided.length} pending request(s)`);
    return `Allowed \`${pattern}\` for this session (rule ${proposal.rule.id}).`;
  }

  /** The rules in force: pick one to remove it or open its file; accept a workspace file waiting for it. */
  async showRules(): Promise<void> {
    const api = await this.sb.api("policy_v1");
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const view = await explain(api.route(ROUTES.policy, { query: roots.length ? { root: roots[0]! } : {} }));
    type Item = vscode.QuickPickItem & { rule?: RuleView; accept?: (typeof view.workspaces)[number]; file?: string };
    const remove = { iconPath: new vscode.ThemeIcon("trash"), tooltip: "Remove this rule" };
    const open = { iconPath: new vscode.ThemeIcon("go-to-file"), tooltip: "Open its file" };
    const items: Item[] = [];
    for (const w of view.workspaces)
      if (!w.accepted && w.sha256)
        items.push({ label: "$(shield) Accept workspace rules…", description: w.file, detail: "Its allow rules are ignored until you accept this exact file.", accept: w });
    for (const r of view.rules) {
      if (r.scope === "builtin" && !r.active) continue;
      const pattern = r.rule.command !== undefined ? r.rule.command : `edit ${r.rule.edit}`;
      items.push({
        label: `${r.rule.decision === "allow" ? "$(check)" : r.rule.decision === "deny" ? "$(circle-slash)" : "$(question)"} ${pattern}`,
        description: `${r.rule.id} · ${r.scope}${r.active ? "" : " · ignored (not accepted)"}`,
        detail: r.where,
        rule: r,
        file: r.scope === "user" ? view.user_file : r.scope === "workspace" ? r.where.replace(/^workspace rules \((.*)\)$/, "$1") : undefined,
        buttons: r.scope === "builtin" ? [] : r.scope === "session" ? [remove] : [remove, open],
      });
    }
    const qp = vscode.window.createQuickPick<Item>();
    qp.title = "Approval rules in force (deny > ask > allow)";
    qp.placeholder = `User rules: ${view.user_file}`;
    qp.items = items;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.onDidTriggerItemButton(async (e) => {
      const r = e.item.rule;
      if (!r) return;
      if (e.button === open && e.item.file) {
        qp.hide();
        await vscode.window.showTextDocument(vscode.Uri.file(e.item.file));
        return;
      }
      try {
        await this.remove(r, e.item.file);
        this.refresh();
        qp.items = qp.items.filter((i) => i !== e.item);
        vscode.window.setStatusBarMessage(`Removed rule ${r.rule.id}.`, 4000);
      } catch (err) {
        void vscode.window.showErrorMessage((err as Error).message);
      }
    });
    qp.onDidAccept(async () => {
      const item = qp.selectedItems[0];
      qp.hide();
      if (item?.accept) await this.acceptWorkspace(item.accept.root, item.accept.file, item.accept.sha256!);
      else if (item?.file) await vscode.window.showTextDocument(vscode.Uri.file(item.file));
    });
    qp.onDidHide(() => qp.dispose());
    qp.show();
  }

  /** Shows the file, then asks; accepts exactly the bytes shown (the broker refuses a changed file). */
  async acceptWorkspace(root: string, file: string, sha256: string): Promise<void> {
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
    const choice = await vscode.window.showWarningMessage(
      `Accept the approval rules of ${root}? Their allow rules will approve requests without asking you. Accept only rules you have read: a repository you cloned wrote this file.`,
      { modal: true, detail: `SHA-256 ${sha256}` },
      "Accept These Rules",
    );
    if (choice !== "Accept These Rules") return;
    const api = await this.sb.api("policy_v1");
    const res = await explain(api.route(ROUTES.acceptWorkspaceRules, { body: { root, sha256 } }));
    vscode.window.setStatusBarMessage(`Accepted ${file}; it decided ${res.decided.length} pending request(s).`, 6000);
    this.refresh();
  }
}

function slug(text: string): string {
  return (
    text
      .replace(/\*+/g, "any")
      .replace(/[^A-Za-z0-9_.:@/+-]+/g, "-")
      .replace(/-+/g, "-")
      .replace(/^-|-$/g, "")
      .slice(0, 100) || "rule"
  );
}

async function explain<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof BrokerError) throw new Error(err.message);
    throw err;
  }
}
