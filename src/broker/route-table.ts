// The route table: each route of ROUTES (src/protocol/routes.ts) with its path as a pattern, its body
// check and its handler, and the lookup of a request's method and path in it.
import type { IncomingMessage } from "node:http";
import { ROUTES, type RouteBody, type RouteName, type RouteSpec } from "../protocol/index.js";
import { check, decodePathParam, type RequestTarget } from "./request-input.js";

export interface Ctx<Body = unknown> {
  params: string[];
  url: RequestTarget;
  req: IncomingMessage;
  body: Body;
}
/** A route's handler: its checked body in, its answer (or a ProtocolError) out. */
export type Handler<R extends RouteSpec = RouteSpec> = (ctx: Ctx<RouteBody<R>>) => unknown | Promise<unknown>;
/** One handler for every route name of ROUTES, each typed by its route's request schema. */
export type RouteHandlers = { [K in RouteName]: Handler<(typeof ROUTES)[K]> };

export interface Route {
  method: string;
  pattern: RegExp;
  /** The path itself when it has no parameters. */
  fixedPath?: string;
  auth: boolean;
  handler: Handler;
}

export interface RouteMatch {
  route?: Route;
  params: string[];
  methodMismatch: boolean;
}

export class RouteTable {
  readonly routes: Route[];
  /** The routes whose paths have no parameters, by path (a path has one route per method). */
  private readonly fixedRoutes = new Map<string, Route[]>();

  constructor(handlers: RouteHandlers) {
    const byName = handlers as unknown as Record<RouteName, Handler<RouteSpec>>;
    this.routes = (Object.keys(ROUTES) as RouteName[]).map((name) => {
      const spec: RouteSpec = ROUTES[name];
      const handler = byName[name];
      return {
        method: spec.method,
        pattern: new RegExp(`^${spec.path.replace(/:\w+/g, "([^/]+)")}$`),
        ...(spec.path.includes(":") ? {} : { fixedPath: spec.path }),
        auth: spec.auth,
        handler: spec.request ? (ctx) => handler({ ...ctx, body: check(spec.request!, ctx.body, spec.invalidBody) }) : handler,
      };
    });
    for (const r of this.routes) if (r.fixedPath !== undefined) this.fixedRoutes.set(r.fixedPath, [...(this.fixedRoutes.get(r.fixedPath) ?? []), r]);
  }

  match(method: string, path: string): RouteMatch {
    // Paths without parameters are looked up, not matched one pattern after another.
    const fixed = this.fixedRoutes.get(path);
    if (fixed) {
      const route = fixed.find((r) => r.method === method);
      return route ? { route, params: [], methodMismatch: false } : { params: [], methodMismatch: true };
    }
    let methodMismatch = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      return { route, params: m.slice(1).map(decodePathParam), methodMismatch };
    }
    return { params: [], methodMismatch };
  }
}
