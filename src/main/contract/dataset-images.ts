/**
 * Adding image files to a folder or COCO dataset from the UI (file picker or drag and drop). The
 * renderer never touches the file system: it sends the files' bytes (base64, in one request per
 * batch, the same way over Electron IPC and over WebSocket) and the engine copies them into the
 * dataset's folder. Plain constants and schemas: the renderer loads this module to check a batch
 * against the same limits before sending it.
 */
import { z } from 'zod';
import { method } from './spec.js';

const MiB = 1024 * 1024;

/** The largest image file one may add (bytes). */
export const MAX_ADDED_IMAGE_BYTES = 32 * MiB;
/**
 * The most bytes of image files one batch (one request) may carry. Base64 makes the request 4/3 of
 * it (85 MiB), below the 128 MiB where Chromium's IPC has refused single messages in Electron
 * releases, and small enough to parse without stalling the engine for long.
 */
export const MAX_ADD_IMAGES_REQUEST_BYTES = 64 * MiB;
/** The most files one batch may carry. */
export const MAX_ADD_IMAGES_FILES = 1000;
/**
 * The largest WebSocket frame the server reads: a batch at the byte limit in base64 (4/3 of it)
 * and JSON, with room above, so that a batch somewhat over the limit still reaches the engine and
 * is answered with TOO_LARGE naming the limit (a frame over this one drops the connection).
 */
export const MAX_API_FRAME_BYTES = 128 * MiB;

/** Extensions an added file may have: those a folder import picks up (engine/images/probe.ts IMAGE_EXTENSIONS). */
export const ADDABLE_IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif'] as const;

/**
 * What happens when a file's name is already taken in the dataset's folder (or twice in the batch):
 * `rename` adds it under the first free name `<stem> (2).<ext>`, `<stem> (3).<ext>`, ...; `refuse`
 * adds nothing and names the taken files.
 */
export const ADD_IMAGE_COLLISIONS = ['rename', 'refuse'] as const;
export type AddImageCollision = (typeof ADD_IMAGE_COLLISIONS)[number];

/** Bytes as a short text for limits in messages ('32 MiB', '1.5 MiB', '900 KiB'). */
export function formatBytes(n: number): string {
  if (n >= MiB) return `${Number((n / MiB).toFixed(1))} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}

/** One image added: where it went, under which name. */
export interface AddedImage {
  id: number;
  /** The stored path, relative to the dataset's root ('images/cat (2).jpg'). */
  path: string;
  /** The file's name as sent. */
  name: string;
  /** Added under another name than `name` (it was taken). */
  renamed: boolean;
  width: number;
  height: number;
}

/** The result of the job `datasets:add-images` starts. */
export interface AddImagesReport {
  datasetId: number;
  /** The absolute folder the files were copied into. */
  folder: string;
  added: AddedImage[];
  bytes: number;
  /** What else the user should know (COCO: the annotation file on disk is not rewritten). */
  note: string | null;
}

export const addImagesArgsSchema = z
  .object({
    datasetId: z.number().int().positive(),
    files: z
      .array(
        z
          .object({
            /** The file's name (no folder). */
            name: z.string().min(1, 'a file has no name').max(1024),
            /** The file's bytes, base64. */
            data: z.string(),
          })
          .strict(),
      )
      .min(1, 'choose at least one image')
      .max(MAX_ADD_IMAGES_FILES, `at most ${MAX_ADD_IMAGES_FILES} files can be added at once; add them in several batches`),
    onCollision: z.enum(ADD_IMAGE_COLLISIONS).default('rename'),
  })
  .strict();

export type AddImagesArgs = z.input<typeof addImagesArgsSchema>;

export const datasetImageMethods = {
  /**
   * Copies image files into a folder or COCO dataset's folder and adds them to the store, as a job
   * (its result is an AddImagesReport). All or nothing: names, sizes and every image's decoding
   * are checked before anything is written, and a failure names the file and writes nothing.
   * Refused at once: a benchmark dataset (read-only), a batch over the limits (TOO_LARGE, naming
   * the limit), a file name that is not an image's, a taken name under `onCollision: 'refuse'`.
   */
  'datasets:add-images': method<{ jobId: string }>()(addImagesArgsSchema),
} as const;
