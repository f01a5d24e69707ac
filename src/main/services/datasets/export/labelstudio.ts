/**
 * Label Studio from the export model: a folder with `tasks.json` (Label Studio's JSON export
 * layout: one task per image, its keypoints as keypointlabels results in percent),
 * `label_config.xml` (the labelling config: one KeyPointLabels per category, with the skeleton and
 * symmetric pairs in an sd4match comment) and `images/` (copies of the dataset's images, which the
 * tasks name as local files: `/data/local-files/?d=images/...`, served when Label Studio's
 * LOCAL_FILES_DOCUMENT_ROOT is this folder). See engine/datasets/labelstudio.ts and docs/formats.md.
 */
import { buildLabelStudio } from '../../../engine/datasets/labelstudio.js';
import { copyToolImages, toolModel } from './tool-model.js';
import { type ExportWriter, writeText } from './writer.js';

export const labelStudioWriter: ExportWriter = {
  target: 'folder',
  marker: 'tasks.json',
  write(model, out) {
    const { tasks, config } = buildLabelStudio(toolModel(model));
    copyToolImages(model, out);
    writeText(out, 'label_config.xml', config);
    writeText(out, 'tasks.json', `${JSON.stringify(tasks, null, 1)}\n`);
  },
};
