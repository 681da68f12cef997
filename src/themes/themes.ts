// The theme registry (docs/COMPATIBILITY.md#themes): ids in registration order; extensions may add more.

export interface Theme {
  id: string;
  name: string;
  isDark: boolean;
  /** Relative stylesheet paths (no leading `/`). */
  cssPaths: string[];
}

// prettier-ignore
const BUILT_IN: Array<[string, string, boolean, string[]]> = [
  ['modern_dark', 'Modern Dark', true, ['css/themes/modern.css', 'css/themes/modern_dark.css']],
  ['modern_light', 'Modern Light', false, ['css/themes/modern.css', 'css/themes/modern_light.css']],
  ['solarized', 'Solarized Light', false, ['css/themes/modern.css', 'css/themes/solarized.css']],
  ['dark_dreams', 'Dark Dreams (Legacy)', true, ['css/themes/dark_dreams.css']],
  ['gravity_blue', 'Gravity Blue (Legacy)', true, ['css/themes/gravity_blue.css']],
  ['cyber_swarm', 'Cyber Swarm (Legacy)', true, ['css/themes/cyber_swarm.css']],
  ['punked', 'Punked (Legacy)', true, ['css/themes/punked.css']],
  ['eyesear_white', 'Eyesear White (Legacy)', false, ['css/themes/eyesear_white.css']],
  ['swarmpunk', 'Swarm Punk', true, ['css/themes/modern.css', 'css/themes/swarmpunk.css']],
  ['beweish', 'Beweish', true, ['css/themes/modern.css', 'css/themes/beweish.css']],
  ['ctp_mocha', 'Catppuccin Mocha', true, ['css/themes/modern.css', 'css/themes/ctp_mocha.css']],
  ['ctp_macchiato', 'Catppuccin Macchiato', true, ['css/themes/modern.css', 'css/themes/ctp_macchiato.css']],
  ['ctp_frappe', 'Catppuccin Frappé', true, ['css/themes/modern.css', 'css/themes/ctp_frappe.css']],
  ['ctp_latte', 'Catppuccin Latte', false, ['css/themes/modern.css', 'css/themes/ctp_latte.css']],
];

export class ThemeRegistry {
  private readonly byId = new Map<string, Theme>();

  constructor() {
    for (const [id, name, isDark, cssPaths] of BUILT_IN) this.add({ id, name, isDark, cssPaths });
  }

  add(theme: Theme): void {
    if (this.byId.has(theme.id)) throw new Error(`Theme '${theme.id}' is registered twice`);
    this.byId.set(theme.id, theme);
  }

  get(id: string): Theme | undefined {
    return this.byId.get(id);
  }

  all(): Theme[] {
    return [...this.byId.values()];
  }
}
