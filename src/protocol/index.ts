export * from "./version.js";
export * from "./capabilities.js";
export * from "./errors.js";
export * from "./schemas.js";
export * from "./frames.js";
export * from "./validate.js";
export * from "./approvals.js";
export * from "./streams.js";
