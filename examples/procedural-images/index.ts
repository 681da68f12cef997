// An extension that generates real images: a backend that renders PNGs procedurally from the prompt and seed,
// and the GenerateText2Image / GenerateText2ImageWS routes that hold generation claims while they work, stop
// on InterruptAll, and stream progress over the socket.
//
//   npx swarmcore serve --extension examples/procedural-images/index.ts   (under tsx), or run ./serve.ts
import { randomInt } from 'node:crypto';
import { CURRENT_STATUS_OUTPUT, defineRoute, defineSocketRoute, softError, type Backend, type BackendStatus, type Extension, type Fields, type GenerationClaim, type RouteOutput, type SessionContext, type SocketChannel } from '../../src/index.js';
import { renderPng } from './render.js';

const ENABLED = 'ProceduralImages.Enabled';
const MAX_CONCURRENT = 'ProceduralImages.MaxConcurrent';

/** Hands out a limited number of render slots, first come first served; a waiter may give up through its signal. */
class Slots {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly capacity: () => number) {}

  /** Resolves with the function that gives the slot back. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.active < this.capacity() && this.queue.length === 0) this.active++;
    else {
      // The releasing holder hands its slot over directly (see wakeNext), so nobody can overtake the queue.
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          this.queue.splice(this.queue.indexOf(wake), 1);
          reject(signal.reason);
        };
        this.queue.push(wake);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.wakeNext();
    };
  }

  private wakeNext(): void {
    while (this.active < this.capacity() && this.queue.length > 0) {
      this.active++;
      this.queue.shift()!();
    }
  }
}

class ProceduralBackend implements Backend {
  readonly id = 'procedural-images';
  readonly textToImage = true;
  readonly features = ['procedural_png'];
  /** Its own life cycle; `status` adds the administrator's switch. */
  state: Exclude<BackendStatus, 'disabled'> = 'loading';
  readonly slots: Slots;

  constructor(private readonly setting: { bool(key: string): boolean; int(key: string): number }) {
    this.slots = new Slots(() => Math.max(1, setting.int(MAX_CONCURRENT)));
  }

  get enabled(): boolean {
    return this.setting.bool(ENABLED);
  }

  get status(): BackendStatus {
    return this.enabled ? this.state : 'disabled';
  }
}

const COMMON_PARAMS = {
  images: { type: 'int', description: 'How many images to make (1 to 16); each uses seed, seed+1, ...' },
  prompt: { type: 'string', description: 'The text that picks the shapes and colours.', default: '' },
  seed: { type: 'long', description: 'Seed of the first image; -1 picks one at random.', default: -1 },
  width: { type: 'int', description: 'Width in pixels (16 to 2048).', default: 512 },
  height: { type: 'int', description: 'Height in pixels (16 to 2048).', default: 512 },
  steps: { type: 'int', description: 'Noise layers (1 to 1000); the time grows with width x height x steps (512x512x250: about 1.3 s on one core).', default: 250 },
} as const;

interface GenerateParams {
  images: number;
  prompt: string;
  seed: number;
  width: number;
  height: number;
  steps: number;
}

function validate(p: GenerateParams): void {
  if (p.images < 1 || p.images > 16) throw softError('images must be between 1 and 16.');
  if (p.width < 16 || p.width > 2048 || p.height < 16 || p.height > 2048) throw softError('width and height must be between 16 and 2048.');
  if (p.steps < 1 || p.steps > 1000) throw softError('steps must be between 1 and 1000.');
}

/**
 * Makes the images one after another, holding a claim: every image waits in `waiting_gens`, sits in
 * `waiting_backends` while no render slot is free and in `live_gens` while it renders. Stops (keeping what is
 * finished) when the claim's signal aborts: InterruptAll, or the socket closing. Over a socket, each image and
 * progress step is sent as it happens.
 */
async function generate(backend: ProceduralBackend, ctx: SessionContext, p: GenerateParams, socket: SocketChannel | null): Promise<string[]> {
  validate(p);
  if (!backend.enabled) throw softError('The procedural image backend is disabled.');
  const seed = p.seed === -1 ? randomInt(2 ** 31 - 1) : p.seed;
  const claim = ctx.work.claim({ gens: p.images });
  const leave = (): void => claim.cancel(new Error('The client closed the socket.'));
  socket?.signal.addEventListener('abort', leave, { once: true });
  // A message that cannot be delivered means the client is gone: stop instead of failing.
  const emit = async (message: RouteOutput): Promise<void> => {
    try {
      await socket?.send(message);
    } catch (err) {
      claim.cancel(err);
    }
  };
  const out: string[] = [];
  try {
    for (let index = 0; index < p.images; index++) {
      const release = await waitForBackend(backend, claim);
      try {
        claim.extend({ liveGens: 1 });
        const req = { prompt: p.prompt, seed: seed + index, width: p.width, height: p.height, steps: p.steps };
        const png = await renderPng(req, claim.signal, async ({ step, steps }) => {
          const current = step / steps;
          await emit({ gen_progress: { batch_index: String(index), overall_percent: (index + current) / p.images, current_percent: current } });
        });
        const image = `data:image/png;base64,${png.toString('base64')}`;
        out.push(image);
        await emit({ image, batch_index: String(index), metadata: JSON.stringify({ sui_image_params: req }) });
      } finally {
        claim.complete({ liveGens: 1, gens: 1 });
        release();
      }
    }
  } catch (err) {
    if (!claim.cancelled) throw err;
    ctx.log.debug({ sessionId: ctx.session.id, finished: out.length }, 'procedural generation stopped early');
  } finally {
    socket?.signal.removeEventListener('abort', leave);
    claim.release();
  }
  return out;
}

async function waitForBackend(backend: ProceduralBackend, claim: GenerationClaim): Promise<() => void> {
  claim.extend({ backendWaits: 1 });
  try {
    return await backend.slots.acquire(claim.signal);
  } finally {
    claim.complete({ backendWaits: 1 });
  }
}

const GEN_PROGRESS_OUTPUT: Fields = {
  gen_progress: {
    type: 'object',
    description: 'How far the images are.',
    fields: {
      batch_index: { type: 'string', description: 'The image being rendered, from "0".' },
      overall_percent: { type: 'double', description: 'Share of all images done, 0 to 1.' },
      current_percent: { type: 'double', description: 'Share of this image done, 0 to 1.' },
    },
  },
};

const IMAGE_OUTPUT: Fields = {
  image: { type: 'string', description: 'A finished image, as a `data:image/png;base64,` URL.' },
  batch_index: { type: 'string', description: 'Which image it is, from "0".' },
  metadata: { type: 'string', description: 'The parameters it was made with, as JSON text.' },
};

const extension: Extension = {
  name: 'procedural-images',
  register(api) {
    api.addServerSetting({ key: ENABLED, type: 'bool', default: true, description: 'Whether the procedural image backend accepts work.' });
    api.addServerSetting({ key: MAX_CONCURRENT, type: 'int', default: 2, description: 'How many procedural images render at the same time; more wait for a slot.' });
    const backend = new ProceduralBackend(api.services.settings);
    api.addBackend(backend);

    api.addRoute(
      defineRoute({
        name: 'GenerateText2Image',
        group: 'ProceduralImages',
        description: 'Renders images from a prompt and a seed and answers when all are done (or the session is interrupted) with PNG data URLs.',
        permission: 'basic_image_generation',
        userUpdate: true,
        params: COMMON_PARAMS,
        output: { images: { type: 'string[]', description: 'The finished images as `data:image/png;base64,` URLs (fewer when interrupted).' } },
        example: '"images": ["data:image/png;base64,..."]',
        async handler(ctx, p) {
          return { images: await generate(backend, ctx, p, null) };
        },
      }),
    );
    api.addRoute(
      defineSocketRoute({
        name: 'GenerateText2ImageWS',
        group: 'ProceduralImages',
        description: 'Like GenerateText2Image over a WebSocket: sends the status, then gen_progress messages and each image as it is finished, then the status again.',
        permission: 'basic_image_generation',
        userUpdate: true,
        params: COMMON_PARAMS,
        output: [CURRENT_STATUS_OUTPUT, GEN_PROGRESS_OUTPUT, IMAGE_OUTPUT],
        example: '{"status": {...}, "backend_status": {...}, "supported_features": [...]}\n{"gen_progress": {"batch_index": "0", "overall_percent": 0.5, "current_percent": 0.5}}\n{"image": "data:image/png;base64,...", "batch_index": "0", "metadata": "..."}\n{"status": {...}, ...}',
        async handler(ctx, p) {
          const socket = ctx.socket;
          validate(p);
          await socket.send(ctx.generation.status(ctx.session));
          await generate(backend, ctx, p, socket);
          return socket.signal.aborted ? null : ctx.generation.status(ctx.session);
        },
      }),
    );

    // Warm-up in the background, as a real backend loads its model: a tiny render proves the pipeline works.
    void renderPng({ prompt: 'warm-up', seed: 0, width: 16, height: 16, steps: 1 }, new AbortController().signal).then(
      () => (backend.state = 'running'),
      (err: unknown) => {
        backend.state = 'errored';
        api.log.error({ err }, 'the procedural image backend failed its warm-up render');
      },
    );
  },
};

export default extension;
