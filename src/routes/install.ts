// The first-run installer (docs/COMPATIBILITY.md): one WebSocket call that checks every choice, downloads the
// chosen models, then records the choices and marks the server installed. Nothing is written until every
// input has been checked, and the server counts as installed only once the whole run has finished.
import path from 'node:path';
import { defineSocketRoute, type RouteOutput, type SocketContext } from '../api/route.js';
import type { Services } from '../services.js';
import { localTimestamp } from '../util/local-time.js';
import { CatalogError, loadCatalog, type CatalogModel } from '../install/catalog.js';
import { download, DownloadError } from '../install/download.js';

const GROUP = 'BasicAPIFeatures';

/** Network choices per `installed_for`; the others the reference lists are not offered yet. */
const INSTALL_TYPES: Record<string, { host: string; words: string }> = {
  just_self: { host: 'localhost', words: 'for use on this computer only' },
  just_self_lan: { host: '0.0.0.0', words: 'for use on this computer and the local network' },
};
const BACKENDS = ['comfyui', 'none'];
const PORT = 7801;

/** Wait before resuming a broken transfer (multiplied by the attempt number). */
const RETRY_DELAY_MS = 1000;

/** Thrown when the browser went away: the run stops quietly and nothing is marked installed. */
class Abandoned extends Error {}

interface Choices {
  theme: string;
  installType: { key: string; host: string; words: string };
  backend: string;
  models: CatalogModel[];
  language: string;
  /** Set when the requested language does not exist and English replaces it. */
  languageNote: string | null;
  amd: boolean;
}

/** Checks every input; returns the readable reason for the first bad one. */
async function checkChoices(s: Services, p: { theme: string; installed_for: string; backend: string; models: string; language: string; install_amd: boolean }): Promise<Choices | string> {
  if (!s.themes.get(p.theme)) return `There is no theme '${p.theme}'.`;
  const installType = Object.hasOwn(INSTALL_TYPES, p.installed_for) ? INSTALL_TYPES[p.installed_for] : undefined; // not 'constructor' & co
  if (!installType) return `'${p.installed_for}' is not an install type this server offers (choose just_self or just_self_lan).`;
  if (!BACKENDS.includes(p.backend)) return `'${p.backend}' is not a backend this installer knows (choose comfyui or none).`;
  const models: CatalogModel[] = [];
  if (p.models.trim() !== 'none' && p.models.trim() !== '') {
    let catalog: readonly CatalogModel[];
    try {
      catalog = await loadCatalog(s.settings.string('Install.ModelCatalog'), s.server.dataDir);
    } catch (err) {
      if (err instanceof CatalogError) return `The model list could not be read: ${err.message}.`;
      throw err;
    }
    for (const entry of p.models.split(',')) {
      const model = catalog.find((m) => m.id === entry.trim());
      if (!model) return `There is no model '${entry.trim()}' in the model list.`;
      if (!models.includes(model)) models.push(model);
    }
  }
  const languageKnown = s.languages.offers(p.language);
  return {
    theme: p.theme,
    installType: { key: p.installed_for, ...installType },
    backend: p.backend,
    models,
    language: languageKnown ? p.language : 'en',
    languageNote: languageKnown ? null : `There is no language '${p.language}'; English is used instead.`,
    amd: p.install_amd,
  };
}

/** A chosen model whose download failed: the installation goes on without it, and the last message names it. */
interface MissingModel {
  id: string;
  name: string;
  error: string;
}

/** Runs the installation; returns the chosen models that could not be downloaded. */
async function runInstall(ctx: SocketContext, choices: Choices, say: (m: RouteOutput) => Promise<void>): Promise<MissingModel[]> {
  const { settings } = ctx;
  const signal = ctx.socket.signal;
  const totalSteps = 4 + choices.models.length;
  let step = 1;
  const nextStep = async (): Promise<void> => {
    step++;
    await say({ progress: 0, total: 0, steps: step, total_steps: totalSteps, per_second: 0 });
  };
  await say({ info: 'Installation request received; every choice checks out.' });
  if (choices.languageNote) await say({ info: choices.languageNote });
  await nextStep();

  await say({ info: choices.backend === 'comfyui' ? 'ComfyUI is recorded as the backend; the backend extension sets it up when the server starts.' : 'No backend will be set up.' });
  await nextStep();

  const modelsDir = path.join(ctx.server.dataDir, 'Models');
  const missing: MissingModel[] = [];
  for (const model of choices.models) {
    await say({ info: `Downloading ${model.name} from '${model.url}'...` });
    try {
      const outcome = await download({
        url: model.url,
        target: path.join(modelsDir, ...model.file.split('/')),
        sha256: model.sha256,
        size: model.size,
        signal,
        retryDelayMs: RETRY_DELAY_MS,
        onProgress: (done, total, perSecond) => say({ progress: done, total, steps: step, total_steps: totalSteps, per_second: perSecond }),
      });
      if (outcome.result === 'present') await say({ info: `${model.name} is already here and its checksum matches; skipped.` });
      else if (outcome.resumedFrom > 0) await say({ info: `${model.name} downloaded (continued from byte ${outcome.resumedFrom}) and verified.` });
      else await say({ info: `${model.name} downloaded and verified.` });
    } catch (err) {
      if (signal.aborted) throw new Abandoned();
      if (!(err instanceof DownloadError)) throw err;
      ctx.log.warn({ model: model.id, url: model.url, err: err.message }, 'installer download failed');
      missing.push({ id: model.id, name: model.name, error: err.message });
      await say({ info: `Could not download ${model.name} from '${model.url}': ${err.message}. The installation continues without it; any partial file is kept so a later download can continue.` });
    }
    await nextStep();
  }

  await settings.set('DefaultUser.Theme', choices.theme);
  await say({ info: `Default theme set to '${choices.theme}'.` });
  await settings.set('DefaultUser.Language', choices.language);
  await say({ info: `Default language set to '${choices.language}'.` });
  await settings.set('Network.Host', choices.installType.host);
  await settings.set('Network.Port', PORT);
  await settings.set('Network.PortCanChange', true);
  await say({ info: `Set up ${choices.installType.words} (listening on ${choices.installType.host}, port ${PORT}). Network changes take effect when the server restarts.` });
  await settings.set('Install.Backend', choices.backend);
  await settings.set('Install.AMD', choices.amd);
  // The date part of the server-local `YYYY-MM-DD HH:MM` stamp SetAPIKey records.
  await settings.set('InstallDate', localTimestamp().slice(0, 10));
  await settings.set('InstallVersion', ctx.server.version);
  await settings.set('IsInstalled', true);
  await nextStep();
  await say({ info: 'Installation complete.' });
  return missing;
}

export const installConfirmWS = defineSocketRoute({
  name: 'InstallConfirmWS',
  group: GROUP,
  description:
    'Runs the first-time installer over a WebSocket: checks the choices, downloads the chosen models (verified, resumable), then records theme, language, network mode and backend and marks the server installed. Sends info and progress messages, then success or error.',
  permission: 'install',
  userUpdate: true,
  params: {
    theme: { type: 'string', description: 'The default theme id for every user.' },
    installed_for: { type: 'string', description: "Who the server is for: 'just_self' (this computer) or 'just_self_lan' (also the local network)." },
    backend: { type: 'string', description: "The backend to set up: 'comfyui' or 'none'." },
    models: { type: 'string', description: "Comma-separated model ids from the installer's model list to download, or 'none'." },
    install_amd: { type: 'bool', description: 'True when the graphics card is an AMD one (recorded for the backend extension).' },
    language: { type: 'string', description: 'The default language code for every user (unknown codes fall back to en).' },
    make_shortcut: { type: 'bool', description: 'Accepted for compatibility; swarmcore makes no desktop shortcut.', default: false },
  },
  output: [
    { info: { type: 'string', description: 'A step done or a problem met, to show the user.' } },
    {
      progress: { type: 'long', description: 'Bytes of the current download so far.' },
      total: { type: 'long', description: 'Bytes of the current download (0 between downloads).' },
      steps: { type: 'int', description: 'The step running now, from 1.' },
      total_steps: { type: 'int', description: 'How many steps there are.' },
      per_second: { type: 'long', description: 'Download speed in bytes per second.' },
    },
    {
      success: { type: 'bool', description: 'The last message when the installation finished.', values: [true] },
      missing_models: {
        type: 'array',
        optional: true,
        description: 'Only when some chosen models could not be downloaded: the server is installed without them (docs/COMPATIBILITY.md#d45).',
        items: {
          type: 'object',
          description: 'One model that is missing.',
          fields: {
            id: { type: 'string', description: "The model's id in the model list." },
            name: { type: 'string', description: "The model's name." },
            error: { type: 'string', description: 'Why the download failed.' },
          },
        },
      },
    },
    { error: { type: 'string', description: 'The last message when the installation was refused or failed.' } },
  ],
  example: '{"info": "text"}\n{"progress": 1234, "total": 5678, "steps": 3, "total_steps": 5, "per_second": 100}\n{"success": true}\n// or\n{"error": "text"}',
  async handler(ctx, params) {
    const socket = ctx.socket;
    if (ctx.settings.bool('IsInstalled')) return { error: 'This server is already installed.' };
    const say = async (message: RouteOutput): Promise<void> => {
      if (socket.signal.aborted) throw new Abandoned();
      await socket.send(message).catch(() => {
        throw new Abandoned();
      });
    };
    const fail = async (text: string): Promise<RouteOutput> => {
      await say({ info: `Error: ${text}` });
      return { error: text };
    };
    const lock = await ctx.installer.acquire();
    if (!lock) return fail('Another installation is running on this server right now. Wait for it to finish, then reload the page.');
    try {
      const choices = await checkChoices(ctx, params);
      if (typeof choices === 'string') return await fail(choices);
      const missing = await runInstall(ctx, choices, say);
      return missing.length === 0 ? { success: true } : { success: true, missing_models: missing };
    } catch (err) {
      if (err instanceof Abandoned) {
        ctx.log.warn('the installer page went away before the installation finished; nothing was marked installed');
        return null;
      }
      throw err;
    } finally {
      await lock.release();
    }
  },
});

export const INSTALL_ROUTES = [installConfirmWS];
