// The explanation pages under /Error/: translate them and set the title.
import { startPage } from './page.js';

startPage(document.querySelector(/** @type {'section'} */ ('section[data-error]:not([hidden])'))?.dataset.pageTitle || 'swarmcore');
