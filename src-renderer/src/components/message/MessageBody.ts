// A message's text as Vue nodes: Markdown (text/markdown) through the safe reader of
// src-shared/markdown.ts, plain text with its line breaks and bare links. Built with h() from the
// reader's tree, so every piece of text is a text node: nothing the sender wrote is ever HTML.
// Links are http(s) only (the reader drops every other scheme), open outside the app
// (target=_blank, which Electron hands to the system browser: src-main/electron/external-links.ts)
// and carry rel="noopener noreferrer" so the opened page gets no handle on the app or its address.

import { defineComponent, h, type VNode } from 'vue';
import { readMessageText, type Block, type Inline } from '../../../../src-shared/markdown.js';

function inline(nodes: Inline[]): Array<VNode | string> {
  return nodes.map((n): VNode | string => {
    switch (n.type) {
      case 'text':
        return n.text;
      case 'br':
        return h('br');
      case 'code':
        return h('code', n.text);
      case 'em':
        return h('em', inline(n.children));
      case 'strong':
        return h('strong', inline(n.children));
      case 'del':
        return h('del', inline(n.children));
      case 'link':
        return h('a', { href: n.href, target: '_blank', rel: 'noopener noreferrer', title: n.href }, inline(n.children));
    }
  });
}

function block(b: Block): VNode {
  switch (b.type) {
    case 'p':
      return h('p', inline(b.children));
    case 'codeblock':
      return h('pre', h('code', b.text));
    case 'quote':
      return h('blockquote', b.children.map(block));
    case 'ul':
      return h('ul', b.items.map((it) => h('li', inline(it))));
    case 'ol':
      return h('ol', { start: b.start }, b.items.map((it) => h('li', inline(it))));
  }
}

export default defineComponent({
  name: 'MessageBody',
  props: {
    text: { type: String, required: true },
    contentType: { type: String, default: '' },
  },
  setup(props: { text: string; contentType: string }) {
    return () => h('div', { class: 'message-body' }, readMessageText(props.text, props.contentType).map(block));
  },
});
