// mimi-content messages whose body is one part of a private media type (connection requests,
// identity link keys): how they are built and found. The core consumes such parts instead of showing
// them; a client that does not know the media type sees a message it cannot render, nothing more.

import { Disposition, textMessage, type MimiContent, type NestedPart, type SinglePart } from './content.js';

/** A message whose body is the single part `content` of media type `contentType`. */
export function singlePartContent(o: { senderUri: string; roomUri: string; contentType: string; content: Uint8Array; salt?: Uint8Array }): MimiContent {
  // textMessage supplies the envelope (salt, sender and room URI extensions); only the body differs.
  const envelope = textMessage({ senderUri: o.senderUri, roomUri: o.roomUri, salt: o.salt, text: '' });
  return { ...envelope, body: { disposition: Disposition.render, language: '', cardinality: 1, contentType: o.contentType, content: o.content } };
}

/** Media types compare case-insensitively; ours carry no parameters, so a part with any is not ours. */
const sameType = (a: string, b: string): boolean => a.trim().toLowerCase() === b.toLowerCase();

/** The content of the first single part of media type `contentType` (depth first), or undefined. */
export function findPart(content: MimiContent, contentType: string): Uint8Array | undefined {
  const visit = (p: NestedPart): SinglePart | undefined => {
    if (p.cardinality === 1) return sameType(p.contentType, contentType) ? p : undefined;
    if (p.cardinality === 3) {
      for (const q of p.parts) {
        const hit = visit(q);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  return visit(content.body)?.content;
}
