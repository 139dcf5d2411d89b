/** Whether a path is a PyTorch checkpoint (by extension, or a zip archive by its first bytes). */
import { promises as fsp } from 'node:fs';
import { looksLikeZip } from './zip.ts';

/** Extensions torch.save files go by; `.bin` is Hugging Face's pytorch_model.bin. */
const TORCH_EXTENSIONS = ['.pt', '.pth', '.bin', '.ckpt', '.pkl'];

export async function isPytorchCheckpointPath(path: string): Promise<boolean> {
  if (path.endsWith('.safetensors') || path.endsWith('.json')) return false;
  if (TORCH_EXTENSIONS.some((e) => path.toLowerCase().endsWith(e))) return true;
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(path, 'r');
    if (!(await handle.stat()).isFile()) return false;
    const head = new Uint8Array(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return looksLikeZip(head.subarray(0, bytesRead));
  } catch {
    return false; // the regular opener reports the problem
  } finally {
    await handle?.close().catch(() => {});
  }
}
