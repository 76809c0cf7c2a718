// Settings → Backup listens to the core's backup events for one account while it is on screen:
// progress of a backup or restore, and "a new recovery key waits to be shown".
import { onBeforeUnmount, onMounted } from 'vue';
import type { BackupStage, CoreEvent } from '../../../../src-shared/contract.js';
import { api } from '../../api.js';

export interface BackupProgressState {
  operation: 'create' | 'restore';
  stage: BackupStage;
  done: number;
  total: number;
}

export function useBackupEvents(accountId: () => string, on: { progress?(p: BackupProgressState): void; key?(): void }): void {
  let off: (() => void) | null = null;
  onMounted(() => {
    off = api().onEvent((e: CoreEvent) => {
      if (e.type === 'backupProgress' && e.accountId === accountId()) on.progress?.({ operation: e.operation, stage: e.stage, done: e.done, total: e.total });
      else if (e.type === 'backupKey' && e.accountId === accountId()) on.key?.();
    });
  });
  onBeforeUnmount(() => off?.());
}

/** The key as the dialog shows it: groups of four, whatever separators it came with. */
export function keyGroups(key: string): string[] {
  return key.replace(/[\s-]+/g, '').match(/.{1,4}/g) ?? [];
}
