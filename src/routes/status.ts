// Generation status and interrupts (reference/02 §1.7, §1.13, §2.6, §2.7).
import { defineRoute } from '../api/route.js';
import type { Core } from '../core.js';
import type { Session } from '../accounts/session.js';

const GROUP = 'BasicAPIFeatures';

/** The object GetCurrentStatus answers with; generation sockets may push the same shape. */
export function currentStatus(core: Core, session: Session): Record<string, unknown> {
  return {
    status: session.work.counts,
    backend_status: core.backends.status(),
    supported_features: core.backends.supportedFeatures(),
  };
}

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
    return currentStatus(ctx.core, ctx.session);
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
    const { core, session } = ctx;
    // One event for every target: it interrupts sessions here synchronously and on the other instances too
    // (a session may have work running on any instance that loaded it).
    // Events carry session keys, never the ids clients hold.
    const keys = other_sessions ? [session.key, ...(await core.sessions.idsOfUser(session.userId)).filter((key) => key !== session.key)] : [session.key];
    await core.events.publish({ type: 'sessions.interrupt', sessionIds: keys });
    ctx.log.debug({ userId: session.userId, sessions: keys.length }, other_sessions ? 'user stopped the work of all their sessions' : 'user stopped the work of one session');
    return { success: true };
  },
});

export const STATUS_ROUTES = [getCurrentStatus, interruptAll];
