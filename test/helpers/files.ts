import { lstat } from 'node:fs/promises';

/** Whether anything is at `file`: a dangling symlink counts, as a deploy root's `current` may be one. */
export async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}
