// The installer call several suites make through different transports (the typed client, nginx): a just-self
// install without models, and every message the server answers it with, in order.

/** InstallConfirmWS input for a just-self install with no backend and no models. */
export const JUST_SELF_INSTALL = { theme: 'ctp_mocha', installed_for: 'just_self', backend: 'none', models: 'none', install_amd: false, language: 'en' } as const;

const step = (steps: number): Record<string, number> => ({ progress: 0, total: 0, steps, total_steps: 4, per_second: 0 });

/** What InstallConfirmWS sends for JUST_SELF_INSTALL on a server not yet installed. */
export const JUST_SELF_INSTALL_MESSAGES: readonly Record<string, unknown>[] = [
  { info: 'Installation request received; every choice checks out.' },
  step(2),
  { info: 'No backend will be set up.' },
  step(3),
  { info: "Default theme set to 'ctp_mocha'." },
  { info: "Default language set to 'en'." },
  { info: 'Set up for use on this computer only (listening on localhost, port 7801). Network changes take effect when the server restarts.' },
  step(4),
  { info: 'Installation complete.' },
  { success: true },
];
