// Server-owner HTML (the login notice, setting descriptions) shown without letting it run anything: the text is
// parsed in an inert document, and only plain formatting tags and http(s)/mailto links are rebuilt in the page.
// Everything else keeps its text and loses its markup; scripts, styles and embedded content are dropped.

const KEEP = new Set(['A', 'B', 'STRONG', 'I', 'EM', 'U', 'BR', 'P', 'SPAN', 'CODE', 'UL', 'OL', 'LI', 'SMALL']);
const DROP = new Set(['SCRIPT', 'STYLE', 'IFRAME', 'OBJECT', 'EMBED', 'TEMPLATE', 'NOSCRIPT', 'SVG', 'MATH', 'TITLE', 'HEAD', 'LINK', 'META']);

function safeHref(href) {
  if (!href) return null;
  try {
    const url = new URL(href, document.baseURI);
    return ['http:', 'https:', 'mailto:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function copyInto(target, source) {
  for (const node of source.childNodes) {
    if (node.nodeType === 3) {
      target.append(node.textContent);
    } else if (node.nodeType === 1) {
      const tag = node.tagName.toUpperCase();
      if (DROP.has(tag)) continue;
      if (!KEEP.has(tag)) {
        copyInto(target, node);
        continue;
      }
      const clean = document.createElement(tag.toLowerCase());
      if (tag === 'A') {
        const href = safeHref(node.getAttribute('href'));
        if (href) {
          clean.href = href;
          clean.target = '_blank';
          clean.rel = 'noopener noreferrer';
        }
      }
      copyInto(clean, node);
      target.append(clean);
    }
  }
}

/** A fragment holding a safe copy of `html`. */
export function safeHtml(html) {
  // Event-handler attributes are cut first only to keep the console quiet: the page's Content-Security-Policy
  // reports each one the parser meets, although nothing from the parse is ever kept or run.
  const text = String(html ?? '').replace(/<[^>]*>/g, (tag) => tag.replace(/\son[a-z]+\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi, ''));
  const parsed = new DOMParser().parseFromString(`<body>${text}</body>`, 'text/html');
  const fragment = document.createDocumentFragment();
  copyInto(fragment, parsed.body);
  return fragment;
}
