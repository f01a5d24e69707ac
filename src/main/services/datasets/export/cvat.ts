/**
 * CVAT for images 1.1 from the export model: a folder with `annotations.xml` and `images/`
 * (copies of the dataset's images): the layout of CVAT's own export, which zipped is what CVAT
 * imports as a dataset; and `labels.json`, the skeleton labels for CVAT's label constructor (Raw),
 * to create the project or task they go into. Every category is a skeleton label (its keypoints the sublabels, its edges
 * the svg's lines), every annotation a `<skeleton>` with all its points: absent ones
 * outside="1", occluded ones occluded="1". See engine/datasets/cvat.ts and docs/formats.md.
 */
import { buildCvat, buildCvatLabels } from '../../../engine/datasets/cvat.js';
import { copyToolImages, toolModel } from './tool-model.js';
import { type ExportWriter, writeText } from './writer.js';

export const cvatWriter: ExportWriter = {
  target: 'folder',
  marker: 'annotations.xml',
  write(model, out) {
    const xml = buildCvat(toolModel(model));
    copyToolImages(model, out);
    writeText(out, 'labels.json', `${JSON.stringify(buildCvatLabels(toolModel(model)), null, 1)}\n`);
    writeText(out, 'annotations.xml', xml);
  },
};
