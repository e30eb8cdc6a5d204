// Untyped calls for tests that exercise routes directly (errors come back as BrokerError).
import * as v from "valibot";
import type { BrokerApi } from "../../src/client/api.js";

const Any = v.any();
export const post = (api: BrokerApi, path: string, body: unknown = {}, headers: Record<string, string> = {}) => api.call("POST", path, Any, body, headers);
export const get = (api: BrokerApi, path: string) => api.call("GET", path, Any);
export const del = (api: BrokerApi, path: string) => api.call("DELETE", path, Any);
