// What franking (docs/franking.md) costs one message, for `npm run bench`: a two-member group of
// the engine; per message, the plain path (encrypt, decrypt) against the franked one (the sender's
// tag and Safe AAD, encrypt, the hub's frank, decrypt, the receiver's check), medians of `n`
// messages measured in the same run.

import { performance } from 'node:perf_hooks';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { decodeContent, encodeContent, textMessage } from '../src-shared/content.js';
import { decodeFrankingAgentData, encodeFrankingAgentData, frankAad, frankingTag, frankProblem, makeFrank } from '../src-shared/franking.js';
import { generateSignatureKeyPair } from '../src-shared/mls-crypto.js';
import { basicCredential } from '../src-shared/mls-structs.js';

export interface FrankingFigures {
  messages: number;
  plainMs: number;
  frankedMs: number;
  /** The franking steps alone (tag, frank, check), without MLS. */
  frankingOnlyMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchFranking(engine: MlsEngine, n = 200): Promise<FrankingFigures> {
  const room = 'mimi://bench.example/r/franking';
  const A = 'mimi://bench.example/u/a';
  const [ka, kb] = await Promise.all(['mimi://bench.example/d/a/1', 'mimi://bench.example/d/b/1'].map((d) => engine.newDeviceKeys(d)));
  let sa = await engine.createGroup(ka, room);
  const [kp] = await engine.generateKeyPackages(kb, 1);
  const add = await sa.add([kp.publicMessage]);
  sa = add.pending;
  let sb = await engine.joinFromWelcome(kb, add.welcome!, kp, (await sa.groupInfo()).ratchetTree);
  const agentKeys = generateSignatureKeyPair();
  const agent = decodeFrankingAgentData(encodeFrankingAgentData({ frankingSignatureKey: agentKeys.publicKey, credential: basicCredential('mimi://bench.example') }));
  const hubKey = crypto.getRandomValues(new Uint8Array(32));
  const plain: number[] = [];
  const franked: number[] = [];
  const only: number[] = [];
  for (let i = 0; i < n; i++) {
    const content = encodeContent(textMessage({ senderUri: A, roomUri: room, text: `message ${i} with some ordinary length to it` }));
    let t = performance.now();
    let e = await sa.encrypt(content);
    sa = e.session;
    sb = (await sb.process(e.message)).session;
    plain.push(performance.now() - t);

    t = performance.now();
    const salt = decodeContent(content).salt;
    const t0 = performance.now();
    const tag = frankingTag(salt, content);
    const aad = frankAad(tag);
    let fOnly = performance.now() - t0;
    e = await sa.encrypt(content, aad);
    sa = e.session;
    const t1 = performance.now();
    const context = { senderUri: A, roomUri: room, acceptedTimestamp: BigInt(Date.now()) };
    const frank = makeFrank({ hubKey, frankingPrivateKey: agentKeys.privateKey, ciphersuite: 1, tag, context });
    fOnly += performance.now() - t1;
    const r = await sb.process(e.message);
    sb = r.session;
    const t2 = performance.now();
    const problem = frankProblem({ frank, context, groupCiphersuite: 1, agent, hubDomain: 'bench.example', authenticatedData: aad, applicationData: content, salt, sender: A, contentSender: A, contentRoom: room, roomUri: room });
    fOnly += performance.now() - t2;
    if (problem) throw new Error(`bench frank does not verify: ${problem}`);
    franked.push(performance.now() - t);
    only.push(fOnly);
  }
  return { messages: n, plainMs: median(plain), frankedMs: median(franked), frankingOnlyMs: median(only) };
}
