/** Keyboard shortcuts of the annotation view (the help overlay and Settings list them). */

export interface Shortcut {
  keys: string[];
  action: string;
}

export const ANNOTATE_SHORTCUTS: { group: string; items: Shortcut[] }[] = [
  {
    group: 'Images',
    items: [
      { keys: ['D', 'PageDown'], action: 'Next image (in the label-next order when it is on)' },
      { keys: ['A', 'PageUp'], action: 'Previous image' },
      { keys: ['C'], action: "Copy the previous image's keypoints" },
    ],
  },
  {
    group: 'Keypoints',
    items: [
      { keys: ['Click'], action: 'Place the current keypoint (then the next unplaced one is current)' },
      { keys: ['Drag a point'], action: 'Move it' },
      { keys: ['E', 'Tab'], action: 'Next keypoint' },
      { keys: ['Q', 'Shift+Tab'], action: 'Previous keypoint' },
      { keys: ['1 … 9'], action: 'Current keypoint by number' },
      { keys: ['V'], action: 'Visible / occluded' },
      { keys: ['Delete', 'Backspace'], action: 'Delete (absent)' },
      { keys: ['Arrow keys'], action: 'Nudge the current keypoint by one pixel (Shift: ten)' },
    ],
  },
  {
    group: 'Suggestions',
    items: [
      { keys: ['S'], action: 'Suggest the unlabelled keypoints of this image' },
      { keys: ['Click a ring', 'Enter'], action: "Accept a suggestion (Enter: the current keypoint's)" },
      { keys: ['Shift+Enter'], action: 'Accept every suggestion from the accept confidence' },
      { keys: ['Drag a ring'], action: 'Accept it where it is dropped (correct it)' },
    ],
  },
  {
    group: 'History and view',
    items: [
      { keys: ['Ctrl+Z'], action: 'Undo' },
      { keys: ['Ctrl+Shift+Z', 'Ctrl+Y'], action: 'Redo' },
      { keys: ['Wheel'], action: 'Zoom at the pointer' },
      { keys: ['Drag the image', 'Space+drag'], action: 'Pan' },
      { keys: ['F'], action: 'Fit the image' },
      { keys: ['+', '-'], action: 'Zoom in / out' },
      { keys: ['?', 'H'], action: 'This help' },
    ],
  },
];
