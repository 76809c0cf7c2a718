// The client API routes (src-shared/provider-api.ts ROUTES) mapped onto the transport-free logic
// modules: decode and type-check the JSON, authenticate, call accounts / key packages / hub.

import { ROUTES, type ClaimResponse, type RoomInfo } from '../src-shared/provider-api.js';
import type { Accounts, Actor } from './accounts.js';
import { mimiDirectory, DIRECTORY_PATH, MIMI_PREFIX } from './directory.js';
import { ApiFailure } from './errors.js';
import type { Hub } from './hub.js';
import { b64, b64List, optB64, readJsonObject, Router, str, strList, type RouteContext } from './http.js';
import type { KeyPackages } from './key-packages.js';

export interface ClientApiServices {
  accounts: Accounts;
  keyPackages: KeyPackages;
  hub: Hub;
  /** Base URL other providers reach this one at (for the MIMI directory). */
  publicUrl: () => string;
}

/** The push stream path (ROUTES.events), served by the WebSocket upgrade handler. */
export const EVENTS_PATH = ROUTES.events.split(' ')[1];

const REQUEST_ID = { min: 1, max: 128 };
/** Bounds a single request's fan-in (claims, participant changes). */
const MAX_LIST = 1000;

export function clientApiRouter(svc: ClientApiServices): Router {
  const { accounts, keyPackages, hub } = svc;
  const auth = (ctx: RouteContext): Actor => accounts.authenticate(ctx.req.headers.authorization);
  const ok = (body: unknown, status = 200) => ({ status, body });

  const credentials = async (ctx: RouteContext) => {
    const o = await readJsonObject(ctx.req);
    return {
      handle: str(o, 'handle', { max: 64 }),
      password: str(o, 'password', { max: 1024 }),
      deviceName: str(o, 'deviceName', { max: 200 }),
    };
  };

  return new Router()
    .route(ROUTES.health, () => ok({ ok: true }))
    .route(ROUTES.register, async (ctx) => ok(await accounts.register(await credentials(ctx)), 201))
    .route(ROUTES.login, async (ctx) => ok(await accounts.login(await credentials(ctx)), 201))
    .route(ROUTES.me, (ctx) => ok(accounts.me(auth(ctx))))
    .route(ROUTES.uploadKeyPackages, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      return ok(keyPackages.upload(actor.deviceUri, b64List(o, 'keyPackages'), optB64(o, 'lastResort')));
    })
    .route(ROUTES.keyPackageCount, (ctx) => ok(keyPackages.count(auth(ctx).deviceUri)))
    .route(ROUTES.claimKeyPackages, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      const res: ClaimResponse = keyPackages.claim(actor, str(o, 'roomUri'), strList(o, 'users', { max: MAX_LIST }));
      return ok(res);
    })
    .route(ROUTES.createRoom, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      return ok(hub.createRoom(actor, str(o, 'roomUri', { max: 512 })), 201);
    })
    .route(ROUTES.listRooms, (ctx) => ok({ rooms: hub.listRooms(auth(ctx)) satisfies RoomInfo[] }))
    .route(ROUTES.getRoom, (ctx) => ok(hub.getRoom(auth(ctx), ctx.params.roomId)))
    .route(ROUTES.commit, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      return ok(
        hub.commit(actor, ctx.params.roomId, {
          commit: b64(o, 'commit'),
          welcome: optB64(o, 'welcome'),
          groupInfo: b64(o, 'groupInfo'),
          ratchetTree: b64(o, 'ratchetTree'),
          addUsers: strList(o, 'addUsers', { optional: true, max: MAX_LIST }),
          removeUsers: strList(o, 'removeUsers', { optional: true, max: MAX_LIST }),
          removeDevices: strList(o, 'removeDevices', { optional: true, max: MAX_LIST }),
          requestId: str(o, 'requestId', REQUEST_ID),
        }),
      );
    })
    .route(ROUTES.sendMessage, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      return ok(
        hub.sendMessage(actor, ctx.params.roomId, { message: b64(o, 'message'), requestId: str(o, 'requestId', REQUEST_ID) }),
      );
    })
    .route(ROUTES.groupInfo, (ctx) => ok(hub.groupInfo(auth(ctx), ctx.params.roomId)))
    .add('GET', EVENTS_PATH, () => {
      throw new ApiFailure('badRequest', `${EVENTS_PATH} is a WebSocket endpoint (send Upgrade: websocket)`, { status: 426 });
    })
    .add('GET', DIRECTORY_PATH, () => ok(mimiDirectory(svc.publicUrl())))
    .add('*', `${MIMI_PREFIX}/*`, () => {
      throw new ApiFailure('notFound', 'MIMI server-to-server endpoints are not implemented by this provider yet', {
        status: 501,
      });
    });
}
