/**
 * What the import dialog calls its inputs. The dialog shows these words, and import errors the
 * engine words for the dialog (rather than for the CLI's flags) name the inputs by them, so a hint
 * points at something the user can see. Plain constants: the renderer loads this module.
 */
export const IMPORT_DIALOG_LABELS = {
  format: 'Format',
  root: 'Folder',
  annotations: 'Annotation file',
  category: 'Category',
  name: 'Name',
  skipInvalid: 'Leave invalid entries out',
} as const;
