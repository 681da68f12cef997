// Generation status and interrupts (docs/COMPATIBILITY.md).
import { SUCCESS_OUTPUT, defineRoute } from '../api/route.js';
import type { Field, Fields } from '../api/params.js';

const GROUP = 'BasicAPIFeatures';

const COUNTER = (what: string): Field => ({ type: 'int', description: `How many ${what} (summed over the sessions the answer covers).` });

/** The shape of `currentStatus`, for the docs of every route that answers with it. */
/** The four generation counters, as every status answer carries them. */
export const GENERATION_COUNT_FIELDS: Fields = { waiting_gens: COUNTER('generations waiting or running'), loading_models: COUNTER('model loads waiting'), waiting_backends: COUNTER('generations waiting for a backend'), live_gens: COUNTER('generations running') };

export const CURRENT_STATUS_OUTPUT: Fields = {
  status: { type: 'object', description: "This session's generation counters.", fields: GENERATION_COUNT_FIELDS },
  backend_status: {
    type: 'object',
    description: "The overall state of the server's backends.",
    fields: {
      status: { type: 'string', description: 'The overall state.', values: ['empty', 'all_disabled', 'errored', 'some_loading', 'running', 'loading', 'disabled', 'idle', 'unknown'] },
      class: { type: 'string', description: "The UI's styling class.", values: ['', 'error', 'warn', 'soft'] },
      message: { type: 'string', description: 'Shown to the user (the UI translates it by its English text).' },
      any_loading: { type: 'bool', description: 'True while any backend is loading.' },
    },
  },
  supported_features: { type: 'string[]', description: 'Feature ids the backends (and extensions) support.' },
};

export const getCurrentStatus = defineRoute({
  name: 'GetCurrentStatus',
  group: GROUP,
  description: "Returns this session's generation counters, the overall state of the server's backends and the features they support.",
  permission: 'fundamental_generate_tab_access',
  userUpdate: false,
  params: {},
  output: CURRENT_STATUS_OUTPUT,
  example: '"status": {"waiting_gens": 0, "loading_models": 0, "waiting_backends": 0, "live_gens": 0},\n"backend_status": {"status": "running", "class": "", "message": "", "any_loading": false},\n"supported_features": ["feature_id1", "feature_id2"]',
  handler(ctx) {
    return ctx.generation.status(ctx.session);
  },
});

export const interruptAll = defineRoute({
  name: 'InterruptAll',
  group: GROUP,
  description: "Stops the generations this session has queued or running. With other_sessions, stops those of every session of the same user too. Other users' work is never touched, and work started afterwards is not affected.",
  permission: 'basic_image_generation',
  userUpdate: true,
  params: {
    other_sessions: { type: 'bool', description: "True to also stop the work of the user's other sessions (other tabs, other clients).", default: false },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { other_sessions }) {
    const { session } = ctx;
    const count = await ctx.generation.interrupt(session, other_sessions);
    ctx.log.debug({ userId: session.userId, sessions: count }, other_sessions ? 'user stopped the work of all their sessions' : 'user stopped the work of one session');
    return { success: true };
  },
});

export const STATUS_ROUTES = [getCurrentStatus, interruptAll];
