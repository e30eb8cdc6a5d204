// Diagnostics for the activation figure (bench/extension.ts): with SWITCHBOARD_ACTIVATION_PROFILE set
// to a file path, the extension host's CPU is profiled while this window activates and registers, so
// the bench can tell this extension's own time from other extensions' and from waiting. Profiling
// starts when the bundle is loaded, before activate(): turning the profiler on costs the host tens of
// milliseconds, which must not land inside the span being measured.
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector";

export interface ActivationProfile {
  /** Marks activate()'s start. */
  start(): void;
  /** Marks the end (endpoint registered), stops the profiler and writes the file. */
  stop(): Promise<void>;
}

/** Monotonic microseconds: the clock V8 stamps profile samples with on Linux. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export function startActivationProfile(): ActivationProfile | undefined {
  const file = process.env.SWITCHBOARD_ACTIVATION_PROFILE;
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  const started = post("Profiler.enable")
    .then(() => post("Profiler.setSamplingInterval", { interval: 250 }))
    .then(() => post("Profiler.start"));
  let from = 0;
  return {
    start: () => void (from = nowUs()),
    async stop() {
      const to = nowUs();
      await started;
      const { profile } = await post<{ profile: unknown }>("Profiler.stop");
      session.disconnect();
      await writeFile(file, JSON.stringify({ window_us: [from, to], profile }));
    },
  };
}
