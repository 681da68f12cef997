// The permission registry (docs/COMPATIBILITY.md#roles-and-permissions): every permission with its display name,
// group, default level and safety level, in registration order. Extensions add theirs through `register`.

export const PermissionLevel = { NOBODY: 0, ADMINS: 1, POWERUSERS: 2, USER: 3, GUEST: 4 } as const;
export type PermissionLevelName = keyof typeof PermissionLevel;
export const SafetyLevel = { POWERFUL: 0, RISKY: 1, UNTESTED: 2, SAFE: 3 } as const;
export type SafetyLevelName = keyof typeof SafetyLevel;

export interface PermissionGroup {
  name: string;
  description: string;
}

export interface PermissionInfo {
  id: string;
  name: string;
  description: string;
  default: PermissionLevelName;
  group: PermissionGroup;
  safety: SafetyLevelName;
  altSafetyText: string | null;
}

export const PERMISSION_GROUPS = {
  special: { name: 'Special', description: 'Permissions that stand apart: total control and one-off powers.' },
  admin: { name: 'Admin', description: 'Server administration; give only to people you trust with the server.' },
  backendsAdmin: { name: 'Backends Admin', description: 'Viewing and managing the generation backends.' },
  control: { name: 'Control', description: 'Server-side controls such as model management and maintenance.' },
  parameters: { name: 'Parameters', description: 'Which generation parameters a user may set.' },
  user: { name: 'User', description: 'Everyday features of a normal account.' },
  comfyui: { name: 'ComfyUI', description: 'Direct access to the ComfyUI backend.' },
  extensionTabs: { name: 'Extension Tabs', description: 'Tabs added by extensions.' },
} satisfies Record<string, PermissionGroup>;

type G = keyof typeof PERMISSION_GROUPS;
type Row = [id: string, name: string, group: G, level: PermissionLevelName, safety: SafetyLevelName, description: string];

// prettier-ignore
const BUILT_IN: Row[] = [
  ['*', 'Full Control', 'special', 'NOBODY', 'POWERFUL', 'Grants every permission, present and future. Meant for the server owner only.'],
  ['local_image_folder', 'Local Image Folder', 'special', 'NOBODY', 'POWERFUL', 'Open the server machine\'s local image folder.'],
  ['install', 'Install', 'admin', 'NOBODY', 'POWERFUL', 'Run the first-time installer.'],
  ['server_debug_message', 'Server Debug Message', 'admin', 'NOBODY', 'SAFE', 'Write debug messages into the server log.'],
  ['automated_control', 'Automated Control', 'special', 'NOBODY', 'POWERFUL', 'Remote management calls from automation tools.'],
  ['configure_roles', 'Configure Roles', 'admin', 'NOBODY', 'POWERFUL', 'Create and edit roles; in effect total control.'],
  ['manage_users', 'Manage Users', 'admin', 'NOBODY', 'POWERFUL', 'Create, edit and delete accounts; in effect total control.'],
  ['interrupt_others', 'Interrupt Others', 'admin', 'ADMINS', 'POWERFUL', 'Interrupt other users\' generations.'],
  ['shutdown', 'Shutdown Server', 'admin', 'NOBODY', 'SAFE', 'Shut the server down.'],
  ['restart', 'Restart Server', 'admin', 'ADMINS', 'SAFE', 'Restart the server.'],
  ['read_server_settings', 'Read Server Settings', 'admin', 'ADMINS', 'SAFE', 'Read the server settings.'],
  ['edit_server_settings', 'Edit Server Settings', 'admin', 'ADMINS', 'POWERFUL', 'Change the server settings; in effect total control.'],
  ['view_logs', 'View Server Logs', 'admin', 'ADMINS', 'SAFE', 'Read the server logs.'],
  // swarmcore's own (docs/COMPATIBILITY.md#d30): reading the audit log.
  ['view_audit_log', 'View Audit Log', 'admin', 'ADMINS', 'SAFE', 'Read the audit log of administrative actions and logins.'],
  ['read_server_info_panels', 'Read Server Info Panels', 'admin', 'ADMINS', 'SAFE', 'See the server information panels.'],
  ['admin_debug', 'Admin Debug APIs', 'admin', 'ADMINS', 'POWERFUL', 'Call the administrative debugging routes.'],
  ['manage_extensions', 'Manage Extensions', 'admin', 'ADMINS', 'POWERFUL', 'Install and remove extensions.'],
  ['view_others_outputs', 'View Others Outputs', 'admin', 'ADMINS', 'SAFE', 'See images other users generated.'],
  ['view_server_tab', 'View Server Tab', 'admin', 'POWERUSERS', 'SAFE', 'Open the Server tab.'],
  ['view_backends_list', 'View Backends List', 'backendsAdmin', 'POWERUSERS', 'SAFE', 'See the list of backends.'],
  ['add_remove_backends', 'Add/Remove Backends', 'backendsAdmin', 'ADMINS', 'POWERFUL', 'Add and remove backends.'],
  ['edit_backends', 'Edit Backends', 'backendsAdmin', 'ADMINS', 'POWERFUL', 'Change backend configuration.'],
  ['restart_backends', 'Restart Backends', 'backendsAdmin', 'POWERUSERS', 'SAFE', 'Restart backends.'],
  ['toggle_backends', 'Toggle Backends', 'backendsAdmin', 'ADMINS', 'SAFE', 'Enable and disable backends.'],
  ['control_model_refresh', 'Control Model Refresh', 'control', 'POWERUSERS', 'SAFE', 'Rescan the model folders.'],
  ['install_features', 'Install New Features', 'control', 'POWERUSERS', 'RISKY', 'Install optional features.'],
  ['create_tensorrt', 'Create TensorRT Models', 'control', 'POWERUSERS', 'UNTESTED', 'Build TensorRT engines.'],
  ['extra_loras', 'Extract LoRAs', 'control', 'POWERUSERS', 'UNTESTED', 'Extract LoRAs from models.'],
  ['control_mem_clean', 'Control Memory Cleaning', 'control', 'POWERUSERS', 'SAFE', 'Free backend memory.'],
  ['load_models_now', 'Load Models Now', 'control', 'POWERUSERS', 'SAFE', 'Load a model on the backends immediately.'],
  ['edit_wildcards', 'Edit Wildcards', 'control', 'POWERUSERS', 'SAFE', 'Change wildcard files.'],
  ['edit_model_metadata', 'Edit Model Metadata', 'control', 'POWERUSERS', 'UNTESTED', 'Change model metadata.'],
  ['download_models', 'Download Models', 'control', 'POWERUSERS', 'UNTESTED', 'Download models to the server.'],
  ['reset_metadata', 'Reset Metadata', 'control', 'POWERUSERS', 'SAFE', 'Reset cached metadata.'],
  ['pickle2safetensors', 'Pickle2SafeTensors', 'control', 'POWERUSERS', 'RISKY', 'Convert pickle models to safetensors.'],
  ['delete_models', 'Delete Models', 'control', 'POWERUSERS', 'UNTESTED', 'Delete model files.'],
  ['model_params', 'Model Params', 'parameters', 'USER', 'SAFE', 'Choose models; needed for almost any generation.'],
  ['param_backend_type', 'Backend Type Parameter', 'parameters', 'POWERUSERS', 'SAFE', 'Pick the backend type for a generation.'],
  ['param_backend_id', 'Backend ID Parameter', 'parameters', 'POWERUSERS', 'SAFE', 'Pick a specific backend for a generation.'],
  ['param_video', 'Video Params', 'parameters', 'USER', 'SAFE', 'Use video parameters.'],
  ['param_controlnet', 'ControlNet Params', 'parameters', 'USER', 'SAFE', 'Use ControlNet parameters.'],
  ['basic_image_generation', 'Basic Image Generation', 'user', 'USER', 'SAFE', 'Generate images.'],
  ['basic_text_generation', 'Basic Text Generation', 'user', 'USER', 'SAFE', 'Generate text.'],
  ['view_image_history', 'View Image History', 'user', 'USER', 'SAFE', 'Browse your own image history.'],
  ['user_delete_image', 'User Delete Image', 'user', 'USER', 'SAFE', 'Delete your own images.'],
  ['user_star_images', 'User Star Images', 'user', 'USER', 'SAFE', 'Star your own images.'],
  ['fundamental_model_access', 'Fundamental Model Access', 'user', 'GUEST', 'SAFE', 'See the model lists.'],
  ['use_tokenizer', 'Use Tokenizer', 'user', 'GUEST', 'SAFE', 'Use the prompt tokenizer.'],
  ['fundamental_generate_tab_access', 'Fundamental Generate Tab Access', 'user', 'GUEST', 'SAFE', 'Open the main interface at all.'],
  ['read_user_settings', 'Read User Settings', 'user', 'GUEST', 'SAFE', 'Read your own settings.'],
  ['edit_user_settings', 'Edit User Settings', 'user', 'USER', 'SAFE', 'Change your own settings, password, keys and tokens.'],
  ['edit_params', 'Edit Params', 'user', 'USER', 'SAFE', 'Customise how parameters are shown.'],
  ['manage_presets', 'Manage Presets', 'user', 'USER', 'SAFE', 'Create, change and delete your presets.'],
  ['utilities_tab', 'Utilities Tab', 'user', 'USER', 'SAFE', 'Open the Utilities tab.'],
  ['simple_tab', 'Simple Tab', 'user', 'USER', 'SAFE', 'Open the Simple tab.'],
  ['user_tab', 'User Tab', 'user', 'USER', 'SAFE', 'Open the User tab.'],
  ['fundamental', 'Fundamental', 'user', 'GUEST', 'SAFE', 'The most basic functions, such as logging out.'],
  ['comfy_direct_calls', 'ComfyUI Direct Calls', 'comfyui', 'POWERUSERS', 'UNTESTED', 'Call ComfyUI directly.'],
  ['comfy_backend_generate', 'ComfyUI Backend Generate', 'comfyui', 'POWERUSERS', 'UNTESTED', 'Generate through the ComfyUI backend tab.'],
  ['comfy_dynamic_custom_workflows', 'ComfyUI Dynamic Custom Workflows', 'comfyui', 'POWERUSERS', 'UNTESTED', 'Run custom workflows sent with the request.'],
  ['comfy_stored_custom_workflows', 'ComfyUI Stored Custom Workflows', 'comfyui', 'POWERUSERS', 'UNTESTED', 'Run workflows stored on the server.'],
  ['comfy_read_workflows', 'ComfyUI Read Workflows', 'comfyui', 'POWERUSERS', 'UNTESTED', 'Read stored workflows.'],
  ['comfy_edit_workflows', 'ComfyUI Edit Workflows', 'comfyui', 'POWERUSERS', 'UNTESTED', 'Change stored workflows.'],
  ['gridgen_generate_grids', '[Grid Generator] Generate Grids', 'user', 'USER', 'UNTESTED', 'Generate image grids.'],
  ['gridgen_read_grids', '[Grid Generator] Read Grids', 'user', 'USER', 'UNTESTED', 'Read saved grid configurations.'],
  ['gridgen_save_grids', '[Grid Generator] Save Grids', 'user', 'USER', 'UNTESTED', 'Save grid configurations.'],
  ['imagebatcher_use_image_batcher', '[Image Batch Tool] Use Image Batcher', 'user', 'ADMINS', 'UNTESTED', 'Run the image batch tool.'],
];

export interface NewPermission {
  id: string;
  name: string;
  description: string;
  default: PermissionLevelName;
  group: PermissionGroup;
  safety?: SafetyLevelName;
  altSafetyText?: string | null;
}

export class PermissionRegistry {
  private readonly byId = new Map<string, PermissionInfo>();
  private orderCache: string[] | null = null;

  constructor() {
    for (const [id, name, group, level, safety, description] of BUILT_IN) {
      this.register({ id, name, description, default: level, group: PERMISSION_GROUPS[group], safety });
    }
  }

  register(p: NewPermission): PermissionInfo {
    if (this.byId.has(p.id)) throw new Error(`Permission '${p.id}' is registered twice`);
    const info: PermissionInfo = { ...p, safety: p.safety ?? 'UNTESTED', altSafetyText: p.altSafetyText ?? null };
    this.byId.set(p.id, info);
    this.orderCache = null;
    return info;
  }

  get(id: string): PermissionInfo | undefined {
    return this.byId.get(id);
  }

  all(): PermissionInfo[] {
    return [...this.byId.values()];
  }

  /** Canonical order (reference §6.5): registration order grouped stably by each group's first appearance. */
  ordered(): string[] {
    if (this.orderCache) return this.orderCache;
    const groups = new Map<string, string[]>();
    for (const p of this.byId.values()) {
      const list = groups.get(p.group.name) ?? [];
      list.push(p.id);
      groups.set(p.group.name, list);
    }
    this.orderCache = [...groups.values()].flat();
    return this.orderCache;
  }

  /** Sorts a set of permission ids: `*` first, then canonical order, then unknown ids alphabetically. */
  sort(ids: Iterable<string>): string[] {
    const set = new Set(ids);
    const known = this.ordered().filter((id) => set.has(id));
    const knownSet = new Set(known);
    const extra = [...set].filter((id) => !knownSet.has(id)).sort();
    return [...known, ...extra];
  }
}
