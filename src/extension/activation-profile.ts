// Diagnostics for the activation figure (bench/extension.ts): with SWITCHBOARD_ACTIVATION_PROFILE set
// to a file path, the extension host's CPU is profiled from activate() until this window's endpoint is
// registered, so the bench can tell this extension's own time from other extensions' and from waiting.
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector";

/** Starts profiling if asked to; the returned function stops and writes the profile. */
export function startActivationProfile(): (() => Promise<void>) | undefined {
  const file = process.env.SWITCHBOARD_ACTIVATION_PROFILE;
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  void post("Profiler.enable")
    .then(() => post("Profiler.setSamplingInterval", { interval: 250 }))
    .then(() => post("Profiler.start"));
  return async () => {
    const { profile } = await post<{ profile: unknown }>("Profiler.stop");
    session.disconnect();
    await writeFile(file, JSON.stringify(profile));
  };
}
