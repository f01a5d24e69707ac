/**
 * A plain folder of images: a new category to annotate. Every image under the folder (recursively,
 * hidden entries skipped) joins one category named after the folder (or `--category`), with an
 * empty keypoint schema the annotation UI fills in. Re-importing picks up new and removed images
 * and never touches annotations or the schema. Files that are not images are listed as skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { IMAGE_EXTENSIONS } from '../images/probe.js';
import { imageFor, type ParsedDataset, type Reader } from './types.js';

export const readFolder: Reader = async (ctx, options) => {
  const { root, problems } = ctx;
  const category = (options.category ?? path.basename(root)).trim();
  if (!category) throw problems.fatal({ file: root }, 'the category name is empty');
  const images: ParsedDataset['images'] = new Map();
  const found: string[] = [];
  // Depth-first, sorted, so ids come out in a stable order.
  const walk = async (dirRel: string) => {
    const abs = dirRel ? path.join(root, ...dirRel.split('/')) : root;
    const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      await ctx.tick();
      const rel = dirRel ? `${dirRel}/${e.name}` : e.name;
      let isDirectory = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = fs.statSync(path.join(abs, e.name));
          if (st.isDirectory()) {
            problems.skip({ file: rel }, 'symbolic link to a directory: not followed');
            continue;
          }
          isFile = st.isFile();
          isDirectory = false;
        } catch {
          problems.skip({ file: rel }, 'broken symbolic link');
          continue;
        }
      }
      if (isDirectory) {
        await walk(rel);
      } else if (isFile) {
        if (IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) found.push(rel);
        else problems.skip({ file: rel }, `not an image (extension '${path.extname(e.name) || 'none'}')`);
      }
    }
  };
  ctx.progress('scanning', 0, 1);
  await walk('');
  ctx.progress('scanning', 1, 1);
  if (found.length === 0) throw problems.fatal({ file: root }, `no images found (looked for ${[...IMAGE_EXTENSIONS].join(' ')})`);
  ctx.progress('reading annotations', 0, found.length);
  for (const rel of found) imageFor(images, rel, category, { file: rel });
  ctx.progress('reading annotations', found.length, found.length);
  return {
    format: 'folder',
    defaultName: path.basename(root),
    source: '',
    categories: [{ name: category, ordinal: 0, keypoints: [], skeleton: [] }],
    images,
    pairs: [],
    userAnnotations: true,
    deriveImageAnnotations: false,
  };
};
