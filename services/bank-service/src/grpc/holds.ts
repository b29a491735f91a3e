// CreateHold, CaptureHold, VoidHold, GetHold (ADR 0015): the verified user
// (caller.ts), the use case (app/holds.ts), the hold as the proto has it.
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import {
  HoldStatus,
  type BankServiceServer,
  type CaptureHoldRequest,
  type CaptureHoldResponse,
  type CreateHoldRequest,
  type CreateHoldResponse,
  type GetHoldRequest,
  type GetHoldResponse,
  type Hold,
  type VoidHoldRequest,
  type VoidHoldResponse,
} from '@wallet/contracts/bank';
import { HoldUseCase } from '../app/holds.js';
import type { HoldRecord } from '../domain/holds.js';
import type { HoldStatusName } from '../domain/errors.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';
import { transferToProto } from './servicer.js';

const HOLD_STATUS: Record<HoldStatusName, HoldStatus> = {
  pending: HoldStatus.HOLD_STATUS_PENDING,
  captured: HoldStatus.HOLD_STATUS_CAPTURED,
  voided: HoldStatus.HOLD_STATUS_VOIDED,
  expired: HoldStatus.HOLD_STATUS_EXPIRED,
};

export function holdToProto(hold: HoldRecord): Hold {
  return {
    id: hold.id,
    senderAccountId: hold.senderAccountId,
    recipientAccountId: hold.recipientAccountId,
    amount: { amountMinor: hold.amountMinor, currencyCode: hold.currency },
    status: HOLD_STATUS[hold.status],
    capturedAmount: hold.capturedMinor === null ? undefined : { amountMinor: hold.capturedMinor, currencyCode: hold.currency },
    transferId: hold.transferId ?? '',
    description: hold.description,
    createdAt: hold.createdAt,
    expiresAt: hold.expiresAt,
    finalizedAt: hold.finalizedAt ?? undefined,
    initiatedBy: hold.initiatedBy ?? '',
  };
}

export function createHoldHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'createHold' | 'captureHold' | 'voidHold' | 'getHold'> {
  const { handle, callers } = deps;
  const holds = new HoldUseCase(deps.operations.context);
  return {
    createHold(call: ServerUnaryCall<CreateHoldRequest, CreateHoldResponse>, callback: sendUnaryData<CreateHoldResponse>) {
      handle('CreateHold', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const result = await holds.createHold(request, caller);
        return { response: { hold: holdToProto(result.hold), replayed: result.replayed }, outcome: result.replayed ? 'replayed' : 'completed' };
      });
    },
    captureHold(call: ServerUnaryCall<CaptureHoldRequest, CaptureHoldResponse>, callback: sendUnaryData<CaptureHoldResponse>) {
      handle('CaptureHold', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const result = await holds.captureHold(request, caller);
        return {
          response: { hold: holdToProto(result.hold), transfer: transferToProto(result.transfer), replayed: result.replayed },
          outcome: result.replayed ? 'replayed' : 'completed',
        };
      });
    },
    voidHold(call: ServerUnaryCall<VoidHoldRequest, VoidHoldResponse>, callback: sendUnaryData<VoidHoldResponse>) {
      handle('VoidHold', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const result = await holds.voidHold(request, caller);
        return { response: { hold: holdToProto(result.hold), replayed: result.replayed }, outcome: result.replayed ? 'replayed' : 'completed' };
      });
    },
    getHold(call: ServerUnaryCall<GetHoldRequest, GetHoldResponse>, callback: sendUnaryData<GetHoldResponse>) {
      handle('GetHold', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        return { response: { hold: holdToProto(await holds.getHold(request, caller)) }, outcome: 'ok' };
      });
    },
  };
}
