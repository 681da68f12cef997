// The explanation pages under /Error/: translate them and set the title.
import { startPage } from './page.js';

startPage(document.querySelector('main').dataset.pageTitle || 'swarmcore');
