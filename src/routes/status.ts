// Generation status and interrupts (docs/COMPATIBILITY.md).
import { defineRoute } from '../api/route.js';

const GROUP = 'BasicAPIFeatures';

export const getCurrentStatus = defineRoute({
  name: 'GetCurrentStatus',
  group: GROUP,
  description: "Returns this session's generation counters, the overall state of the server's backends and the features they support.",
  permission: 'fundamental_generate_tab_access',
  userUpdate: false,
  params: {},
  output:
    '"status": {"waiting_gens": 0, "loading_models": 0, "waiting_backends": 0, "live_gens": 0},\n"backend_status": {"status": "running", "class": "", "message": "", "any_loading": false},\n"supported_features": ["feature_id1", "feature_id2"]',
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
  output: '"success": true',
  async handler(ctx, { other_sessions }) {
    const { session } = ctx;
    const count = await ctx.generation.interrupt(session, other_sessions);
    ctx.log.debug({ userId: session.userId, sessionId: session.id, sessions: count }, other_sessions ? 'user stopped the work of all their sessions' : 'user stopped the work of one session');
    return { success: true };
  },
});

export const STATUS_ROUTES = [getCurrentStatus, interruptAll];
