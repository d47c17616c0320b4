// Builds run `pip wheel` in a process group of their own so that the whole
// tree (pip, the build backend, compilers, anything a setup.py starts) can be
// signalled at once: on timeout, when the master says DONE, and when the
// slave exits for any reason.
import { readdirSync, readFileSync } from 'node:fs';

const live = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Remembers a group so that it is killed if this process exits. */
export function trackGroup(pgid: number): void {
  live.add(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const group of live) signalGroup(group, 'SIGKILL');
    });
  }
}

function untrackGroup(pgid: number): void {
  live.delete(pgid);
}

/** Whether a process exists and is not a zombie waiting to be reaped. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; the name before it may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The members of a process group still running (zombies excluded), from /proc. */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the parenthesised name: state, ppid, pgrp, ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') members.push(Number(name));
    } catch {
      continue;
    }
  }
  return members;
}

/**
 * SIGTERM to the group, then SIGKILL after `graceMs` if anything is left;
 * resolves once no member is running (or after `waitMs`).
 */
export async function killGroup(pgid: number, graceMs = 5000, waitMs = 10_000): Promise<void> {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  if (signalGroup(pgid, 'SIGTERM')) {
    const termDeadline = Date.now() + graceMs;
    while (Date.now() < termDeadline && groupMembers(pgid).length > 0) await sleep(50);
  }
  signalGroup(pgid, 'SIGKILL');
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && groupMembers(pgid).length > 0) await sleep(20);
  untrackGroup(pgid);
}
